import Foundation
import SyncModel
import Synchronization

/// A clock that moves only when told to, or when something sleeps on it: tests of windows, backoff and
/// schedules run in milliseconds and give the same result every time.
///
/// With a `step`, every reading moves it on by that much first, so that readings (record stamps, decisions,
/// watermarks) come strictly in order as on a wall clock, yet the same on every run.
public final class ManualClock: SyncClock {
    /// Whole milliseconds since 1970 (no floating-point drift, however many steps), and every sleep so far.
    private let state: Mutex<(milliseconds: Int64, slept: [Duration])>
    private let step: Int64

    public init(now: Date = Date(millisecondsSince1970: 1_767_225_600_000), step: Duration = .zero) {
        state = Mutex((now.millisecondsSince1970, []))
        self.step = Self.milliseconds(step)
    }

    public var now: Date {
        Date(
            millisecondsSince1970: state.withLock { state in
                state.milliseconds += step
                return state.milliseconds
            })
    }

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
        state.withLock { $0.milliseconds += Self.milliseconds(duration) }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        Int64((duration.inSeconds * 1000).rounded(.down))
    }
}
