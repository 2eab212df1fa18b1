import Foundation
import SyncModel
import SyncStore

/// Consent per purpose: the newest decision wins, the more restrictive on a tie or unknown time, `unknown` is
/// never a decision, and what crmsync spread for a restriction is never taken for the subject's decision.
extension SyncPlanner {
    // MARK: Consent and suppression

    /// The base value of `optedOutOfAll` saying the CRM's opt-out of all email is the restriction crmsync spread,
    /// not the subject's decision: `restriction@<ms>` with the CRM's own time of that opt-out, read back once the
    /// write was answered. Builds before that wrote a bare `restriction`, taken as crmsync's whatever its time.
    static let restrictionSpread = "restriction"

    static func restrictionMarker(optedOutAt: Date) -> String {
        "\(restrictionSpread)@\(optedOutAt.millisecondsSince1970)"
    }

    /// Whether the base says crmsync spread a restriction to the CRM at some time (its opt-out time may be needed).
    static func hasRestrictionMarker(_ base: [SyncKey: String?]) -> Bool {
        guard case .some(.some(let value)) = base[.optedOutOfAll] else { return false }
        return value == restrictionSpread || value.hasPrefix(restrictionSpread + "@")
    }

    /// Whether the CRM's opt-out of all email is the one crmsync spread for a restriction: the base marks it, and
    /// the CRM dates its opt-out at the marked time. An opt-out at another time (the subject opted out again after
    /// someone lifted it there), or one the CRM gives no time for, is the subject's (safety first).
    static func isRestrictionSpread(_ base: [SyncKey: String?], _ remote: RemoteContact) -> Bool {
        guard remote.isOptedOut, case .some(.some(let value)) = base[.optedOutOfAll] else { return false }
        if value == restrictionSpread { return true }
        guard value.hasPrefix(restrictionSpread + "@"), let at = remote.optedOutAt else { return false }
        return value == restrictionMarker(optedOutAt: at)
    }

    /// Whether the CRM shows `status` only because crmsync spread a restriction there: a withdrawal stamped no later
    /// than the opt-out that spread it (unsubscribe-all stamps every subscription). Without the opt-out's time
    /// this cannot be told, and the withdrawal counts as the subject's (safety first).
    func isRestrictionEcho(
        _ status: (state: ConsentState, at: Date?, legalBasis: LegalBasis?), _ local: LocalContactState,
        _ remote: RemoteContact
    ) -> Bool {
        guard status.state == .withdrawn, let at = status.at else { return false }
        // The marked time tells the echo even after the spread opt-out ended in HubSpot (a subscription there
        // ends it, and leaves the other subscriptions as the spread set them).
        if let spreadAt = Self.markedSpreadMilliseconds(local.base) { return at.millisecondsSince1970 <= spreadAt }
        guard Self.isRestrictionSpread(local.base, remote), let spreadAt = remote.optedOutAt else { return false }
        return at <= spreadAt
    }

    /// The time HubSpot gave the opt-out crmsync spread for a restriction, as the base marks it (milliseconds).
    static func markedSpreadMilliseconds(_ base: [SyncKey: String?]) -> Int64? {
        guard case .some(.some(let value)) = base[.optedOutOfAll], value.hasPrefix(restrictionSpread + "@") else {
            return nil
        }
        return Int64(value.dropFirst(restrictionSpread.count + 1))
    }

    /// Whether a CRM decision at `at` falls while the contact was opted out here: it is opted out now, or the
    /// decision is no later than the local re-consent that lifted the opt-out (earlier ones the opt-out withdrew).
    func isDuringLocalOptOut(_ at: Date?, _ local: LocalContactState) -> Bool {
        guard let optOut = local.suppressions[.optedOutOfAll] else { return false }
        if optOut.isActive { return true }
        guard optOut.origin == .local else { return false }
        return at.map { $0 <= optOut.changedAt } ?? true
    }

    func planConsents(_ local: LocalContactState, _ remote: RemoteContact, into plan: inout ContactPlan) {
        for purpose in settings.subscriptions.keys.sorted() {
            let key = SyncKey.consent(purpose)
            let l = local.consents[purpose]
            let c = remote.consents[purpose]
            let localState = l?.state ?? .unknown
            let crmState = c?.state ?? .unknown
            // An opt-out of all email withdraws every purpose, so under it NOT_SPECIFIED agrees with a withdrawal.
            if localState == crmState || remote.isOptedOut && crmState == .unknown && localState == .withdrawn {
                if local.base[key] != .some(localState.rawValue) { plan.newBase[key] = localState.rawValue }
                continue
            }
            if let c, isRestrictionEcho(c, local, remote) {
                // Not the subject's decision: never taken locally. Once the restriction is lifted, the state from
                // before it (the local one) is restored in the CRM; a grant is not pushed while opted out.
                if local.isRestricted || local.isOptedOut && localState == .granted { continue }
                plan.consentToCRM.append(
                    (purpose, localState, l?.legalBasis ?? settings.subscriptions[purpose]?.legalBasis))
                plan.newBase[key] = localState.rawValue
                plan.changes.append(
                    .init(
                        key: key, direction: .toCRM, old: crmState.rawValue, new: localState.rawValue,
                        rule: .consentRestoredAfterRestriction, isConflict: false))
                continue
            }
            // A side that never stated anything, or says `unknown`, has no decision: it never competes with
            // one (NOT_SPECIFIED never overrides a withdrawal, and an `unknown` is never pushed over one).
            let winner: ChangeOrigin
            let rule: SyncRule
            if crmState == .granted && isDuringLocalOptOut(c?.at, local) {
                // A CRM-side grant made while opted out here is answered by opting out again, never taken; once a
                // re-consent lifted the opt-out, the purpose's own state (withdrawn by the opt-out) stands.
                if local.isOptedOut || localState != .withdrawn { continue }
                (winner, rule) = (.local, .crmGrantDuringOptOutRefused)
            } else if localState == .unknown {
                (winner, rule) = (.crm, .consentOnlyCRM)
            } else if crmState == .unknown {
                (winner, rule) = (.local, .consentOnlyLocal)
            } else if let lt = l?.occurredAt, let ct = c?.at, lt != ct {
                (winner, rule) = lt > ct ? (.local, .consentNewest(.local)) : (.crm, .consentNewest(.crm))
            } else {
                winner = localState.restrictiveness >= crmState.restrictiveness ? .local : .crm
                rule = .consentMoreRestrictiveOnTie
            }
            // A conflict: both sides hold a decision and both moved away from the base.
            let bothDecided = l != nil && localState != .unknown && c != nil && crmState != .unknown
            let isConflict =
                bothDecided && (local.base[key].map { $0 != localState.rawValue && $0 != crmState.rawValue } ?? true)
            if winner == .local {
                // Restricted processing: a grant is not pushed, a withdrawal is.
                if local.isRestricted && localState == .granted { continue }
                if (local.isOptedOut || remote.isOptedOut && plan.optOutToLocal != nil) && localState == .granted {
                    continue
                }
                plan.consentToCRM.append(
                    (purpose, localState, l?.legalBasis ?? settings.subscriptions[purpose]?.legalBasis))
                plan.newBase[key] = localState.rawValue
                plan.changes.append(
                    .init(
                        key: key, direction: .toCRM, old: crmState.rawValue, new: localState.rawValue, rule: rule,
                        isConflict: isConflict))
            } else if let c {
                plan.consentToLocal.append(crmConsentEvent(purpose, c, contactId: local.contact.id))
                plan.newBase[key] = crmState.rawValue
                plan.changes.append(
                    .init(
                        key: key, direction: .toLocal, old: localState.rawValue, new: crmState.rawValue, rule: rule,
                        isConflict: isConflict))
            }
        }
    }
}
