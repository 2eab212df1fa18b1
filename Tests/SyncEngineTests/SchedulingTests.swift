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
    try await first.run { _ in
        started.withLock { $0 = true }
        #expect(try WriterLease.currentHolder(of: fixture.store)?.holder == "daemon")
        do {
            _ = try await second.run { _ in 1 }
            Issue.record("two writers at once")
        } catch let held as LeaseHeld {
            #expect(held.holder.holder == "daemon")
            #expect(held.errorDescription?.contains("another crmsync run holds the lease") == true)
        }
    }
    #expect(started.withLock { $0 })
    #expect(try WriterLease.currentHolder(of: fixture.store) == nil)
    #expect(try await second.run { _ in 2 } == 2)  // released after the first run

    // A holder that was killed leaves its row behind but not the OS lock: it blocks no one, not even for a moment.
    try fixture.store.recordLease(WriterLease.name, holder: "killed")
    #expect(try WriterLease.currentHolder(of: fixture.store) == nil)
    #expect(try await second.run { _ in 3 } == 3)
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

/// A run that lost its lease without knowing (its host partitioned, its process paused) while another run took it
/// over: its next register write (or holds read) is refused, so it sends nothing after the CRM step it was in. The
/// new holder's run converges: every contact once in the CRM, none created twice (the stale run's in-flight upserts
/// are taken by the new run's upserts of the same addresses).
@Test func aRunWhoseLeaseWasTakenOverStopsAtItsNextRegisterWrite() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    try fixture.importCSV(
        "email,firstName,newsletter\n" + (0..<250).map { "p\($0)@example.fi,P,granted\n" }.joined())
    let store = fixture.store
    let staleToken = try store.recordLease(WriterLease.name, holder: "host-a")
    let takeover = Mutex<LeaseToken?>(nil)
    fixture.transport = BeforeRequestTransport(before: "/contacts/batch/upsert", inner: fixture.crmTransport) {
        let token = try store.recordLease(WriterLease.name, holder: "host-b")
        takeover.withLock { $0 = token }
    }
    let before = try await fixture.journal().count

    await #expect(throws: StaleLease.self) {
        try await fixture.engine(store: store.fenced(by: staleToken)).run(SyncRunOptions())
    }

    // The upsert step was in flight (its holds read before the takeover): its requests went; nothing after them.
    let sentByStale = try await fixture.mock.journal(since: before).filter(\.isMutating).map(\.path)
    #expect(
        sentByStale.count == 3 && sentByStale.allSatisfy { $0.hasSuffix("/contacts/batch/upsert") }, "\(sentByStale)")
    let newToken = try #require(takeover.withLock { $0 })
    fixture.transport = fixture.crmTransport
    let report = try await fixture.engine(store: store.fenced(by: newToken)).run(SyncRunOptions())
    #expect(report.summary.failures == 0, "\(report.failures)")
    try await fixture.engine(store: store.fenced(by: newToken)).run(SyncRunOptions())
    #expect(try await fixture.crmCount() == 250)
    #expect(try store.dirtyCount() == 0)
    #expect(try await fixture.crmStatuses("p0@example.fi")[subscriptionIds[.newsletter]!] == "SUBSCRIBED")
}

/// Adversarial review: a run whose lease was taken over while it read the portal's properties goes on to finish an
/// unfinished erasure whose deletes were sent, which holds another person's objections. Their write-back is the
/// step's first CRM write, with no register write before it: the held objections' read is fenced, so nothing goes out.
@Test func aRunWhoseLeaseWasTakenOverWritesBackNoHeldObjections() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
    try await fixture.sync()
    let store = fixture.store
    let subject = try EmailAddress("aino@example.fi")
    _ = try store.recordErasureRequest(email: subject, requestId: "r1", reason: nil)
    try store.eraseLocally(requestId: "r1")
    try store.holdObjections(HeldObjections(optedOut: ["other@example.fi"]), forErasureOf: subject)
    try store.updateErasures(["r1"], state: .sent, error: nil)
    let staleToken = try store.recordLease(WriterLease.name, holder: "host-a")
    // The run's first request is the portal's properties (`…/properties/<version>/contacts`).
    fixture.transport = BeforeRequestTransport(before: "/contacts", inner: fixture.crmTransport) {
        try store.recordLease(WriterLease.name, holder: "host-b")
    }
    let before = try await fixture.journal().count

    await #expect(throws: StaleLease.self) {
        try await fixture.engine(store: store.fenced(by: staleToken)).run(SyncRunOptions())
    }

    let sent = try await fixture.mock.journal(since: before).filter(\.isMutating).map(\.path)
    #expect(sent.isEmpty, "\(sent)")
    #expect(try store.heldObjections(ofErasureOf: subject) == HeldObjections(optedOut: ["other@example.fi"]))
    // The stale run closed its row in the run log: `status` does not show it running.
    #expect(try store.recentRuns(limit: 1).first?.status == "failed")
}

/// Adversarial review: a backup taken while a run held the lease, put back in place, must not make that run's
/// token valid again (the copy's nonce is not the run's); and a fenced view shares its store's lease.
@Test func aRestoredBackupRevivesNoTokenAndAFencedViewSharesTheLease() async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-fence-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let store = try SyncStore.inMemory(erasureJournal: folder.appendingPathComponent("journal").path)
    let token = try store.recordLease(WriterLease.name, holder: "host-a")
    try store.fenced(by: token).setCheckpoint("contacts.modifiedSince", to: "1")
    let backup = folder.appendingPathComponent("backup.sqlite").path
    try store.backup(to: backup)

    let restored = try SyncStore.inMemory(
        restoring: backup, erasureJournal: folder.appendingPathComponent("journal").path)

    #expect(throws: StaleLease.self) { try restored.fenced(by: token).setCheckpoint("contacts.modifiedSince", to: "2") }
    let next = try restored.recordLease(WriterLease.name, holder: "host-b")
    try restored.fenced(by: next).setCheckpoint("contacts.modifiedSince", to: "3")
    #expect(try restored.checkpoint("contacts.modifiedSince") == "3")

    try await WriterLease(store: store, holder: "daemon").run { token in
        await #expect(throws: LeaseHeld.self) {
            try await WriterLease(store: store.fenced(by: token), holder: "cron").run { _ in 1 }
        }
    }
}
