import Foundation
import SyncModel

/// The CRM's clock as one answer showed it: the answer's date (HTTP's `Date` header) and when the answer arrived
/// by the client's clock.
///
/// Watermarks compare against the CRM's modification stamps, so they must be the CRM's time: a local clock ahead
/// of the CRM would put a checkpoint in the CRM's future and skip the edits made before it.
public struct ServerClockReading: Sendable, Equatable {
    /// The CRM's time when it answered, to the whole second (RFC 9110 dates carry no fraction).
    public var serverDate: Date
    /// The client's clock when the request left.
    public var sentAt: Date
    /// The client's clock when the answer arrived.
    public var receivedAt: Date

    /// The header is truncated to the second, and a server under load may stamp a cached date that trails
    /// its clock by more: the CRM's clock read less than this much past the header when it answered.
    public static let resolution: TimeInterval = 5

    public init(serverDate: Date, sentAt: Date, receivedAt: Date) {
        self.serverDate = serverDate
        self.sentAt = sentAt
        self.receivedAt = receivedAt
    }

    /// Local minus the CRM, in seconds: positive when the local clock is ahead. Up to ``resolution`` plus
    /// the round trip of it may be the header's truncation and the network.
    public var skew: TimeInterval { receivedAt.timeIntervalSince(serverDate) }

    /// The CRM's time at the local instant `now`, as far as the header tells. The CRM answered between
    /// `sentAt` and `receivedAt`, its clock reading between `serverDate` and ``resolution`` later: so it
    /// reads at least `serverDate` at `receivedAt`, and less than `serverDate + resolution` at `sentAt`.
    public func crmTimeRange(atLocal now: Date) -> ClosedRange<Date> {
        let earliest = serverDate.addingTimeInterval(now.timeIntervalSince(receivedAt)).roundedToMilliseconds
        let latest = serverDate.addingTimeInterval(Self.resolution + now.timeIntervalSince(sentAt))
        return earliest...max(earliest, latest.roundedToMilliseconds)
    }

    /// Whether the local clock agrees with the CRM's as closely as the header and the round trip can tell.
    public func agrees(atLocal now: Date) -> Bool { crmTimeRange(atLocal: now).contains(now) }
}
