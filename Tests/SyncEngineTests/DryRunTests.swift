import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// The dry run reports what the real run then does, erasures included, and changes nothing.
@Suite struct DryRunTests {
    @Test func aDryRunAfterAnInterruptedErasureListsItAndTheRealRunDoesIt() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        fixture.configuration.sync.consistencyHorizon = .seconds(0)
        try fixture.importCSV("email,firstName\nleaving@example.fi,Leaving\nstaying@example.fi,Staying\n")
        try await fixture.sync()
        // A second run moves the checkpoint past the first run's writes: the change feed no longer returns them.
        fixture.tick()
        try await fixture.sync()
        // Erased locally, the CRM delete left to the next run (as `erase --no-wait`, or a crash after the local step).
        _ = try fixture.store.recordErasureRequest(email: email("leaving@example.fi"), requestId: "r1", reason: nil)
        try fixture.store.eraseLocally(requestId: "r1")
        let before = try await fixture.journal().count

        let dry = try await fixture.sync(dryRun: true)
        #expect(dry.summary.toCRM.erasures == 1)
        #expect(dry.notes.contains { $0.note.contains("erasure r1") })
        #expect(try await fixture.mutatingRequests(since: before).isEmpty)
        #expect(try fixture.store.erasureRequest(id: "r1")?.state == .pending)

        let real = try await fixture.sync()
        #expect(real.summary.toCRM.erasures == dry.summary.toCRM.erasures)
        #expect(try fixture.store.erasureRequest(id: "r1")?.state == .verified)
        #expect(try await fixture.crmContact(email: "leaving@example.fi") == nil)
    }

    @Test func aDryRunOnAFreshPathCreatesNoStore() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-dry-\(UUID().uuidString)")
            .appendingPathExtension("sqlite").path
        #expect(throws: StoreError.self) { try SyncStore(path: path, existingOnly: true) }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }
}
