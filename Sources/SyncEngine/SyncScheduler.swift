import Foundation
import SyncModel

/// How one scheduled run ended, as the scheduler needs to know it.
public enum ScheduledOutcome: Sendable, Equatable {
    case succeeded
    /// Some records failed; the next run retries them on the normal schedule.
    case partial
    /// The CRM could not be reached (or its limits were hit): back off.
    case crmUnavailable
    /// Another run holds the lease: try again on the normal schedule.
    case leaseHeld
    case failed
}

/// Runs a job every `every` (plus up to `jitter`), backing off while the CRM is unavailable: the wait
/// doubles with each failed run, up to four periods, and returns to the period after a success.
public struct SyncScheduler: Sendable {
    public let every: Duration
    public let jitter: Duration
    let clock: any SyncClock
    let random: @Sendable () -> Double

    public init(
        every: Duration, jitter: Duration, clock: any SyncClock = SystemClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.every = every
        self.jitter = jitter
        self.clock = clock
        self.random = random
    }

    /// The wait after a run, given how many runs in a row found the CRM unavailable.
    public func delay(afterUnavailable failures: Int) -> Duration {
        let factor = failures == 0 ? 1 : min(4, 1 << min(failures - 1, 2))
        return every * factor + jitter * random()
    }

    /// Runs `job` until the task is cancelled (SIGTERM through the service group), or `iterations` times.
    public func run(iterations: Int? = nil, _ job: @Sendable () async -> ScheduledOutcome) async {
        var unavailable = 0
        var count = 0
        while !Task.isCancelled {
            let outcome = await job()
            count += 1
            unavailable = outcome == .crmUnavailable ? unavailable + 1 : 0
            if let iterations, count >= iterations { return }
            do {
                try await clock.sleep(for: delay(afterUnavailable: unavailable))
            } catch {
                return
            }
        }
    }
}
