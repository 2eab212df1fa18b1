import Foundation
import SyncCore
import SyncModel

extension HubSpotClient {
    /// Properties a write must never carry (read-only in HubSpot, or consent that belongs to the
    /// subscription API).
    static let forbiddenWriteProperties: Set<String> = [
        "hs_object_id", "createdate", "lastmodifieddate", "hs_email_optout", "hs_marketable_status",
        "hs_merged_object_ids", "hs_additional_emails",
    ]

    /// Creates or updates contacts by email, 100 per request.
    ///
    /// HubSpot refuses a whole upsert batch for one bad input, so inputs are validated first (a malformed
    /// email is reported without being sent) and a refused batch is split in halves until the bad inputs
    /// stand alone: the good ones are written, the bad ones reported. Safe to retry: replaying an upsert
    /// by email writes the same values.
    public func upsertByEmail(_ inputs: [ContactUpsert]) async throws -> BatchOutcome {
        var outcome = BatchOutcome()
        var valid: [ContactUpsert] = []
        for input in inputs {
            if let problem = Self.preflight(email: input.email, properties: input.properties) {
                outcome.failures.append(problem)
            } else {
                valid.append(input)
            }
        }
        // Up to `maxBatchesInFlight` batches at once: one batch's latency no longer caps the rate below the limit.
        try await withThrowingTaskGroup(of: BatchOutcome.self) { group in
            var inFlight = 0
            for chunk in valid.chunked(into: 100) {
                try Task.checkCancellation()
                if inFlight == Self.maxBatchesInFlight, let done = try await group.next() {
                    outcome.merge(done)
                    inFlight -= 1
                }
                group.addTask {
                    var part = BatchOutcome()
                    try await self.upsert(Array(chunk), into: &part)
                    return part
                }
                inFlight += 1
            }
            for try await done in group { outcome.merge(done) }
        }
        return outcome
    }

    /// Batch writes of one call that may be in flight at once.
    static let maxBatchesInFlight = 4

    static func preflight(email: String, properties: [String: String]) -> BatchFailure? {
        do {
            _ = try EmailAddress(email)
        } catch {
            return BatchFailure.hubSpot(key: email, category: "INVALID_EMAIL", message: "email \(error.problem)")
        }
        if let forbidden = properties.keys.first(where: forbiddenWriteProperties.contains) {
            return BatchFailure.hubSpot(
                key: email, category: "READ_ONLY_VALUE", message: "\(forbidden) cannot be written by a contact upsert")
        }
        return nil
    }

    private func upsert(_ chunk: [ContactUpsert], into outcome: inout BatchOutcome) async throws {
        struct Input: Encodable {
            var id: String
            var idProperty = "email"
            var properties: [String: String]
            var objectWriteTraceId: String
        }
        struct Body: Encodable { var inputs: [Input] }
        let body = try Self.body(
            Body(
                inputs: chunk.enumerated().map {
                    Input(
                        id: $0.element.email.lowercased(), properties: $0.element.properties,
                        objectWriteTraceId: "e\($0.offset)")
                }))
        do {
            let envelope = try await perform(
                Call(method: "POST", to: .contactsBatch(.upsert), body: body),
                as: BatchEnvelope<HubSpotContact>.self)
            var byEmail: [String: CRMContact] = [:]
            for record in envelope.results.map(\.contact) {
                if let email = record.email?.lowercased() { byEmail[email] = record }
            }
            // A 207 (HubSpot may answer per input, e.g. for the portal's required properties): tie each error
            // to its input by trace id, else by the ids it names.
            var refused: [String: BatchFailure] = [:]
            for error in envelope.errors ?? [] {
                var keys: [String] = []
                if let trace = error.objectWriteTraceId, let index = Int(trace.dropFirst()),
                    chunk.indices.contains(index)
                {
                    keys = [chunk[index].email.lowercased()]
                } else {
                    keys = (error.context?.ids ?? []).map { $0.lowercased() }
                }
                for key in keys {
                    refused[key] = BatchFailure.hubSpot(
                        key: key, category: error.category ?? "VALIDATION_ERROR", message: "refused by HubSpot (207)",
                        requiredProperties: error.requiredProperties)
                }
            }
            for input in chunk {
                let key = input.email.lowercased()
                if let record = byEmail[key] {
                    outcome.written[key] = record
                } else if let failure = refused[key] {
                    outcome.failures.append(failure)
                } else {
                    outcome.failures.append(
                        BatchFailure.hubSpot(
                            key: key, category: "MISSING_RESULT", message: "HubSpot returned no result for this input"))
                }
            }
        } catch let error as HubSpotError where error.status == 400 || error.status == 409 {
            guard chunk.count > 1 else {
                outcome.failures.append(
                    BatchFailure.hubSpot(
                        key: chunk[0].email.lowercased(), category: error.category ?? "VALIDATION_ERROR",
                        message: "refused by HubSpot (\(error.status ?? 0))",
                        requiredProperties: error.requiredProperties))
                return
            }
            let middle = chunk.count / 2
            try await upsert(Array(chunk[..<middle]), into: &outcome)
            try await upsert(Array(chunk[middle...]), into: &outcome)
        }
    }

    /// Categories of a failed batch input worth sending again.
    static let retryableCategories: Set<String> = ["RATE_LIMITS", "INTERNAL_ERROR", "TIMEOUT", "SERVICE_UNAVAILABLE"]

    /// Updates contacts by id, 100 per request. On a 207 only the failed inputs whose category is
    /// retryable are sent again; inputs that succeeded are never resent; the rest are reported.
    public func update(_ inputs: [ContactUpdate]) async throws -> BatchOutcome {
        var outcome = BatchOutcome()
        var pending: [ContactUpdate] = []
        for input in inputs {
            if let forbidden = input.properties.keys.first(where: Self.forbiddenWriteProperties.contains) {
                outcome.failures.append(
                    BatchFailure.hubSpot(
                        key: input.id, category: "READ_ONLY_VALUE", message: "\(forbidden) cannot be written"))
            } else {
                pending.append(input)
            }
        }
        for chunk in pending.chunked(into: 100) {
            var remaining = Array(chunk)
            var round = 0
            while !remaining.isEmpty {
                try Task.checkCancellation()
                round += 1
                remaining = try await updateIsolating(
                    remaining, into: &outcome, finalRound: round >= self.retry.maxAttempts)
            }
        }
        return outcome
    }

    /// Sends one batch update; a batch refused whole (`400`, as the portal's required properties may do)
    /// is split in halves until the refused inputs stand alone. Returns the inputs to send again.
    private func updateIsolating(_ chunk: [ContactUpdate], into outcome: inout BatchOutcome, finalRound: Bool)
        async throws -> [ContactUpdate]
    {
        do {
            return try await updateOnce(chunk, into: &outcome, finalRound: finalRound)
        } catch let error as HubSpotError where error.status == 400 {
            guard chunk.count > 1 else {
                outcome.failures.append(
                    BatchFailure.hubSpot(
                        key: chunk[0].id, category: error.category ?? "VALIDATION_ERROR",
                        message: "refused by HubSpot (400)",
                        requiredProperties: error.requiredProperties))
                return []
            }
            let middle = chunk.count / 2
            let first = try await updateIsolating(Array(chunk[..<middle]), into: &outcome, finalRound: finalRound)
            let second = try await updateIsolating(Array(chunk[middle...]), into: &outcome, finalRound: finalRound)
            return first + second
        }
    }

    /// Sends one batch update; returns the inputs to send again.
    private func updateOnce(_ chunk: [ContactUpdate], into outcome: inout BatchOutcome, finalRound: Bool) async throws
        -> [ContactUpdate]
    {
        struct Input: Encodable {
            var id: String
            var properties: [String: String]
            var objectWriteTraceId: String
        }
        struct Body: Encodable { var inputs: [Input] }
        let traced = chunk.enumerated().map {
            Input(id: $0.element.id, properties: $0.element.properties, objectWriteTraceId: "u\($0.offset)")
        }
        let envelope = try await perform(
            Call(method: "POST", to: .contactsBatch(.update), body: try Self.body(Body(inputs: traced))),
            as: BatchEnvelope<HubSpotContact>.self)
        var accounted: Set<Int> = []
        for record in envelope.results.map(\.contact) {
            guard let trace = record.traceId, let index = Int(trace.dropFirst()),
                chunk.indices.contains(index)
            else { continue }
            outcome.written[chunk[index].id] = record
            accounted.insert(index)
        }
        var again: [ContactUpdate] = []
        for error in envelope.errors ?? [] {
            let indices: [Int]
            if let trace = error.objectWriteTraceId, let index = Int(trace.dropFirst()) {
                indices = [index]
            } else {
                let ids = Set(error.context?.ids ?? [])
                indices = chunk.indices.filter { ids.contains(chunk[$0].id) }
            }
            for index in indices where chunk.indices.contains(index) && !accounted.contains(index) {
                accounted.insert(index)
                let category = error.category ?? "UNKNOWN"
                if Self.retryableCategories.contains(category) && !finalRound {
                    again.append(chunk[index])
                } else {
                    outcome.failures.append(
                        BatchFailure.hubSpot(
                            key: chunk[index].id, category: category, message: "not updated",
                            requiredProperties: error.requiredProperties))
                }
            }
        }
        for index in chunk.indices where !accounted.contains(index) {
            outcome.failures.append(
                BatchFailure.hubSpot(
                    key: chunk[index].id, category: "MISSING_RESULT",
                    message: "HubSpot returned no result for this input"))
        }
        return again
    }

    /// Archives contacts by id (restorable in HubSpot for 90 days), 100 per request.
    public func archive(ids: [String]) async throws {
        struct Input: Encodable { var id: String }
        struct Body: Encodable { var inputs: [Input] }
        for chunk in ids.chunked(into: 100) {
            try Task.checkCancellation()
            let body = try Self.body(Body(inputs: chunk.map(Input.init)))
            _ = try await perform(Call(method: "POST", to: .contactsBatch(.archive), body: body)) { _ in
                ()
            }
        }
    }

    /// Permanently deletes a subject by email (GDPR delete). When no contact has the email, HubSpot
    /// blocklists the address. Not retried on an ambiguous failure: a replay would blocklist the address;
    /// erasure propagation verifies with ``isErased(email:)`` and sends again when needed.
    public func gdprDelete(email: String) async throws {
        struct Body: Encodable {
            var objectId: String
            var idProperty = "email"
        }
        let body = try Self.body(Body(objectId: email.lowercased()))
        _ = try await perform(
            Call(method: "POST", to: .contactsGDPRDelete, body: body, safety: .unsafe)
        ) { _ in () }
    }

    /// The verification read after a GDPR delete: true when HubSpot answers 404 for the email.
    public func isErased(email: String) async throws -> Bool {
        try await contact(email: email, properties: ["email"]) == nil
    }

    /// Permanently deletes the record with `crmId` (GDPR delete by id; a merged id deletes its survivor).
    /// Never blocklists an address, so a replay is harmless (retried like a read); an id HubSpot no longer
    /// knows answers 404, reported as `false`.
    @discardableResult
    public func gdprDelete(crmId: String) async throws -> Bool {
        struct Body: Encodable { var objectId: String }
        let body = try Self.body(Body(objectId: crmId))
        do {
            _ = try await perform(Call(method: "POST", to: .contactsGDPRDelete, body: body)) { _ in ()
            }
            return true
        } catch let error as HubSpotError where error.isNotFound {
            return false
        }
    }

    /// The verification read after a GDPR delete by id: true when HubSpot answers 404 for the id.
    public func isErased(crmId: String) async throws -> Bool {
        try await contact(id: crmId, properties: ["email"]) == nil
    }
}
