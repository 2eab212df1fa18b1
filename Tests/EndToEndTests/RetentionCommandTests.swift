import Foundation
import MockHubSpot
import SyncCore
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// `crmsync retention` run more than once on one day.
@Suite(.serialized) struct RetentionCommandTests {
    @Test func aSecondRetentionRunOnTheSameDayErasesWhatIsDue() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init())
        defer { Task { await server.stop() } }
        try await cli.run("init")
        // Contacts last touched 30 months ago, by a store whose clock says so.
        let past = ManualClock(now: Date().addingTimeInterval(-30 * 30 * 86_400))
        let store = try SyncStore(path: cli.path("crmsync.sqlite"), clock: past)
        func importLead(_ address: String) throws {
            let batch = try ImportFileReader(purposes: Purpose.standard).read(
                Data("email,lifecycleStage\n\(address),lead\n".utf8), format: .csv)
            _ = try store.importContacts(batch, actor: "test")
        }
        try importLead("first.lead@example.fi")
        let first = try await cli.run("retention")
        #expect(first.status == 0, "\(first.errors)")
        #expect(try store.contact(email: EmailAddress("first.lead@example.fi")) == nil)
        try importLead("second.lead@example.fi")
        let second = try await cli.run("retention")
        #expect(second.status == 0, "\(second.errors)")
        #expect(
            try store.contact(email: EmailAddress("second.lead@example.fi")) == nil,
            "the second run reported \(second.output)")
        #expect(try store.erasureRequests().count == 2)
        #expect(try store.erasureRequests().allSatisfy { $0.state == .verified })
    }
}
