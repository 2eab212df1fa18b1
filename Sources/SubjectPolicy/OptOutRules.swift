import Foundation
import SyncModel

/// The opt-out of all email (the notice's "markkinointikielto") between the register and HubSpot: sticky both ways,
/// lifted in HubSpot only by an explicit re-consent recorded here after it, and a restriction spread as one.
///
/// Read top to bottom; the first row that matches decides.
///
/// | # | when | outcome | rule |
/// |---|---|---|---|
/// | 1 | the register is opted out, or restricted, and HubSpot is not | HubSpot is opted out | `optOutIsSticky` / `restrictionSpread` |
/// | 2 | HubSpot's opt-out is crmsync's spread, and the register is restricted or not opted out | never taken; once lifted, ended by the grants restored with it | `restrictionOptOutRemoved` |
/// | 3 | HubSpot is opted out, the register is not, and a re-consent here is newer than HubSpot's opt-out | lifted for the purposes re-consented since (while restricted, the opt-out stands for the restriction) | `liftedByReConsent`, `reConsentAfterOptOut` |
/// | 4 | HubSpot is opted out, the register is not | taken into the register; grants this run would send are dropped | `optOutIsSticky` |
/// | 5 | otherwise | agreed | |
///
/// An opt-out HubSpot gives no time for counts as the newest: no re-consent lifts it (safety first).
public enum OptOutRules {
    /// What happens to the opt-out of all email. `restoresGrant`: this run sends a grant to HubSpot;
    /// `restoresAfterSpread`: this run sends what a restriction spread unsubscribed.
    public static func decide(_ subject: SubjectFacts, restoresGrant: Bool, restoresAfterSpread: Bool) -> OptOutOutcome
    {
        if !subject.crmOptedOut && (subject.isOptedOut || subject.isRestricted) {
            return .toCRM(subject.isOptedOut ? .optOutIsSticky : .restrictionSpread)
        }
        if subject.crmOptOutIsSpread && (subject.isRestricted || !subject.isOptedOut) {
            return !subject.isRestricted && restoresGrant ? .spreadLifted : .spreadStays
        }
        if subject.crmOptedOut && !subject.isOptedOut {
            if let crmAt = subject.crmOptedOutAt, subject.isLiftedHere(after: crmAt) {
                return subject.isRestricted
                    ? .standsForRestriction(.spread(at: crmAt)) : .liftedByReConsent(since: crmAt)
            }
            return .toRegister
        }
        // The mark stays while this run restores what the spread unsubscribed: if those writes fail, the next run
        // must still tell the spread's echoes from the subject's decisions.
        if subject.optOutBase?.marksSpread == true && !subject.isOptedOut && restoresAfterSpread { return .agreed(nil) }
        return .agreed(.agreed(subject.isOptedOut))
    }

    /// Whether the register's `consent` is a re-consent that lifts HubSpot's opt-out at `crmAt` for its purpose: a
    /// grant recorded here after it. A purpose HubSpot decided later in the same run is not.
    public static func isReConsent(_ consent: ConsentEvent?, after crmAt: Date) -> Bool {
        guard let consent else { return false }
        return consent.state == .granted && consent.origin == .local && consent.occurredAt > crmAt
    }
}

/// What happens to the opt-out of all email in a sync.
public enum OptOutOutcome: Hashable, Sendable {
    /// HubSpot is opted out: the register's opt-out, or its restriction spread.
    case toCRM(SyncRule)
    /// HubSpot's opt-out is crmsync's spread and stays (restricted, or nothing to restore ends it).
    case spreadStays
    /// The spread ends: the grants this run restores lift it.
    case spreadLifted
    /// A re-consent recorded here after HubSpot's opt-out (dated `since`) lifts it for the purposes re-consented.
    case liftedByReConsent(since: Date)
    /// A re-consent came while restricted: HubSpot's opt-out now stands for the restriction, as this base marks.
    case standsForRestriction(OptOutBase)
    /// HubSpot's opt-out is the subject's: it comes into the register.
    case toRegister
    /// The sides agree; the base records this (nil: the base stays as it is).
    case agreed(OptOutBase?)
}
