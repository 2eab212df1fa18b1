import Foundation
import SyncModel

/// What the register and the CRM last agreed about the opt-out of all email, kept as the base of the next three-way
/// comparison.
///
/// A restriction of processing is spread to HubSpot as an opt-out of all email; that opt-out is crmsync's, not the
/// subject's decision, and must never be taken into the register as one. The base tells the two apart: a spread is
/// marked with HubSpot's own time for the opt-out it made, read back once HubSpot took the write. An opt-out at any
/// other time, or one left unmarked (a run died before the answer), is the subject's (safety first).
public enum OptOutBase: Sendable, Hashable {
    /// Both sides agreed the subject is (`true`) or is not opted out.
    case agreed(Bool)
    /// HubSpot's opt-out is the one crmsync spread for a restriction, at HubSpot's time for it (milliseconds since
    /// 1970). Nil: a mark written by builds before 2026-12 with no time, taken as crmsync's whatever its time.
    case spreadForRestriction(atMilliseconds: Int64?)

    private static let spreadPrefix = "restriction"

    /// Reads the stored form; nil for no base (never synced) or a value no build wrote.
    public init?(stored: String?) {
        switch stored {
        case "true": self = .agreed(true)
        case "false": self = .agreed(false)
        case Self.spreadPrefix: self = .spreadForRestriction(atMilliseconds: nil)
        case let value? where value.hasPrefix(Self.spreadPrefix + "@"):
            guard let ms = Int64(value.dropFirst(Self.spreadPrefix.count + 1)) else { return nil }
            self = .spreadForRestriction(atMilliseconds: ms)
        default: return nil
        }
    }

    /// The spread of a restriction HubSpot dated `optedOutAt`.
    public static func spread(at optedOutAt: Date) -> OptOutBase {
        .spreadForRestriction(atMilliseconds: optedOutAt.millisecondsSince1970)
    }

    /// The stored form: `true`, `false`, `restriction@<ms>` (or a bare `restriction` from earlier builds).
    public var stored: String {
        switch self {
        case .agreed(let optedOut): optedOut ? "true" : "false"
        case .spreadForRestriction(let ms?): "\(Self.spreadPrefix)@\(ms)"
        case .spreadForRestriction(nil): Self.spreadPrefix
        }
    }

    /// Whether the base says crmsync spread a restriction to HubSpot at some time.
    public var marksSpread: Bool {
        if case .spreadForRestriction = self { return true }
        return false
    }

    /// Whether HubSpot's opt-out of all email is the one crmsync spread: the base marks it, and HubSpot dates its
    /// opt-out at the marked time. An opt-out at another time (the subject opted out again after someone lifted it
    /// there), or one HubSpot gives no time for, is the subject's.
    public func isSpread(crmOptedOut: Bool, crmOptedOutAt: Date?) -> Bool {
        guard crmOptedOut, case .spreadForRestriction(let marked) = self else { return false }
        guard let marked else { return true }
        return crmOptedOutAt?.millisecondsSince1970 == marked
    }

    /// Whether HubSpot shows a withdrawal dated `withdrawnAt` only because crmsync spread a restriction there: an
    /// unsubscribe-all stamps every subscription, so a withdrawal no later than the spread is its echo. The marked time
    /// tells an echo even after the spread opt-out ended in HubSpot (a subscription there ends it, leaving the other
    /// subscriptions as the spread set them). Without a time the withdrawal is the subject's.
    public func isEcho(withdrawnAt: Date?, crmOptedOut: Bool, crmOptedOutAt: Date?) -> Bool {
        guard let withdrawnAt, case .spreadForRestriction(let marked) = self else { return false }
        if let marked { return withdrawnAt.millisecondsSince1970 <= marked }
        guard crmOptedOut, let spreadAt = crmOptedOutAt else { return false }
        return withdrawnAt <= spreadAt
    }
}

extension Dictionary where Key == SyncKey, Value == String? {
    /// The agreed opt-out this base holds, or nil (never synced, or no opt-out agreed yet).
    public var optOutBase: OptOutBase? {
        guard case .some(.some(let stored)) = self[.optedOutOfAll] else { return nil }
        return OptOutBase(stored: stored)
    }
}
