import Foundation
import SyncModel

/// Consent per purpose between the register and HubSpot: why a purpose's state moves, and which way.
///
/// Read top to bottom; the first row that matches decides.
///
/// | # | when | outcome | rule |
/// |---|---|---|---|
/// | 1 | both sides say the same (under HubSpot's opt-out of all email, NOT_SPECIFIED says withdrawn) | agreed | |
/// | 2 | HubSpot's withdrawal is the echo of crmsync's restriction spread | while restricted, or a grant while opted out here: unchanged; else the register's state goes back | `consentRestoredAfterRestriction` |
/// | 3 | HubSpot grants during the register's opt-out | while opted out: unchanged (the opt-out answers it); after a re-consent, the purpose's withdrawal goes | `crmGrantDuringOptOutRefused` |
/// | 4 | the register never decided (or says unknown) | HubSpot's decision comes in | `consentOnlyCRM` |
/// | 5 | HubSpot never decided | the register's goes | `consentOnlyLocal` |
/// | 6 | one side still states what was agreed at the last sync, at the agreed time (``ConsentBase``) | the side that moved, whatever the clocks say | `consentMovedOnOneSide` |
/// | 7 | both decided, at different known times | the newer (``ConsentPrecedence``) | `consentNewest` |
/// | 8 | same or unknown time | the more restrictive | `consentMoreRestrictiveOnTie` |
///
/// A register grant that wins is still not sent while processing is restricted, while the register is opted out, or
/// while this run takes HubSpot's opt-out in (``ConsentOutcome/unchanged(_:)``).
public enum ConsentRules {
    /// What happens to one purpose.
    public static func decide(
        register: StatedDecision?, crm: StatedDecision?, agreed: ConsentBase?, subject: SubjectFacts,
        takingCRMOptOut: Bool
    ) -> ConsentOutcome {
        let registerState = register?.state ?? .unknown
        let crmState = crm?.state ?? .unknown
        if registerState == crmState || subject.crmOptedOut && crmState == .unknown && registerState == .withdrawn {
            return .agreed(registerState)
        }
        if crmState == .withdrawn, subject.isSpreadEcho(crm?.at) {
            let optedOut = subject.isOptedOut || subject.crmOptedOut && takingCRMOptOut
            if subject.isRestricted || optedOut && registerState == .granted {
                return .unchanged(.spreadEchoWhileRestricted)
            }
            return .toCRM(registerState, .consentRestoredAfterRestriction, isConflict: false)
        }
        let winner: ChangeOrigin
        let rule: SyncRule
        if crmState == .granted && subject.isDuringRegisterOptOut(crm?.at) {
            if subject.isOptedOut || registerState != .withdrawn { return .unchanged(.crmGrantDuringOptOut) }
            (winner, rule) = (.local, .crmGrantDuringOptOutRefused)
        } else if registerState == .unknown {
            (winner, rule) = (.crm, .consentOnlyCRM)
        } else if crmState == .unknown {
            (winner, rule) = (.local, .consentOnlyLocal)
        } else if let agreed, agreed.holds(crm: crm) {
            // HubSpot's status is the one agreed (crmsync's own write, or the subject's decision already taken):
            // not a decision since, whatever its time says against a register decision dated by a slow clock.
            (winner, rule) = (.local, .consentMovedOnOneSide(.local))
        } else if let agreed, agreed.holds(register: register),
            let agreedAt = agreed.crmAtMilliseconds, let crmAt = crm?.at, crmAt.millisecondsSince1970 > agreedAt
        {
            // The register's decision is the one agreed, and HubSpot's is dated after the agreement: it is the newer,
            // whatever a fast clock dated the register's.
            (winner, rule) = (.crm, .consentMovedOnOneSide(.crm))
        } else {
            let registerSays = StatedDecision(registerState, at: register?.at)
            let crmSays = StatedDecision(crmState, at: crm?.at)
            winner = ConsentPrecedence.prevails(crmSays, over: registerSays) ? .crm : .local
            let dated = registerSays.at != nil && crmSays.at != nil && registerSays.at != crmSays.at
            rule = dated ? .consentNewest(winner) : .consentMoreRestrictiveOnTie
        }
        // A conflict: both sides hold a decision and both moved away from the base.
        let bothDecided = registerState != .unknown && crm != nil && crmState != .unknown
        let isConflict = bothDecided && (agreed.map { $0.state != registerState && $0.state != crmState } ?? true)
        guard winner == .local else {
            return crm == nil ? .unchanged(.nothingToTake) : .toRegister(rule, isConflict: isConflict)
        }
        if registerState == .granted {
            if subject.isRestricted { return .unchanged(.grantNotSentWhileRestricted) }
            if subject.isOptedOut || subject.crmOptedOut && takingCRMOptOut {
                return .unchanged(.grantNotSentWhileOptedOut)
            }
        }
        return .toCRM(registerState, rule, isConflict: isConflict)
    }
}

/// What happens to one purpose's consent in a sync.
public enum ConsentOutcome: Hashable, Sendable {
    /// Both sides say this; the base records it.
    case agreed(ConsentState)
    /// The register's state goes to HubSpot.
    case toCRM(ConsentState, SyncRule, isConflict: Bool)
    /// HubSpot's decision comes into the register.
    case toRegister(SyncRule, isConflict: Bool)
    /// Neither side changes now, for this reason.
    case unchanged(Hold)

    /// Why a purpose that differs stays as it is this run.
    public enum Hold: Hashable, Sendable {
        /// HubSpot's withdrawal is crmsync's restriction spread, and the restriction (or the opt-out) still holds.
        case spreadEchoWhileRestricted
        /// HubSpot's grant came while the register was opted out: the opt-out answers it.
        case crmGrantDuringOptOut
        /// A register grant is not sent while processing is restricted.
        case grantNotSentWhileRestricted
        /// A register grant is not sent while either side's opt-out of all email stands.
        case grantNotSentWhileOptedOut
        /// HubSpot would win but states nothing to take.
        case nothingToTake
    }
}
