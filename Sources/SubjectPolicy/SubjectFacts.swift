import Foundation
import SyncModel

/// What the rules need to know of one subject beyond a single purpose: the register's suppressions, HubSpot's opt-out
/// of all email, and the base both sides last agreed.
public struct SubjectFacts: Sendable {
    /// The register's opt-out of all email, active or lifted (nil: never set).
    public var registerOptOut: Suppression?
    public var isRestricted: Bool
    public var crmOptedOut: Bool
    /// HubSpot's time for its opt-out; nil when it gives none.
    public var crmOptedOutAt: Date?
    public var optOutBase: OptOutBase?

    public init(
        registerOptOut: Suppression?, isRestricted: Bool, crmOptedOut: Bool, crmOptedOutAt: Date?,
        optOutBase: OptOutBase?
    ) {
        self.registerOptOut = registerOptOut
        self.isRestricted = isRestricted
        self.crmOptedOut = crmOptedOut
        self.crmOptedOutAt = crmOptedOutAt
        self.optOutBase = optOutBase
    }

    public var isOptedOut: Bool { registerOptOut?.isActive == true }

    /// Whether HubSpot's opt-out is the one crmsync spread for a restriction (``OptOutBase/isSpread``).
    public var crmOptOutIsSpread: Bool {
        optOutBase?.isSpread(crmOptedOut: crmOptedOut, crmOptedOutAt: crmOptedOutAt) ?? false
    }

    /// Whether a HubSpot withdrawal dated `at` is only the echo of crmsync's spread (``OptOutBase/isEcho``).
    public func isSpreadEcho(_ at: Date?) -> Bool {
        optOutBase?.isEcho(withdrawnAt: at, crmOptedOut: crmOptedOut, crmOptedOutAt: crmOptedOutAt) ?? false
    }

    /// Whether a decision dated `at` falls while the subject was opted out here: opted out now, or no later than the
    /// register's re-consent that lifted the opt-out (the opt-out withdrew earlier ones). Undated: during it.
    public func isDuringRegisterOptOut(_ at: Date?) -> Bool {
        guard let optOut = registerOptOut else { return false }
        if optOut.isActive { return true }
        guard optOut.origin == .local else { return false }
        return at.map { $0 <= optOut.changedAt } ?? true
    }

    /// Whether the register's own re-consent lifted its opt-out after HubSpot's opt-out at `crmAt`: only such a lift
    /// ends an opt-out in HubSpot.
    public func isLiftedHere(after crmAt: Date) -> Bool {
        guard let lift = registerOptOut else { return false }
        return !lift.isActive && lift.origin == .local && lift.changedAt > crmAt
    }
}
