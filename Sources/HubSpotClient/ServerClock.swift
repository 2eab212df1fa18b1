import Foundation
import SyncModel

/// HubSpot's clock as one answer showed it: the response's `Date` header and when the answer arrived by
/// the client's clock.
///
/// Watermarks compare against HubSpot's `lastmodifieddate` stamps, so they must be HubSpot's time: a local
/// clock ahead of HubSpot would put a checkpoint in HubSpot's future and skip the edits made before it.
public struct ServerClockReading: Sendable, Equatable {
    /// HubSpot's time when it answered, to the whole second (RFC 9110 dates carry no fraction).
    public var serverDate: Date
    /// The client's clock when the request left.
    public var sentAt: Date
    /// The client's clock when the answer arrived.
    public var receivedAt: Date

    /// The header is truncated to the second, and a server under load may stamp a cached date that trails
    /// its clock by more: HubSpot's clock read less than this much past the header when it answered.
    public static let resolution: TimeInterval = 5

    public init(serverDate: Date, sentAt: Date, receivedAt: Date) {
        self.serverDate = serverDate
        self.sentAt = sentAt
        self.receivedAt = receivedAt
    }

    /// Local minus HubSpot, in seconds: positive when the local clock is ahead. Up to ``resolution`` plus
    /// the round trip of it may be the header's truncation and the network.
    public var skew: TimeInterval { receivedAt.timeIntervalSince(serverDate) }

    /// HubSpot's time at the local instant `now`, as far as the header tells. HubSpot answered between
    /// `sentAt` and `receivedAt`, its clock reading between `serverDate` and ``resolution`` later: so it
    /// reads at least `serverDate` at `receivedAt`, and less than `serverDate + resolution` at `sentAt`.
    public func crmTimeRange(atLocal now: Date) -> ClosedRange<Date> {
        let earliest = serverDate.addingTimeInterval(now.timeIntervalSince(receivedAt)).roundedToMilliseconds
        let latest = serverDate.addingTimeInterval(Self.resolution + now.timeIntervalSince(sentAt))
        return earliest...max(earliest, latest.roundedToMilliseconds)
    }

    /// Whether the local clock agrees with HubSpot's as closely as the header and the round trip can tell.
    public func agrees(atLocal now: Date) -> Bool { crmTimeRange(atLocal: now).contains(now) }
}

/// RFC 9110 dates (`Tue, 01 Dec 2026 18:25:40 GMT`), as HTTP's `Date` header carries them.
enum HTTPDate {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func parse(_ text: String) -> Date? {
        // IMF-fixdate only: the obsolete RFC 850 and asctime forms are not sent by HubSpot.
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]),
            let month = months.firstIndex(of: String(parts[2])).map({ $0 + 1 })
        else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3, (1...31).contains(day), (0...23).contains(time[0]), (0...59).contains(time[1]),
            (0...60).contains(time[2])
        else { return nil }
        // Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + time[0] * 3_600 + time[1] * 60 + time[2]
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}
