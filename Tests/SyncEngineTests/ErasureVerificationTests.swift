import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import SyncTesting
import Synchronization
import Testing

/// A transport that answers the first `lagging` single-record reads after a GDPR delete with 200, as a
/// lagging index (or a fault) would: the delete went through, the verification read does not show it yet.
final class LaggingVerificationTransport: HTTPTransport {
    let inner: any HTTPTransport
    private let state: Mutex<(deleteSeen: Bool, lagging: Int)>

    init(lagging: Int = 1, inner: any HTTPTransport) {
        state = Mutex((false, lagging))
        self.inner = inner
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let path = request.url.path
        if request.method == "GET", path.hasPrefix("/crm/objects/2026-09/contacts/"),
            state.withLock({ state in
                guard state.deleteSeen, state.lagging > 0 else { return false }
                state.lagging -= 1
                return true
            })
        {
            let body = #"{"id":"999999","properties":{"email":"lagging@index.invalid"},"archived":false}"#
            return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: Data(body.utf8))
        }
        let response = try await inner.send(request)
        if path.hasSuffix("/gdpr-delete") { state.withLock { $0.deleteSeen = true } }
        return response
    }
}

/// Erasure helpers over the mock's plain HTTP surface (not the client under test).
extension EngineFixture {
    func gdprDeletes() async throws -> [MockJournalEntry] {
        try await journal().filter { $0.path.hasSuffix("gdpr-delete") }
    }

    func isBlocklisted(_ address: String) async throws -> Bool {
        let reply = try await crm("POST", "/crm/v3/objects/contacts", ["properties": ["email": address]])
        return reply["category"] as? String == "VALIDATION_ERROR"
    }

    func crmRecord(id: String) async throws -> [String: Any]? {
        let reply = try await crm("GET", "/crm/v3/objects/contacts/\(id)?properties=email,firstname,phone")
        return reply["id"] == nil ? nil : reply
    }

    /// Erases the subject the way `crmsync erase` does (`wait`) or as `--no-wait` does (the CRM delete is
    /// left to the next sync).
    func erase(_ address: String, requestId: String, wait: Bool) async throws {
        if wait {
            _ = try await propagator().erase(email: email(address), requestId: requestId, reason: nil)
        } else {
            _ = try store.recordErasureRequest(email: email(address), requestId: requestId, reason: nil)
            try store.eraseLocally(requestId: requestId)
        }
    }

}

@Suite struct ErasureVerificationTests {
    /// Attempts per run: 1 leaves the failed verification to the next sync, 3 retries it in the same run.
    @Test(arguments: [1, 3])
    func aFailedVerificationIsOnlyRetriedAsAReadNeverAsASecondDelete(attemptsPerRun: Int) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\nlag@example.fi,Lag\n")
        try await fixture.sync()
        fixture.transport = LaggingVerificationTransport(inner: fixture.crmTransport)
        let propagator = ErasurePropagator(
            store: fixture.store, client: try fixture.client(), clock: ManualClock(), maxAttempts: attemptsPerRun)
        let first = try await propagator.erase(email: email("lag@example.fi"), requestId: "r-lag", reason: nil)
        #expect(first.state == (attemptsPerRun == 1 ? .failed : .verified))
        try await fixture.sync()
        #expect(try fixture.store.erasureRequest(id: "r-lag")?.state == .verified)
        #expect(try await fixture.gdprDeletes().count == 1)
        #expect(try await fixture.isBlocklisted("lag@example.fi") == false)
    }

}
