import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

/// The opt-out of all email, as ``OptOutRules`` decides it: this file only turns the outcome into the plan's writes,
/// base and change lines (and, for a re-consent, the purposes it grants again).
extension SyncPlanner {
    func planOptOut(_ local: LocalContactState, _ remote: RemoteContact, into plan: inout ContactPlan) {
        let subject = Self.subjectFacts(local, remote)
        let outcome = OptOutRules.decide(
            subject, restoresGrant: plan.consentToCRM.contains { $0.state == .granted },
            restoresAfterSpread: plan.changes.contains { $0.rule == .consentRestoredAfterRestriction })
        let key = SyncKey.optedOutOfAll
        switch outcome {
        case .toCRM(let rule):
            plan.optOutToCRM = true
            // A spread restriction is marked as crmsync's only once the CRM answered the write, with the time the
            // CRM gives its opt-out (the applier reads it back). A run that dies before that leaves no mark, and
            // the next run takes the CRM's opt-out as the subject's: it cannot tell the two apart (safety first).
            if subject.isOptedOut { plan.optOutBase = .agreed(true) }
            plan.changes.append(
                .init(key: key, direction: .toCRM, old: "false", new: "true", rule: rule, isConflict: false))
        case .spreadStays:
            // Never taken locally; with no grant to restore, HubSpot stays opted out, which is harmless.
            break
        case .spreadLifted:
            // A v4 subscription write lifts an opt-out of all email: the grants restored end the spread.
            Self.liftCRMOptOut(&plan, key: key, rule: .restrictionOptOutRemoved, isConflict: false)
        case .standsForRestriction(let base):
            if local.base.optOutBase != base { plan.optOutBase = base }
        case .liftedByReConsent(let crmAt):
            liftByReConsent(local, remote, since: crmAt, into: &plan)
        case .toRegister:
            plan.optOutToLocal = remote.optedOutAt ?? remote.lastModified ?? now
            plan.optOutBase = .agreed(true)
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
        case .agreed(let base):
            if let base, local.base.optOutBase != base { plan.optOutBase = base }
        }
    }

    /// Only purposes re-consented here after HubSpot's opt-out are granted again; the others stay as the opt-out left
    /// them (HubSpot keeps them unsubscribed when one v4 write lifts it). A CRM decision newer than the re-consent
    /// (taken in this plan) stands. With nothing re-consented left to grant (withdrawn again since), HubSpot keeps
    /// its opt-out.
    private func liftByReConsent(
        _ local: LocalContactState, _ remote: RemoteContact, since crmAt: Date, into plan: inout ContactPlan
    ) {
        let decidedInCRM = Set(plan.consentToLocal.map(\.purpose))
        func isReConsented(_ purpose: Purpose) -> Bool {
            !decidedInCRM.contains(purpose) && OptOutRules.isReConsent(local.consents[purpose], after: crmAt)
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
            plan.newBase[.consent(purpose)] = ConsentBase(.granted, registerAt: consent.occurredAt).stored
            plan.changes.append(
                .init(
                    key: .consent(purpose), direction: .toCRM, old: crmState.rawValue,
                    new: ConsentState.granted.rawValue, rule: .reConsentAfterOptOut, isConflict: false))
        }
        guard plan.consentToCRM.contains(where: { $0.state == .granted }) else { return }
        Self.liftCRMOptOut(&plan, key: .optedOutOfAll, rule: .liftedByReConsent, isConflict: true)
    }
}
