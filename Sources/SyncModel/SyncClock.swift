import Foundation

/// Time as crmsync sees it: injected so that rate windows, backoff and schedules test in milliseconds.
public protocol SyncClock: Sendable {
    var now: Date { get }
    func sleep(for duration: Duration) async throws
}

/// The wall clock and real sleeping.
public struct SystemClock: SyncClock {
    public init() {}
    /// Millisecond precision, as the store and HubSpot keep time.
    public var now: Date { Date().roundedToMilliseconds }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
