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

/// Runs `action` once, just before the first request whose path ends with `suffix` (or that `matches`) goes out.
final class BeforeRequestTransport: HTTPTransport {
    let inner: any HTTPTransport
    let matches: @Sendable (HTTPRequest) -> Bool
    let action: @Sendable () async throws -> Void
    private let done = Mutex(false)

    convenience init(
        before suffix: String, inner: any HTTPTransport, action: @escaping @Sendable () async throws -> Void
    ) {
        self.init(matching: { $0.url.path.hasSuffix(suffix) }, inner: inner, action: action)
    }

    init(
        matching matches: @escaping @Sendable (HTTPRequest) -> Bool, inner: any HTTPTransport,
        action: @escaping @Sendable () async throws -> Void
    ) {
        self.inner = inner
        self.matches = matches
        self.action = action
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if matches(request),
            done.withLock({ done in
                defer { done = true }
                return !done
            })
        {
            try await action()
        }
        return try await inner.send(request)
    }
}

@Suite struct ConcurrentErasureTests {
    /// `erase` takes no lease, so it may carry a request a running sync is carrying too (the sync finishes
    /// unfinished erasures first): the GDPR delete still goes out once, and the request ends verified.
    @Test func anEraseWhileASyncSendsTheSameRequestsDeleteSendsNothingMore() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
        try await fixture.sync()
        // erase --no-wait: recorded and erased locally; the CRM delete is left to the next sync.
        _ = try fixture.store.recordErasureRequest(email: email("aino@example.fi"), requestId: "r1", reason: nil)
        try fixture.store.eraseLocally(requestId: "r1")
        // Just as the sync sends the delete, the operator runs `erase` for the subject again.
        let operatorErase = try fixture.propagator()
        let states = Mutex<[ErasureState]>([])
        fixture.transport = BeforeRequestTransport(before: "/gdpr-delete", inner: fixture.crmTransport) {
            let request = try await operatorErase.erase(
                email: email("aino@example.fi"), requestId: "r1", reason: nil)
            states.withLock { $0.append(request.state) }
        }
        let report = try await fixture.sync()
        #expect(states.withLock { $0 }.count == 1)
        #expect(report.summary.failures == 0, "\(report.failures)")
        fixture.transport = fixture.crmTransport
        try await fixture.sync()
        let deletes = try await fixture.mutatingRequests().filter {
            $0.path.hasSuffix("/gdpr-delete")
        }
        #expect(deletes.count == 1)
        #expect(try fixture.store.erasureRequest(id: "r1")?.state == .verified)
        #expect(try await fixture.crmContact(email: "aino@example.fi") == nil)
    }

    /// The other way round: the sync meets a request whose delete an `erase` is sending; it waits for that one
    /// delete (never the other way: `erase` does not wait for a sync) and then only verifies.
    @Test func aSyncWhileAnEraseSendsItsDeleteSendsNothingMore() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
        try await fixture.sync()
        let clock = TellingClock(time: fixture.time)
        fixture.clock = clock
        let syncEngine = try fixture.engine()
        let sync = Mutex<Task<SyncReport, any Error>?>(nil)
        fixture.transport = BeforeRequestTransport(before: "/gdpr-delete", inner: fixture.crmTransport) {
            let task = Task {
                defer { clock.tell() }
                return try await syncEngine.run()
            }
            sync.withLock { $0 = task }
            // Go on once the sync waits for this erase's claim (or, without a claim, once it finished).
            for await _ in clock.sleeps { break }
        }
        let request = try await fixture.propagator().erase(
            email: email("aino@example.fi"), requestId: "r1", reason: nil)
        clock.wake()
        let report = try await #require(sync.withLock { $0 }).value
        #expect(clock.slept > 0, "the sync waited for the erase's claim")
        #expect(request.state == .verified)
        #expect(report.summary.failures == 0, "\(report.failures)")
        let deletes = try await fixture.mutatingRequests().filter {
            $0.path.hasSuffix("/gdpr-delete")
        }
        #expect(deletes.count == 1)
        #expect(try fixture.store.erasureRequest(id: "r1")?.state == .verified)
    }
}

/// A clock telling every sleep as it begins, on the fixture's time. A sleep returns once the test says
/// the concurrent step it waits for is done (``wake()``), never after a real wait.
final class TellingClock: SyncClock {
    let time: ManualClock
    let sleeps: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>], slept: Int)>((false, [], 0))

    /// How many sleeps began.
    var slept: Int { gate.withLock { $0.slept } }

    init(time: ManualClock) {
        self.time = time
        (sleeps, continuation) = AsyncStream.makeStream(of: Void.self)
    }

    var now: Date { time.now }

    /// Tells whoever listens, as a sleep does.
    func tell() { continuation.yield() }

    /// Lets every sleep, waiting or to come, return.
    func wake() {
        let waiting = gate.withLock { gate in
            gate.open = true
            defer { gate.waiting = [] }
            return gate.waiting
        }
        for waiter in waiting { waiter.resume() }
    }

    func sleep(for duration: Duration) async throws {
        continuation.yield()
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let open = gate.withLock { gate in
                gate.slept += 1
                if !gate.open { gate.waiting.append(waiter) }
                return gate.open
            }
            if open { waiter.resume() }
        }
        time.advance(by: duration)
    }
}

/// A subject the CRM never held is deleted by email (so HubSpot blocklists the address); a read answers 404
/// before and after, so a run taking over the claim of a killed one cannot learn from it whether that delete
/// went out: it sends it.
@Test func aTakenOverClaimStillSendsTheDeleteByEmailANeverHeldSubjectNeeds() async throws {
    let clock = ManualClock()
    let fixture = try await EngineFixture(storeClock: clock)
    defer { Task { await fixture.close() } }
    let subject = email("never.synced@example.fi")
    _ = try fixture.store.recordErasureRequest(email: subject, requestId: "r1", reason: nil)
    try fixture.store.eraseLocally(requestId: "r1")
    // A run claimed the deletes and was killed before sending them; its claim lapses.
    #expect(try fixture.store.claimErasureDeletes(of: subject) == .claimed)
    clock.advance(by: .seconds(Int(SyncStore.erasureClaimDuration) + 1))
    let (verified, failures) = try await fixture.propagator().resumeAll()
    #expect(verified == 1 && failures.isEmpty)
    let deletes = try await fixture.mutatingRequests().filter { $0.path.hasSuffix("/gdpr-delete") }
    #expect(deletes.count == 1, "the delete by email went out once")
}
