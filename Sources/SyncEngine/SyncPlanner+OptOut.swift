import Foundation
import SyncModel
import SyncStore

/// The opt-out of all email: sticky both ways, lifted in the CRM only by an explicit local re-consent recorded
/// after it (and only for the purposes re-consented), and the restriction spread as an opt-out.
extension SyncPlanner {
    func planOptOut(_ local: LocalContactState, _ remote: RemoteContact, into plan: inout ContactPlan) {
        let localOut = local.isOptedOut
        let crmOut = remote.isOptedOut
        let key = SyncKey.optedOutOfAll
        if localOut && !crmOut || local.isRestricted && !crmOut {
            plan.optOutToCRM = true
            // A spread restriction is marked as crmsync's only once the CRM answered the write, with the time the
            // CRM gives its opt-out (the applier reads it back). A run that dies before that leaves no mark, and
            // the next run takes the CRM's opt-out as the subject's: it cannot tell the two apart (safety first).
            if localOut { plan.newBase[key] = "true" }
            let rule = localOut ? SyncRule.optOutIsSticky : .restrictionSpread
            plan.changes.append(
                .init(key: key, direction: .toCRM, old: "false", new: "true", rule: rule, isConflict: false))
            return
        }
        if Self.isRestrictionSpread(local.base, remote) && (local.isRestricted || !localOut) {
            // The CRM's opt-out is the restriction crmsync spread, not the subject's decision: never taken locally.
            // Lifted, the grants restored above end it (a v4 subscription write lifts an opt-out of all email); with
            // none to restore, the CRM stays opted out, which is harmless.
            guard !local.isRestricted, plan.consentToCRM.contains(where: { $0.state == .granted }) else { return }
            Self.liftCRMOptOut(&plan, key: key, rule: .restrictionOptOutRemoved, isConflict: false)
            return
        }
        if crmOut && !localOut {
            // Only an explicit local re-consent recorded after the CRM's opt-out lifts it; an opt-out the CRM
            // gives no time for counts as the newest (safety first), so no re-consent lifts it.
            if let lift = local.suppressions[.optedOutOfAll], !lift.isActive, lift.origin == .local,
                let crmAt = remote.optedOutAt, lift.changedAt > crmAt
            {
                if local.isRestricted {
                    // The restriction keeps the CRM opted out: that opt-out is now the restriction's spread, and
                    // lifting the restriction restores the re-consented grants.
                    let marker = Self.restrictionMarker(optedOutAt: crmAt)
                    if local.base[key] != .some(marker) { plan.newBase[key] = marker }
                    return
                }
                // Only purposes re-consented locally after the CRM's opt-out are granted again; the others stay
                // as the opt-out left them (HubSpot keeps them unsubscribed when one v4 write lifts it).
                // A CRM decision newer than the re-consent (taken locally in this plan) stands.
                let decidedInCRM = Set(plan.consentToLocal.map(\.purpose))
                func isReConsented(_ purpose: Purpose) -> Bool {
                    guard let consent = local.consents[purpose], !decidedInCRM.contains(purpose) else { return false }
                    return consent.state == .granted && consent.origin == .local && consent.occurredAt > crmAt
                }
                let dropped = Set(
                    plan.consentToCRM.filter { $0.state == .granted && !isReConsented($0.purpose) }.map(\.purpose))
                plan.consentToCRM.removeAll { dropped.contains($0.purpose) }
                plan.changes.removeAll { change in dropped.contains { change.key == .consent($0) } }
                for purpose in dropped { plan.newBase.removeValue(forKey: .consent(purpose)) }
                for (purpose, consent) in local.consents.sorted(by: { $0.key < $1.key })
                where isReConsented(purpose) && settings.subscriptions[purpose] != nil
                    && !plan.consentToCRM.contains(where: { $0.purpose == purpose })
                {
                    let crmState = remote.consents[purpose]?.state ?? .unknown
                    plan.consentToCRM.append(
                        (purpose, .granted, consent.legalBasis ?? settings.subscriptions[purpose]?.legalBasis))
                    plan.newBase[.consent(purpose)] = ConsentState.granted.rawValue
                    plan.changes.append(
                        .init(
                            key: .consent(purpose), direction: .toCRM, old: crmState.rawValue,
                            new: ConsentState.granted.rawValue, rule: .reConsentAfterOptOut, isConflict: false)
                    )
                }
                // With nothing re-consented left to grant (withdrawn again since), the CRM keeps its opt-out.
                guard plan.consentToCRM.contains(where: { $0.state == .granted }) else { return }
                Self.liftCRMOptOut(
                    &plan, key: key, rule: .liftedByReConsent, isConflict: true)
                return
            }
            plan.optOutToLocal = remote.optedOutAt ?? remote.lastModified ?? now
            plan.newBase[key] = "true"
            // Grants pushed in the same plan would re-subscribe someone who opted out: drop them.
            for grant in plan.consentToCRM where grant.state == .granted {
                plan.newBase.removeValue(forKey: .consent(grant.purpose))
            }
            plan.consentToCRM.removeAll { $0.state == .granted }
            plan.changes.removeAll {
                $0.direction == .toCRM && $0.key.purpose != nil && $0.new == ConsentState.granted.rawValue
            }
            plan.changes.append(
                .init(
                    key: key, direction: .toLocal, old: "false", new: "true", rule: .optOutIsSticky,
                    isConflict: false))
            return
        }
        let agreed = localOut ? "true" : "false"
        // The mark stays while this plan restores what the spread unsubscribed: if those writes fail, the next
        // run must still tell the spread's echoes from the subject's decisions.
        let restoring = plan.changes.contains { $0.rule == .consentRestoredAfterRestriction }
        if Self.hasRestrictionMarker(local.base) && !localOut && restoring { return }
        if local.base[key] != .some(agreed) { plan.newBase[key] = agreed }
    }
}
