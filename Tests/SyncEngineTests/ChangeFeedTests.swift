import Foundation
import HubSpotClient
import MockHubSpot
import SyncEngine
import SyncModel
import SyncTesting
import Testing

/// The change feed's promises under everything a run does while it reads: no change skipped, the
/// checkpoint never past an unread record, its cost counted before the run starts, HubSpot's clock over
/// the local one.
@Suite struct ChangeFeedTests {
    /// Contacts the run pushes come first in the feed; every push moves its record to the end of the feed.
    @Test(arguments: [200, 450])
    func recordsChangedAfterOnesTheSyncPushesAreAllPulledBeforeTheCheckpointPassesThem(pushed: Int) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        fixture.configuration.sync.consistencyHorizon = .seconds(1)
        fixture.configuration.conflicts.fields = ["firstName": .local]
        let changedAt = fixture.time.now.addingTimeInterval(-60)
        // `pushed` contacts edited locally and (earlier) in the CRM: the run pushes the local edit.
        try fixture.importCSV(
            "email,firstName\n" + (0..<pushed).map { "pushed\($0)@example.fi,Local" }.joined(separator: "\n") + "\n")
        try await fixture.mock.seed(
            .contacts(
                (0..<pushed).map { ["email": "pushed\($0)@example.fi", "firstname": "CRM"] }, lastModified: changedAt))
        // 200 others changed in the CRM after them.
        try await fixture.mock.seed(
            .contacts(
                (0..<200).map { ["email": "other\($0)@example.fi", "firstname": "Other"] },
                lastModified: changedAt.addingTimeInterval(1)))
        try fixture.store.setCheckpoint("contacts.modifiedSince", to: String(changedAt.millisecondsSince1970 - 1_000))

        let report = try await fixture.sync()

        #expect(report.summary.failures == 0, "\(report.failures)")
        #expect(try await fixture.crmProperty("pushed0@example.fi", "firstname") == "Local")
        let pulled = try (0..<200).filter { try fixture.local("other\($0)@example.fi") != nil }.count
        #expect(pulled == 200)
        #expect(try fixture.store.contactCount() == pushed + 200)
    }

    @Test(arguments: [1_200, 3_000])
    func anIncrementalRunWhoseChangeFeedExceedsTheBudgetIsRefusedBeforeItWrites(changed: Int) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
        try await fixture.sync()
        let checkpoint = try fixture.store.checkpoint("contacts.modifiedSince")
        try await fixture.mock.seed(.generated(changed))
        fixture.dailyBudget = 40
        let before = try await fixture.journal().count

        let error = await #expect(throws: SyncError.self) { try await fixture.sync() }

        #expect(error?.kind == .budgetExceeded)
        #expect(error?.errorDescription?.contains("--ignore-budget") == true)
        let sent = try await fixture.journal().dropFirst(before)
        // Reads only: the portal's properties and the feed's first page, whose total is the estimate.
        #expect(sent.map(\.isMutating) == [false, false])
        #expect(sent.filter { $0.path.hasSuffix("/search") }.count == 1)
        #expect(try fixture.store.contactCount() == 1)
        #expect(try fixture.store.checkpoint("contacts.modifiedSince") == checkpoint)
        // With --ignore-budget the run goes ahead (and stops where the client's daily budget ends).
        _ = try? await fixture.sync(ignoreBudget: true)
        #expect(try fixture.store.contactCount() > 1)
    }

    /// The local clock (the engine's and its client's) is ahead of, or behind, the mock's by `skew` seconds.
    @Test(arguments: [360.0, 3_600, -3_600])
    func aCRMEditMadeAfterTheFirstSyncIsPulledWhateverTheLocalClockSkew(skew: Double) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        fixture.clock = ManualClock(now: fixture.time.now.addingTimeInterval(skew))
        _ = try await fixture.seedCRM([["email": "aino@example.fi", "firstname": "Aino"]])
        let first = try await fixture.sync()
        // Measured against the header's whole seconds and the round trip (seconds on a loaded machine).
        #expect(
            first.clockSkewSeconds.map { abs($0 - skew) < 60 } == true, "skew reported: \(first.clockSkewSeconds ?? 0)")
        #expect(ReportRenderer.render(first, format: .text, showPII: false).contains("clock: the local clock is"))
        let checkpoint = try #require(try fixture.store.checkpoint("contacts.modifiedSince").flatMap(Int64.init))
        #expect(checkpoint <= fixture.time.now.millisecondsSince1970, "the checkpoint is in HubSpot's future")

        let id = try #require(try await fixture.crmContact(email: "aino@example.fi")?["id"] as? String)
        try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["firstname": "Aino-CRM"]])
        let second = try await fixture.sync()

        #expect(second.summary.toLocal.updates == 1)
        #expect(try fixture.local("aino@example.fi")?.firstName == "Aino-CRM")
    }
}
