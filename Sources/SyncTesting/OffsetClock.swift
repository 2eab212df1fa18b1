import Foundation
import SyncModel

/// The wall clock off by a fixed offset, sleeping for real: a host whose clock is ahead of (positive) or behind
/// (negative) HubSpot's.
public struct OffsetClock: SyncClock {
    public let offset: TimeInterval

    public init(offset: TimeInterval) { self.offset = offset }

    public var now: Date { Date().addingTimeInterval(offset).roundedToMilliseconds }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
