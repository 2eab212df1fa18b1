import Foundation
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Several erasure requests for one subject.
@Suite struct ErasureRequestTests {
    enum SecondRequest: String, CaseIterable, Sendable {
        /// The first request failed in the CRM (server errors); the second one succeeds.
        case afterAFailedFirst
        /// The first was recorded with `--no-wait`; the second waits.
        case afterANoWaitFirst
        /// The first was recorded with `--no-wait` and a sync finished it; then the second.
        case afterASyncFinishedTheFirst
        /// Both recorded with `--no-wait`, then one sync.
        case bothBeforeOneSync
    }

    @Test(arguments: SecondRequest.allCases)
    func everyErasureRequestForOneSubjectReachesVerified(order: SecondRequest) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\ntwice@example.fi,Twice\n")
        try await fixture.sync()
        switch order {
        case .afterAFailedFirst:
            try await fixture.mock.configure {
                $0.faults.serverErrorRate = 1
                $0.faults.endpoints = ["/crm/v3/objects/contacts/gdpr-delete"]
            }
            try await fixture.erase("twice@example.fi", requestId: "r-first", wait: true)
            #expect(try fixture.store.erasureRequest(id: "r-first")?.state == .failed)
            try await fixture.mock.configure { $0.faults.serverErrorRate = 0 }
            try await fixture.erase("twice@example.fi", requestId: "r-second", wait: true)
        case .afterANoWaitFirst:
            try await fixture.erase("twice@example.fi", requestId: "r-first", wait: false)
            try await fixture.erase("twice@example.fi", requestId: "r-second", wait: true)
        case .afterASyncFinishedTheFirst:
            try await fixture.erase("twice@example.fi", requestId: "r-first", wait: false)
            try await fixture.sync()
            try await fixture.erase("twice@example.fi", requestId: "r-second", wait: true)
        case .bothBeforeOneSync:
            try await fixture.erase("twice@example.fi", requestId: "r-first", wait: false)
            try await fixture.erase("twice@example.fi", requestId: "r-second", wait: false)
        }
        try await fixture.sync()
        let states = try fixture.store.erasureRequests().map { "\($0.id): \($0.state)" }.sorted()
        #expect(states == ["r-first: verified", "r-second: verified"])
        let note = try #require(try fixture.store.erasureRequest(id: "r-second")?.note)
        #expect(note.contains("r-first"))
        #expect(try fixture.store.outboxCount() == 0)
        #expect(try await fixture.crmContact(email: "twice@example.fi") == nil)
        #expect(try await fixture.isBlocklisted("twice@example.fi") == false, "a second delete blocklisted it")
        #expect(try fixture.storeBytes().range(of: Data("twice@".utf8)) == nil)
    }
}
