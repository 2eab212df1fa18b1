import Foundation
import Logging
import SyncCore
import SyncModel

/// Carries erasures through: recorded durably, erased locally (tombstones), GDPR-deleted in the CRM by every
/// record id the subject was linked to, then verified by reads (each id and the address) that must answer 404. Every step is resumable: a crash between any two leaves a
/// request whose state says what is left, and the next `erase` or sync run finishes it.
public struct ErasurePropagator: Sendable {
    let store: any RegisterPort
    let client: any CRMPort
    let clock: any SyncClock
    let maxAttempts: Int
    let baseDelay: Duration
    let logger: Logger

    public init(
        store: any RegisterPort, client: any CRMPort, clock: any SyncClock = SystemClock(), maxAttempts: Int = 4,
        baseDelay: Duration = .milliseconds(500), logger: Logger = .silent("crmsync.erasure")
    ) {
        self.store = store
        self.client = client
        self.clock = clock
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.logger = logger
    }

    /// `crmsync erase`: records the request, erases locally, and (unless `propagate` is false) deletes in
    /// the CRM and verifies at once. Returns the request as it ended.
    public func erase(email: EmailAddress, requestId: String, reason: String?, propagate: Bool = true) async throws
        -> ErasureRequest
    {
        _ = try await store.recordErasureRequest(email: email, requestId: requestId, reason: reason)
        try await store.eraseLocally(requestId: requestId)
        if propagate, let pending = try await store.pendingErasure(requestId: requestId) {
            try await self.propagate(pending)
        }
        return try await store.erasureRequest(id: requestId)!
    }

    /// Finishes every unfinished request; returns how many were verified and the failures (masked).
    @discardableResult
    public func resumeAll() async throws -> (verified: Int, failures: [String]) {
        var verified = 0
        var failures: [String] = []
        for pending in try await store.pendingErasures() {
            try Task.checkCancellation()
            if try await propagate(pending) == .verified {
                verified += 1
            } else {
                let ids = pending.requests.map(\.id).joined(separator: ", ")
                failures.append("\(pending.email.masked): erasure \(ids) not yet verified in the CRM")
            }
        }
        return (verified, failures)
    }

    /// How often, and how long apart, a run waits for another run's claim on sending a subject's deletes.
    static let claimPolls = 150
    static let claimPoll = Duration.milliseconds(200)

    /// A stale CRM copy of an erased subject, found by its address or by the id of a record the subject was
    /// linked to: tombstoned by id, GDPR-deleted by id (which never blocklists an address) and verified by a
    /// read of that id. Returns whether it reads 404; if not, the next pull finds it again.
    ///
    /// A CRM user may have merged another person's record into the copy since: their withdrawals and opt-outs are
    /// read first (one batch read, two status reads when it carries such an address) and written back after the
    /// delete, as for an erasure (not held in the store: a stale copy has no outbox entry).
    func eraseStaleCopy(crmId: String) async throws -> Bool {
        try await store.tombstoneStaleCopy(crmId: crmId)
        do {
            let records = try await client.batchRead([crmId], properties: ["email"]).found.values
            let others = try await decisions(under: othersAddresses(on: Array(records), of: nil))
            try await client.gdprDelete(crmId: crmId)
            try await writeBack(others)
            return try await client.isErased(crmId: crmId)
        } catch let error as any CRMError where !error.isDailyLimit {
            return false
        }
    }

    /// One request from wherever it stands to `verified` (or `failed`, to be retried later: the delete if it
    /// was never accepted, else only the verification read).
    @discardableResult
    func propagate(_ pending: PendingErasure) async throws -> ErasureState {
        // Every unfinished request for the subject moves on together (a second request joins the first).
        let ids = pending.requests.map(\.id)
        let email = pending.email
        for request in pending.requests where request.state == .received {
            try await store.eraseLocally(requestId: request.id)
        }
        // Once the CRM accepted a delete, later attempts only verify: a second delete by email that matches no
        // record any more would blocklist the address. A failed verification (index lag) keeps `sentAt`.
        var sent = pending.requests.contains { $0.sentAt != nil }
        var crmIds = pending.crmIds
        var attempt = 0
        var waits = 0
        // A sync and an `erase` may carry the same request at once (edit commands never wait for a sync): the
        // deletes go out only under a claim taken in a store transaction, so they are sent once.
        var claimed = false
        // A subject the CRM never held a record of is deleted by email, which reads the same (404) before and
        // after: a read cannot prove that delete went out.
        var needsDeleteByEmail: Bool { crmIds.isEmpty && pending.deletesByEmail }
        // The attempts; a claim still held when they end (returned or thrown) is let go.
        func attempts() async throws -> ErasureState {
            while true {
                attempt += 1
                do {
                    if !sent {
                        switch try await store.claimErasureDeletes(of: pending.email) {
                        case .heldByAnother:
                            // The other run is sending them now: wait for it (briefly), then only verify.
                            attempt -= 1
                            waits += 1
                            guard waits <= Self.claimPolls else { return .pending }
                            try await clock.sleep(for: Self.claimPoll)
                            continue
                        case .alreadySent:
                            sent = true
                        case .takenOver:
                            claimed = true
                            // Its holder died while sending: the deletes may have gone through, so read first (a
                            // delete by email leaves nothing to read, so it is sent again: blocklisting is its point).
                            if !needsDeleteByEmail, try await deletesTookEffect(email: email, crmIds: crmIds) {
                                try await store.updateErasures(ids, state: .sent)
                                sent = true
                                claimed = false
                            }
                        case .claimed:
                            claimed = true
                        }
                    }
                    if !sent {
                        crmIds = try await sendDeletes(pending, crmIds: crmIds)
                        logger.info(
                            "erasure: GDPR deletes sent",
                            metadata: [
                                "erasure.requests": "\(ids.joined(separator: ","))",
                                "erasure.subject": "\(pending.email.masked)",
                                "erasure.crmRecords": "\(crmIds.count)",
                            ])
                        try await store.updateErasures(ids, state: .sent)
                        sent = true
                        claimed = false
                    }
                    // Objections of other people a delete took and a killed (or given-up) run did not write back yet.
                    try await writeBackHeldObjections(of: email)
                    if try await isErasedEverywhere(email: email, crmIds: crmIds) {
                        try await store.updateErasures(ids, state: .verified)
                        logger.info(
                            "erasure: verified in the CRM",
                            metadata: [
                                "erasure.requests": "\(ids.joined(separator: ","))", "erasure.attempts": "\(attempt)",
                            ])
                        return .verified
                    }
                    logger.notice(
                        "erasure: still readable after the GDPR delete; will verify again",
                        metadata: [
                            "erasure.requests": "\(ids.joined(separator: ","))", "erasure.attempt": "\(attempt)",
                        ])
                    try await store.updateErasures(
                        ids, state: .failed, error: "still readable after the GDPR delete; verified again, not resent")
                } catch let error as any CRMError where !error.isDailyLimit {
                    try await store.updateErasures(
                        ids, state: .failed,
                        error: error.summary)
                    // An ambiguous failure: the delete may have gone through. Read before sending again.
                    if !sent, !needsDeleteByEmail, (try? await deletesTookEffect(email: email, crmIds: crmIds)) == true
                    {
                        try await store.updateErasures(ids, state: .sent)
                        sent = true
                        claimed = false
                        continue
                    }
                }
                if claimed {
                    try await store.releaseErasureClaim(of: pending.email)
                    claimed = false
                }
                guard attempt < maxAttempts else { return .failed }
                try await backOff(after: attempt)
            }
        }
        let state: ErasureState
        do {
            state = try await attempts()
        } catch {
            if claimed { try? await store.releaseErasureClaim(of: pending.email) }
            throw error
        }
        if claimed { try? await store.releaseErasureClaim(of: pending.email) }
        return state
    }

    /// The wait after failed attempt `attempt` (1 first): `baseDelay`, doubling each time.
    private func backOff(after attempt: Int) async throws {
        try await clock.sleep(for: baseDelay * Int(Int64(1) << Int64(min(attempt - 1, 10))))
    }

    /// The GDPR deletes: by id for every record the subject was linked to (a merged id deletes its survivor)
    /// and for a record the CRM holds under the address; by email when neither exists and the subject was not
    /// erased before, so HubSpot blocklists the address as it does for an unknown subject, and for a spelling of the
    /// address no record carries under which HubSpot still holds the subject's statuses. Deleting by id never
    /// blocklists: an address the CRM changed, or one already erased, is left off the blocklist unless HubSpot keeps
    /// the subject's statuses under it.
    private func sendDeletes(_ pending: PendingErasure, crmIds: [String]) async throws -> [String] {
        var crmIds = crmIds
        var held: [String] = []
        var added: Set<String> = []  // records whose merged ids the erasure has already released
        // HubSpot compares addresses as text: an internationalised address is looked for in both spellings.
        for spelling in pending.email.spellings {
            if let record = try await client.contact(email: spelling, properties: ["email"]) {
                held.append(spelling)
                if !crmIds.contains(record.id) {
                    try await store.addCRMRecords(
                        [record.id], mergedFrom: record.mergedIds, toErasureOf: pending.email,
                        requestId: pending.request.id)
                    crmIds.append(record.id)
                    added.insert(record.id)
                }
            }
        }
        // The records the deletes take, as HubSpot has them now: a linked id may read as the survivor of a merge made
        // since, whose other merged ids may be other contacts' links (they lose them with it, as after a merge found by
        // address), and whose other addresses may be other people's.
        // (Several linked ids may read as one survivor: each record once.)
        let found = crmIds.isEmpty ? [:] : try await client.batchRead(crmIds, properties: ["email"]).found
        let records = Dictionary(found.values.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }).values
            .sorted { $0.id < $1.id }
        for survivor in records where !survivor.mergedIds.isEmpty && !added.contains(survivor.id) {
            try await store.addCRMRecords(
                [survivor.id], mergedFrom: survivor.mergedIds, toErasureOf: pending.email, requestId: pending.request.id
            )
            if !crmIds.contains(survivor.id) { crmIds.append(survivor.id) }
        }
        // Kept in the erasure before the delete takes them: a run killed before they are written back leaves them to
        // the erasure's next attempt.
        try await store.holdObjections(
            try await decisions(under: othersAddresses(on: records, of: pending.email)), forErasureOf: pending.email)
        for crmId in crmIds { try await client.gdprDelete(crmId: crmId) }
        try await writeBackHeldObjections(of: pending.email)
        if crmIds.isEmpty && pending.deletesByEmail {
            for spelling in pending.email.spellings { try await client.gdprDelete(email: spelling) }
        } else if case let unheld = pending.email.spellings.filter({ !held.contains($0) }), !unheld.isEmpty {
            // HubSpot keeps statuses per address, as text, with or without a record: under the address when the
            // linked record is gone (someone deleted it; the subject decided there since) or moved to another
            // address, under a spelling of an internationalised address no record carries, or under an address a
            // second request names after the subject was erased. Those are the subject's too, and only a delete by
            // email removes them.
            try await deleteStatusesLeftWithoutRecord(unheld)
        }
        return crmIds
    }

    /// The objections another person holds in HubSpot under an address one of `crmIds` carries besides the subject's:
    /// a GDPR delete takes every address's statuses with the record, so they are read before it and written back after
    /// it. An address is another person's when another contact of the register holds it, when it is the own
    /// address of a merge survivor that carries the subject's address only as a secondary one (a CRM user merged the
    /// subject's record into that person's), or when it was merged in from another record (another person's, or the
    /// subject's own duplicate: its objections stay as a suppression, an unsubscribed address with no record). The
    /// address the CRM moved the subject to is taken for the subject's and deleted with them. Only
    /// withdrawals and opt-outs are kept: written back they carry a new time, which must never let an old grant beat a
    /// withdrawal made since (a grant lost here comes back from the register if it holds it).
    private func othersAddresses(on records: [CRMContact], of subject: EmailAddress?) async throws -> [String] {
        var others: Set<String> = []
        for record in records {
            let primary = record.email.flatMap { try? EmailAddress($0) }
            let subjectIsSecondary =
                subject.map { subject in
                    primary?.normalized != subject.normalized && !record.mergedIds.isEmpty
                        && record.additionalEmails.contains {
                            (try? EmailAddress($0))?.normalized == subject.normalized
                        }
                } ?? false
            for address in record.addresses {
                guard let parsed = try? EmailAddress(address), parsed.normalized != subject?.normalized,
                    try await !store.isErased(parsed)
                else { continue }
                let survivorsOwn = subjectIsSecondary && parsed.normalized == primary?.normalized
                // Merged in from another record: it may be the subject's own duplicate or another person's; kept as
                // a suppression (an objection with no record) rather than risk losing a person's objection.
                let mergedIn =
                    !record.mergedIds.isEmpty && parsed.normalized != primary?.normalized
                    && record.additionalEmails.contains { (try? EmailAddress($0))?.normalized == parsed.normalized }
                if survivorsOwn || mergedIn {
                    others.insert(address)
                } else if try await store.contact(email: parsed) != nil {
                    others.insert(address)
                }
            }
        }
        return others.sorted()
    }

    /// The withdrawals and opt-outs HubSpot holds under `addresses` (two reads, none for no address).
    private func decisions(under addresses: [String]) async throws -> HeldObjections {
        guard !addresses.isEmpty else { return HeldObjections() }
        let statuses = try await client.subscriptionStatuses(for: addresses)
        let optedOut = try await client.optedOutOfAll(addresses)
        let withdrawals = addresses.flatMap { address in
            (statuses[address] ?? []).filter { $0.state == .withdrawn }.map {
                HeldObjections.Withdrawal(
                    email: address, subscriptionId: $0.subscriptionId, legalBasis: $0.legalBasis,
                    legalBasisExplanation: $0.legalBasisExplanation)
            }
        }
        return HeldObjections(withdrawals: withdrawals, optedOut: addresses.filter { optedOut[$0] != nil })
    }

    /// Writes back the objections the subject's erasure holds for other people (statuses first: an opt-out of all
    /// email written after them stands), then lets go of them. A failure is retried (with the propagator's backoff),
    /// then logged and thrown: they stay held, and the erasure's next attempt (this run's or a later one's) writes
    /// them before it verifies.
    private func writeBackHeldObjections(of subject: EmailAddress) async throws {
        guard var held = try await store.heldObjections(ofErasureOf: subject), !held.isEmpty else { return }
        // An address erased since it was read (its own erasure) gets nothing back: HubSpot holds nothing of it.
        let erased = try await store.erasedAddresses(
            among: (held.withdrawals.map(\.email) + held.optedOut).compactMap { try? EmailAddress($0) })
        func isErased(_ address: String) -> Bool {
            (try? EmailAddress(address)).map { erased.contains($0.normalized) } ?? false
        }
        held.withdrawals = held.withdrawals.filter { !isErased($0.email) }
        held.optedOut = held.optedOut.filter { !isErased($0) }
        try await writeBack(held)
        try await store.releaseHeldObjections(ofErasureOf: subject)
    }

    /// Writes `held` (another person's objections a delete took) back, statuses first; retried with the
    /// propagator's backoff, then logged and thrown.
    private func writeBack(_ held: HeldObjections) async throws {
        guard !held.isEmpty else { return }
        let addresses = Set(held.withdrawals.map(\.email) + held.optedOut).count
        var attempt = 0
        while true {
            attempt += 1
            do {
                var refused = 0
                if !held.withdrawals.isEmpty {
                    refused = try await client.writeSubscriptionStatuses(
                        held.withdrawals.map {
                            SubscriptionWrite(
                                email: $0.email, subscriptionId: $0.subscriptionId, state: .withdrawn,
                                legalBasis: $0.legalBasis, legalBasisExplanation: $0.legalBasisExplanation)
                        }
                    ).failures.count
                }
                if !held.optedOut.isEmpty { try await client.unsubscribeFromAll(held.optedOut) }
                logger.notice(
                    "erasure: a deleted record carried another person's address; their objections were written back",
                    metadata: ["erasure.addresses": "\(addresses)", "erasure.refusedWrites": "\(refused)"])
                return
            } catch let error as any CRMError where !error.isDailyLimit && attempt < maxAttempts {
                try await backOff(after: attempt)
            } catch {
                logger.error(
                    "erasure: another person's objections could not be written back yet; the erasure keeps them",
                    metadata: ["erasure.addresses": "\(addresses)"])
                throw error
            }
        }
    }

    /// GDPR-deletes by email each of `spellings` (no live record holds any: the caller read them) under which
    /// HubSpot still holds a subscription status or an opt-out (two reads; the delete blocklists the address, as for
    /// an unknown subject).
    private func deleteStatusesLeftWithoutRecord(_ spellings: [String]) async throws {
        let statuses = try await client.subscriptionStatuses(for: spellings)
        let optedOut = try await client.optedOutOfAll(spellings)
        for spelling in spellings
        where optedOut[spelling] != nil || (statuses[spelling] ?? []).contains(where: { $0.state != .unknown }) {
            try await client.gdprDelete(email: spelling)
        }
    }

    /// Whether the deletes a run may already have sent (one that died while sending, or whose answer was lost)
    /// took effect: every id and the address read 404. Then, as the deletes would have, the statuses HubSpot may
    /// still hold under the address are removed (the run may have died between its delete by id and that one).
    private func deletesTookEffect(email: EmailAddress, crmIds: [String]) async throws -> Bool {
        guard try await isErasedEverywhere(email: email, crmIds: crmIds) else { return false }
        try await deleteStatusesLeftWithoutRecord(email.spellings)
        return true
    }

    /// The verification: every CRM id and the address, in each of its spellings, read 404.
    private func isErasedEverywhere(email: EmailAddress, crmIds: [String]) async throws -> Bool {
        for crmId in crmIds where try await !client.isErased(crmId: crmId) { return false }
        for spelling in email.spellings where try await !client.isErased(email: spelling) { return false }
        return true
    }
}
