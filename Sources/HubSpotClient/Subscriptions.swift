import Foundation
import SyncCore
import SyncModel

/// A subscription type as HubSpot's JSON has it: the legacy v3 answer sends the id as `"7"`, the date versions as `7`.
struct HubSpotSubscriptionDefinition: Decodable, Sendable {
    var definition: SubscriptionDefinition

    enum CodingKeys: String, CodingKey { case id, name, isActive }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let id =
            if let number = try? container.decode(Int64.self, forKey: .id) {
                String(number)
            } else {
                try container.decode(String.self, forKey: .id)
            }
        definition = SubscriptionDefinition(
            id: id, name: try container.decodeIfPresent(String.self, forKey: .name) ?? "",
            isActive: try container.decodeIfPresent(Bool.self, forKey: .isActive))
    }
}

/// One subscription status of one address as v4 has it: `SUBSCRIBED`, `UNSUBSCRIBED` or `NOT_SPECIFIED`.
struct HubSpotSubscriptionStatus: Decodable, Sendable {
    var subscriptionId: Int
    var status: String
    var timestamp: Date?
    var legalBasis: String?
    var legalBasisExplanation: String?
    var source: String?

    /// `NOT_SPECIFIED` (or anything else) is no decision.
    var subscriptionStatus: SubscriptionStatus {
        let state: ConsentState =
            switch status {
            case "SUBSCRIBED": .granted
            case "UNSUBSCRIBED": .withdrawn
            default: .unknown
            }
        return SubscriptionStatus(
            subscriptionId: subscriptionId, state: state,
            timestamp: timestamp, legalBasis: legalBasis, legalBasisExplanation: legalBasisExplanation, source: source)
    }

    /// A decision as the `statusState` of a write.
    static func statusState(_ state: ConsentState) -> String {
        switch state {
        case .granted: "SUBSCRIBED"
        case .withdrawn: "UNSUBSCRIBED"
        case .unknown: "NOT_SPECIFIED"
        }
    }
}

extension HubSpotClient {
    /// The portal's subscription types.
    public func subscriptionDefinitions() async throws -> [SubscriptionDefinition] {
        struct Legacy: Decodable { var subscriptionDefinitions: [HubSpotSubscriptionDefinition] }
        struct Dated: Decodable { var results: [HubSpotSubscriptionDefinition] }
        let call = Call(method: "GET", to: .subscriptionDefinitions)
        if configuration.apiVersion.definitionsAreV4Shaped {
            return try await perform(call, as: Dated.self).results.map(\.definition)
        }
        return try await perform(call, as: Legacy.self).subscriptionDefinitions.map(\.definition)
    }

    /// v4 statuses per address (lower-cased), 100 addresses per request.
    public func subscriptionStatuses(for emails: [String]) async throws -> [String: [SubscriptionStatus]] {
        struct Result: Decodable, Sendable {
            var subscriberIdString: String
            var statuses: [HubSpotSubscriptionStatus]
        }
        struct Body: Encodable { var inputs: [String] }
        var statuses: [String: [SubscriptionStatus]] = [:]
        for chunk in emails.chunked(into: 100) {
            try Task.checkCancellation()
            let envelope = try await perform(
                Call(
                    method: "POST", to: .statuses(.batchRead), query: [("channel", "EMAIL")],
                    body: try Self.body(Body(inputs: chunk.map { $0.lowercased() }))),
                as: BatchEnvelope<Result>.self)
            for result in envelope.results {
                statuses[result.subscriberIdString.lowercased()] = result.statuses.map(\.subscriptionStatus)
            }
        }
        return statuses
    }

    /// Writes v4 statuses, 100 per request; failures are reported per input, and HubSpot's time for each status it
    /// wrote is returned. Safe to replay.
    public func writeSubscriptionStatuses(_ writes: [SubscriptionWrite]) async throws -> SubscriptionWriteOutcome {
        struct Input: Encodable {
            var subscriberIdString: String
            var subscriptionId: Int
            var channel = "EMAIL"
            var statusState: String
            var legalBasis: String?
            var legalBasisExplanation: String?
        }
        struct Body: Encodable { var inputs: [Input] }
        struct Written: Decodable, Sendable {
            var subscriberIdString: String
            var subscriptionId: Int
            var timestamp: Date?
        }
        var outcome = SubscriptionWriteOutcome()
        for chunk in writes.chunked(into: 100) {
            try Task.checkCancellation()
            let inputs = chunk.map {
                Input(
                    subscriberIdString: $0.email.lowercased(), subscriptionId: $0.subscriptionId,
                    statusState: HubSpotSubscriptionStatus.statusState($0.state),
                    legalBasis: $0.legalBasis, legalBasisExplanation: $0.legalBasisExplanation)
            }
            let envelope = try await perform(
                Call(method: "POST", to: .statuses(.batchWrite), body: try Self.body(Body(inputs: inputs))),
                as: BatchEnvelope<Written>.self)
            let done = Set(envelope.results.map { "\($0.subscriberIdString.lowercased())#\($0.subscriptionId)" })
            for written in envelope.results {
                guard let at = written.timestamp else { continue }
                outcome.writtenAt[
                    WrittenStatus(email: written.subscriberIdString, subscriptionId: written.subscriptionId)] =
                    at
            }
            for write in chunk where !done.contains("\(write.email.lowercased())#\(write.subscriptionId)") {
                let error = envelope.errors?.first { $0.context?.ids?.contains(write.email) == true }
                outcome.failures.append(
                    BatchFailure.hubSpot(
                        key: write.email.lowercased(), category: error?.category ?? "MISSING_RESULT",
                        message: "subscription \(write.subscriptionId) not written"))
            }
        }
        return outcome
    }

    /// Opts addresses out of all email (the notice's objection to direct marketing). Safe to replay. HubSpot's
    /// answer lists each address's subscription statuses, not the opt-out's own time: read that with
    /// ``optedOutOfAll(_:)``.
    public func unsubscribeFromAll(_ emails: [String]) async throws {
        struct Body: Encodable { var inputs: [String] }
        for chunk in emails.chunked(into: 100) {
            try Task.checkCancellation()
            _ = try await perform(
                Call(
                    method: "POST", to: .statuses(.unsubscribeAll), query: [("channel", "EMAIL")],
                    body: try Self.body(Body(inputs: chunk.map { $0.lowercased() })))
            ) { _ in () }
        }
    }

    /// When each address opted out of all email, for those that did and whose opt-out HubSpot dates
    /// (lower-cased keys). An opt-out without a time is left out rather than given one: the caller treats
    /// an unknown time as the newest, never as the oldest.
    public func optedOutOfAll(_ emails: [String]) async throws -> [String: Date] {
        struct Wide: Decodable, Sendable {
            var status: String
            var timestamp: Date?
            var wideStatusType: String?
        }
        struct Result: Decodable, Sendable {
            var subscriberIdString: String
            var wideStatuses: [Wide]
        }
        struct Body: Encodable { var inputs: [String] }
        var optedOut: [String: Date] = [:]
        for chunk in emails.chunked(into: 100) {
            try Task.checkCancellation()
            let envelope = try await perform(
                Call(
                    method: "POST", to: .statuses(.unsubscribeAllRead),
                    query: [("channel", "EMAIL")],
                    body: try Self.body(Body(inputs: chunk.map { $0.lowercased() }))),
                as: BatchEnvelope<Result>.self)
            for result in envelope.results {
                if let wide = result.wideStatuses.first(where: { $0.status == "UNSUBSCRIBED" }),
                    let timestamp = wide.timestamp
                {
                    optedOut[result.subscriberIdString.lowercased()] = timestamp
                }
            }
        }
        return optedOut
    }
}
