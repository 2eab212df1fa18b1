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

@Test func schedulerWaitsThePeriodAndBacksOffWhileTheCRMIsDown() async {
    let clock = ManualClock()
    let scheduler = SyncScheduler(every: .seconds(900), jitter: .seconds(30), clock: clock, random: { 0.5 })
    let script = Mutex<[ScheduledOutcome]>([
        .succeeded, .crmUnavailable, .crmUnavailable, .crmUnavailable, .crmUnavailable, .succeeded, .leaseHeld,
    ])
    await scheduler.run(iterations: 7) { script.withLock { $0.removeFirst() } }
    #expect(clock.sleeps == [915, 915, 1815, 3615, 3615, 915].map { Duration.seconds($0) })
}

@Test func schedulerStopsWhenCancelled() async {
    let clock = ManualClock()
    let scheduler = SyncScheduler(every: .seconds(60), jitter: .zero, clock: clock)
    let runs = Mutex(0)
    let task = Task {
        await scheduler.run { () -> ScheduledOutcome in
            if runs.withLock({
                $0 += 1; return $0
            }) == 3 {
                withUnsafeCurrentTask { $0?.cancel() }
            }
            return .succeeded
        }
    }
    await task.value
    #expect(runs.withLock { $0 } == 3)
}

@Test func onlyOneWriterHoldsTheLeaseAndARowLeftByADeadHolderBlocksNoOne() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    let first = WriterLease(store: fixture.store, holder: "daemon")
    let second = WriterLease(store: fixture.store, holder: "cron")
    let started = Mutex(false)
    try await first.run {
        started.withLock { $0 = true }
        #expect(try WriterLease.currentHolder(of: fixture.store)?.holder == "daemon")
        do {
            _ = try await second.run { 1 }
            Issue.record("two writers at once")
        } catch let held as LeaseHeld {
            #expect(held.holder.holder == "daemon")
            #expect(held.errorDescription?.contains("another crmsync run holds the lease") == true)
        }
    }
    #expect(started.withLock { $0 })
    #expect(try WriterLease.currentHolder(of: fixture.store) == nil)
    #expect(try await second.run { 2 } == 2)  // released after the first run

    // A holder that was killed leaves its row behind but not the OS lock: it blocks no one, not even for a moment.
    try fixture.store.recordLease(WriterLease.name, holder: "killed")
    #expect(try WriterLease.currentHolder(of: fixture.store) == nil)
    #expect(try await second.run { 3 } == 3)
    #expect(try fixture.store.currentLease(WriterLease.name) == nil)
}

@Test func scheduledRunsKeepGoingThroughACRMOutageAndRecover() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
    let engine = try fixture.engine()
    let outcomes = Mutex<[ScheduledOutcome]>([])
    let iteration = Mutex(0)
    let scheduler = SyncScheduler(every: .seconds(60), jitter: .zero, clock: ManualClock())
    let server = fixture.crmMock
    await scheduler.run(iterations: 4) {
        let n = iteration.withLock {
            $0 += 1; return $0
        }
        // Runs 2 and 3 meet a CRM answering 503 to everything.
        let rate = (n == 2 || n == 3) ? 1.0 : 0.0
        _ = try? await server.control.configure { $0.faults.serverErrorRate = rate }
        let outcome: ScheduledOutcome
        do {
            outcome = try await engine.run().summary.failures == 0 ? .succeeded : .partial
        } catch let error as HubSpotError where error.isUnavailable {
            outcome = .crmUnavailable
        } catch {
            outcome = .failed
        }
        outcomes.withLock { $0.append(outcome) }
        return outcome
    }
    #expect(outcomes.withLock { $0 } == [.succeeded, .crmUnavailable, .crmUnavailable, .succeeded])
    #expect(try await fixture.crmCount() == 1)
}
