import Foundation
import SyncModel
import Synchronization

/// The wall clock off by an offset, sleeping for real: a host whose clock is ahead of (positive) or behind (negative)
/// HubSpot's, and that NTP may step (or an administrator set) while it is in use.
public final class SteppableClock: SyncClock {
    private let current: Mutex<TimeInterval>

    /// A clock `offset` seconds ahead of the real time (behind, when negative).
    public init(offset: TimeInterval = 0) { current = Mutex(offset) }

    /// How far the clock is ahead of the real time (behind, when negative).
    public var offset: TimeInterval { current.withLock { $0 } }

    /// Steps the clock by `seconds` (forward, or back when negative).
    public func step(by seconds: TimeInterval) { current.withLock { $0 += seconds } }

    public var now: Date { Date().addingTimeInterval(offset).roundedToMilliseconds }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
