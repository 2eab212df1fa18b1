import Foundation
import HubSpotClient
import MockHubSpot
import SyncChecking
import SyncEngine
import SyncModel
import SyncStore
import SyncTesting
import Testing

@Suite struct RetentionSweepTests {
    @Test func aRetentionRerunOnTheSameDayAfterAnAbortedRunErasesEverythingDueAndSendsNoDeleteTwice() async throws {
        let clock = ManualClock()
        let fixture = try await EngineFixture(storeClock: clock)
        defer { Task { await fixture.close() } }
        try fixture.importCSV(
            "email,lifecycleStage\nlead.one@example.fi,lead\nlead.two@example.fi,lead\nlead.three@example.fi,lead\n")
        clock.advance(by: .seconds(25 * 30 * 86_400))
        let cutoff = clock.now.addingTimeInterval(-24 * 30 * 86_400)
        func sweep() async throws -> RetentionOutcome {
            let propagator = ErasurePropagator(
                store: fixture.store, client: try fixture.client(), clock: ManualClock(), maxAttempts: 2)
            return try await propagator.eraseForRetention(
                fixture.store.retentionCandidates(inactiveSince: cutoff), months: 24, on: clock.now)
        }
        // The first run dies right after its first GDPR delete went out.
        fixture.transport = DyingTransport(afterMutations: 1, inner: fixture.crmTransport)
        await #expect(throws: DyingTransport.Killed.self) { try await sweep() }
        #expect(try fixture.store.contactCount() == 2)

        fixture.transport = fixture.crmTransport
        let rerun = try await sweep()
        #expect(
            rerun
                == {
                    var o = RetentionOutcome(); (o.erased, o.verified, o.resumed) = (2, 2, 1); return o
                }())
        #expect(try fixture.store.contactCount() == 0)
        let requests = try fixture.store.erasureRequests()
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0.state == .verified && $0.id.hasPrefix("retention-") })
        #expect(try await fixture.gdprDeletes().count == 3)
        // A third run that day finds nothing to do and says so.
        #expect(try await sweep() == RetentionOutcome())
    }
}
