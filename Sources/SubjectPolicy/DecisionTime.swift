import Foundation
import SyncModel

/// When a decision made now (an operator's command, an edit of the register) is dated.
///
/// "Newest wins" compares times, so a decision made now must never be dated before the decision it follows: after
/// the host's clock stepped back (NTP correcting a clock that ran fast), or after a stored decision dated in the
/// future (an imported typo), a withdrawal dated by the clock alone would be recorded and lose, and the command
/// would say it recorded what it did not apply. Like a hybrid logical clock, a decision is dated by the clock, or
/// one millisecond after the newest decision it follows, whichever is later.
public enum DecisionTime {
    /// How far after this host's clock a stored time may lie before it counts as dated in the future: clocks of two
    /// systems disagree by that much. Imports refuse later times; reports name stored decisions dated later.
    public static let futureTolerance: TimeInterval = 5 * 60

    /// The time of a decision made at `now` that follows the decisions dated `followed`.
    public static func stamp(now: Date, following followed: [Date?]) -> Date {
        guard let newest = followed.compactMap({ $0 }).max(),
            newest.millisecondsSince1970 >= now.millisecondsSince1970
        else { return now }
        return Date(millisecondsSince1970: newest.millisecondsSince1970 + 1)
    }

    /// Whether `time` lies in the future of `now` beyond the tolerance.
    public static func isInTheFuture(_ time: Date, now: Date) -> Bool {
        time.timeIntervalSince(now) > futureTolerance
    }
}

extension ImportRecord {
    /// Why the row's times cannot be taken at `now`: the columns dated beyond ``DecisionTime/futureTolerance``
    /// (clocks of two systems disagree by that much), or nil. A later time is a typo (`2099-01-01`) that would lock a
    /// grant in against every later withdrawal, or exempt a contact from retention for ever, so the row is refused.
    public func futureTimesProblem(at now: Date) -> String? {
        let future = [("consentedAt", consentedAt), ("lastActivityAt", lastActivityAt)].filter { _, time in
            time.map { DecisionTime.isInTheFuture($0, now: now) } ?? false
        }
        guard !future.isEmpty else { return nil }
        let names = future.map(\.0).joined(separator: " and ")
        return "\(names) \(future.count == 1 ? "is" : "are") in the future "
            + "(more than \(Int(DecisionTime.futureTolerance / 60)) minutes after this host's clock)"
    }
}
