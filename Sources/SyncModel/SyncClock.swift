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

extension Date {
    /// This instant truncated to whole milliseconds: what the store and HubSpot can represent.
    public var roundedToMilliseconds: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    /// Milliseconds since 1970, as HubSpot's search filters and the store's columns use.
    public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    public init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
