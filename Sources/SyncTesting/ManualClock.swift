import Foundation
import SyncModel
import Synchronization

/// A clock that moves only when told to, or when something sleeps on it: tests of windows, backoff and
/// schedules run in milliseconds and give the same result every time.
public final class ManualClock: SyncClock {
    private let state: Mutex<(now: Date, slept: [Duration])>

    public init(now: Date = Date(millisecondsSince1970: 1_767_225_600_000)) {
        state = Mutex((now, []))
    }

    public var now: Date { state.withLock { $0.now } }

    /// Every sleep requested so far, in order.
    public var sleeps: [Duration] { state.withLock { $0.slept } }

    /// Sleeping advances the clock at once by the duration asked for.
    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        advance(by: duration)
        state.withLock { $0.slept.append(duration) }
        await Task.yield()
    }

    public func advance(by duration: Duration) {
        state.withLock { $0.now = $0.now.addingTimeInterval(duration.inSeconds).roundedToMilliseconds }
    }
}
