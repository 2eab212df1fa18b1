import Foundation
import HubSpotClient
import SyncEngine
import SyncModel
import Testing

/// The change feed's promises under everything a run does while it reads: no change skipped, the
/// checkpoint never past an unread record.
@Suite struct ChangeFeedTests {
    static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Contacts the run pushes come first in the feed; every push moves its record to the end of the feed.
    @Test(arguments: [200, 450])
    func recordsChangedAfterOnesTheSyncPushesAreAllPulledBeforeTheCheckpointPassesThem(pushed: Int) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        fixture.configuration.sync.consistencyHorizon = .seconds(1)
        fixture.configuration.conflicts.fields = ["firstName": .local]
        let changedAt = Date().addingTimeInterval(-60).roundedToMilliseconds
        // `pushed` contacts edited locally and (earlier) in the CRM: the run pushes the local edit.
        try fixture.importCSV(
            "email,firstName\n" + (0..<pushed).map { "pushed\($0)@example.fi,Local" }.joined(separator: "\n") + "\n")
        try await fixture.crm(
            "POST", "/__mock/seed",
            [
                "contacts": (0..<pushed).map { ["email": "pushed\($0)@example.fi", "firstname": "CRM"] },
                "lastModified": Self.iso(changedAt),
            ])
        // 200 others changed in the CRM after them.
        try await fixture.crm(
            "POST", "/__mock/seed",
            [
                "contacts": (0..<200).map { ["email": "other\($0)@example.fi", "firstname": "Other"] },
                "lastModified": Self.iso(changedAt.addingTimeInterval(1)),
            ])
        try fixture.store.setCheckpoint("contacts.modifiedSince", to: String(changedAt.millisecondsSince1970 - 1_000))

        let report = try await fixture.sync()

        #expect(report.summary.failures == 0, "\(report.failures)")
        #expect(try await fixture.crmProperty("pushed0@example.fi", "firstname") == "Local")
        let pulled = try (0..<200).filter { try fixture.local("other\($0)@example.fi") != nil }.count
        #expect(pulled == 200)
        #expect(try fixture.store.contactCount() == pushed + 200)
    }
}
