import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

/// Consent per purpose, as ``ConsentRules`` decides it: this file only turns the outcome into the plan's writes,
/// base and change lines.
extension SyncPlanner {
    /// The subject's facts the rules ask for, from the register's state and HubSpot's record (none: a contact with no
    /// live record, whose address HubSpot's statuses stand for).
    static func subjectFacts(_ local: LocalContactState, _ remote: RemoteContact?) -> SubjectFacts {
        SubjectFacts(
            registerOptOut: local.suppressions[.optedOutOfAll], isRestricted: local.isRestricted,
            crmOptedOut: remote?.isOptedOut ?? false, crmOptedOutAt: remote?.optedOutAt,
            optOutBase: local.base.optOutBase)
    }

    /// The agreed consent base of `purpose`, with its times only while it is about the address HubSpot's statuses
    /// are read for now (``baseIsAbout(_:_:)``): after a merge onto a record with another address, or an address
    /// change on either side, the statuses are another address's, and "unmoved since the sync" cannot be told
    /// (newest wins then).
    static func consentBase(_ local: LocalContactState, _ purpose: Purpose, timesApply: Bool) -> ConsentBase? {
        guard let base = local.base.consentBase(purpose) else { return nil }
        return timesApply ? base : ConsentBase(base.state)
    }

    /// Whether the base was agreed about the address the register and HubSpot's record (if any) carry now.
    static func baseIsAbout(_ local: LocalContactState, _ remote: RemoteContact?) -> Bool {
        guard case .some(.some(let agreed)) = local.base[.field(.email)] else { return false }
        let register = local.contact.email.normalized
        let crm = remote.map { $0.email?.normalized }
        if agreed == register, crm == nil || crm == .some(register) { return true }
        let key = EmailAddress.matchingKey(agreed)
        return key == register && (crm.map { $0 == key } ?? true)
    }

    func planConsents(_ local: LocalContactState, _ remote: RemoteContact, into plan: inout ContactPlan) {
        let subject = Self.subjectFacts(local, remote)
        let timesApply = Self.baseIsAbout(local, remote)
        for purpose in settings.subscriptions.keys.sorted() {
            let key = SyncKey.consent(purpose)
            let register = local.consents[purpose]
            let crm = remote.consents[purpose]
            let agreed = Self.consentBase(local, purpose, timesApply: timesApply)
            let outcome = ConsentRules.decide(
                register: register?.stated, crm: crm.map { StatedDecision($0.state, at: $0.at) }, agreed: agreed,
                subject: subject, takingCRMOptOut: plan.optOutToLocal != nil)
            let crmState = crm?.state ?? .unknown
            switch outcome {
            case .agreed(let state):
                // The times each side gave its statement: a side still stating it later has not moved.
                let base = ConsentBase(
                    state, crmAt: crm?.state == state ? crm?.at : nil,
                    registerAt: register?.state == state ? register?.occurredAt : nil)
                if agreed != base { plan.newBase[key] = base.stored }
            case .unchanged:
                continue
            case .toCRM(let state, let rule, let isConflict):
                plan.consentToCRM.append(
                    (purpose, state, register?.legalBasis ?? settings.subscriptions[purpose]?.legalBasis))
                // HubSpot's time for the status joins the base once it took the write (the applier).
                plan.newBase[key] = ConsentBase(state, registerAt: register?.occurredAt).stored
                plan.changes.append(
                    .init(
                        key: key, direction: .toCRM, old: crmState.rawValue, new: state.rawValue, rule: rule,
                        isConflict: isConflict))
            case .toRegister(let rule, let isConflict):
                guard let crm else { continue }
                var event = crmConsentEvent(purpose, crm, contactId: local.contact.id)
                if case .consentMovedOnOneSide = rule, let followed = register?.occurredAt, event.occurredAt <= followed
                {
                    // The register's decision it replaces was dated by a clock running fast: the subject's later
                    // decision is recorded just after it (as a decision made now is), or the ledger would keep the
                    // older one as the newer.
                    event.occurredAt = DecisionTime.stamp(now: event.occurredAt, following: [followed])
                }
                plan.consentToLocal.append(event)
                plan.newBase[key] = ConsentBase(crmState, crmAt: crm.at, registerAt: event.occurredAt).stored
                plan.changes.append(
                    .init(
                        key: key, direction: .toLocal, old: (register?.state ?? .unknown).rawValue,
                        new: crmState.rawValue, rule: rule, isConflict: isConflict))
            }
        }
    }
}
