import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Synchronization
import Testing

/// A transport that drops the time HubSpot gives an opt-out of all email, as a portal may: the wide status
/// says UNSUBSCRIBED with no timestamp.
final class UntimedOptOutTransport: HTTPTransport {
    let inner: any HTTPTransport

    init(inner: any HTTPTransport) { self.inner = inner }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let response = try await inner.send(request)
        guard request.url.path.hasSuffix("/unsubscribe-all/read"),
            var object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let results = object["results"] as? [[String: Any]]
        else { return response }
        object["results"] = results.map { result -> [String: Any] in
            var result = result
            result["wideStatuses"] = (result["wideStatuses"] as? [[String: Any]] ?? []).map { wide in
                wide.filter { $0.key != "timestamp" }
            }
            return result
        }
        return HTTPResponse(
            status: response.status, headers: ["Content-Type": "application/json"],
            body: try JSONSerialization.data(withJSONObject: object))
    }
}

/// A transport that forwards the first request whose path ends with `suffix`, then fails as if its reply
/// were lost: the CRM has the write, the store never heard back.
final class LostReplyTransport: HTTPTransport {
    struct Lost: Error {}
    let inner: any HTTPTransport
    let suffix: String
    /// Whether every request after the lost reply fails too (the network, or the process, is gone).
    let thenDown: Bool
    private let done = Mutex(false)

    init(losingTheReplyTo suffix: String, inner: any HTTPTransport, thenDown: Bool = false) {
        self.suffix = suffix
        self.inner = inner
        self.thenDown = thenDown
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if thenDown, done.withLock({ $0 }) { throw Lost() }
        let response = try await inner.send(request)
        if request.url.path.hasSuffix(suffix),
            done.withLock({ done in
                defer { done = true }; return !done
            })
        {
            throw Lost()
        }
        return response
    }
}

/// A transport that fails the first request whose path ends with `suffix` before sending it, as a process
/// killed between its local transaction and the CRM write would.
final class KilledBeforeWriteTransport: HTTPTransport {
    struct Killed: Error {}
    let inner: any HTTPTransport
    let suffix: String
    private let done = Mutex(false)

    init(killedBefore suffix: String, inner: any HTTPTransport) {
        self.suffix = suffix
        self.inner = inner
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if request.url.path.hasSuffix(suffix),
            done.withLock({ done in
                defer { done = true }; return !done
            })
        {
            throw Killed()
        }
        return try await inner.send(request)
    }
}

/// Subscription ids of the mock's definitions.
let subscriptionIds: [Purpose: Int] = [
    .newsletter: 7, .marketingEmail: 8, .eventInvitations: 9, .blog: 10,
]

extension EngineFixture {
    /// A subscription change made in the CRM (by the subject, through HubSpot), not by crmsync.
    func crmWriteStatus(_ email: String, _ purpose: Purpose, _ state: String) async throws {
        try await crm(
            "POST", "/communication-preferences/v4/statuses/batch/write",
            [
                "inputs": [
                    [
                        "subscriberIdString": email, "subscriptionId": subscriptionIds[purpose]!, "channel": "EMAIL",
                        "statusState": state, "legalBasis": "CONSENT_WITH_NOTICE",
                    ]
                ]
            ])
    }

    func crmOptOut(_ email: String) async throws {
        try await crm("POST", "/communication-preferences/v4/statuses/\(email)/unsubscribe-all?channel=EMAIL")
    }

    func crmStatus(_ email: String, _ purpose: Purpose) async throws -> String? {
        try await crmStatuses(email)[subscriptionIds[purpose]!]
    }

    func history(_ email: String) throws -> [ConsentEvent] {
        guard let contact = try local(email) else { return [] }
        return try store.consentHistory(contactId: contact.id)
    }

    /// The next sync changes nothing on either side and reports nothing.
    /// Imports `csv`, syncs, and returns the CRM id the sync linked to `address`.
    func importAndLink(_ csv: String, _ address: String) async throws -> String {
        try importCSV(csv)
        _ = try await sync()
        return try #require(try local(address)?.crmId)
    }

    func expectSettled() async throws {
        let journal = try await journal().count
        let audit = try auditCount()
        let report = try await sync()
        #expect(report.changes.isEmpty, "\(report.changes)")
        #expect(try await mutatingRequests(since: journal).isEmpty)
        #expect(try auditCount() == audit)
    }
}
