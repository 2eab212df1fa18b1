import Foundation
import SyncModel
import Synchronization

/// The wall clock off by an offset that can be stepped while it is in use, sleeping for real: a host whose clock
/// NTP corrects (or an administrator sets) in the middle of a history.
public final class SteppableClock: SyncClock {
    private let current = Mutex<TimeInterval>(0)

    public init() {}

    /// How far the clock is ahead of the real time (behind, when negative).
    public var offset: TimeInterval { current.withLock { $0 } }

    /// Steps the clock by `seconds` (forward, or back when negative).
    public func step(by seconds: TimeInterval) { current.withLock { $0 += seconds } }

    public var now: Date { Date().addingTimeInterval(offset).roundedToMilliseconds }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
