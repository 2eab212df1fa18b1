import Foundation
import SyncModel
import SyncStore

/// Records on both sides, field by field: a three-way merge against the base agreed at the last sync, and the
/// conflict policy where both sides changed a field.
extension SyncPlanner {
    // MARK: Both sides

    enum FieldDecision {
        case equal(String?)
        case toCRM(String?, rule: SyncRule)
        case toLocal(String?, rule: SyncRule)
        case conflict(local: String?, crm: String?)
    }

    func fieldDecision(_ field: ContactField, local: LocalContactState, remote: RemoteContact) -> FieldDecision {
        let l = local.contact[field]
        let c = remote.values[field]
        if l == c { return .equal(l) }
        let base = local.base[.field(field)]
        let localChanged = base.map { $0 != l } ?? (l != nil)
        let crmChanged = base.map { $0 != c } ?? (c != nil)
        switch (localChanged, crmChanged) {
        case (true, false): return .toCRM(l, rule: .changedLocally)
        case (false, true): return .toLocal(c, rule: .changedInCRM)
        default: return .conflict(local: l, crm: c)
        }
    }

    func planBoth(_ local: LocalContactState, _ remote: RemoteContact, context: Context) -> ContactPlan {
        var plan = ContactPlan(
            action: .update, localId: local.contact.id, crmId: remote.crmId, email: local.contact.email)
        plan.remote = remote
        plan.local = summary(local)
        if local.mergedIntoCrmId != nil {
            plan.action = .skip
            plan.note = Self.mergedForReview
            plan.heldForReview = local.isDirty
            return plan
        }
        if remote.archived {
            if local.crmArchivedAt == nil {
                plan.action = .recordArchive
                plan.changes.append(
                    .init(
                        key: .record, direction: .toLocal, old: "active", new: "archived in the CRM",
                        rule: .archiveRecorded, isConflict: false))
            } else {
                plan.action = .none
            }
            return plan
        }
        if local.contact.crmId != remote.crmId {
            plan.changes.append(
                .init(
                    key: .crmId, direction: .toLocal, old: local.contact.crmId, new: remote.crmId,
                    rule: local.contact.crmId == nil ? .matchedByEmail : .mergedInCRM, isConflict: false))
        }
        let restricted = local.isRestricted
        for field in fieldOrder {
            if remote.invalidFields.contains(field) { continue }
            switch fieldDecision(field, local: local, remote: remote) {
            case .equal(let value):
                if local.base[.field(field)] != .some(value) { plan.newBase[.field(field)] = value }
            case .toCRM(let value, let rule):
                pushField(
                    field, value, old: remote.values[field], rule: rule, conflict: false, restricted: restricted,
                    into: &plan)
            case .toLocal(let value, let rule):
                pullField(
                    field, value, old: local.contact[field], rule: rule, conflict: false, context: context, into: &plan)
            case .conflict(let l, let c):
                let (winner, rule) = resolveConflict(field, local: local, remote: remote)
                if winner == .local {
                    pushField(field, l, old: c, rule: rule, conflict: true, restricted: restricted, into: &plan)
                } else {
                    pullField(field, c, old: l, rule: rule, conflict: true, context: context, into: &plan)
                }
            }
        }
        // Taking the CRM's address change, the plan's CRM writes (consent, opt-out) go to the address the record
        // has now, whose statuses it compared: HubSpot keeps them per address.
        if plan.toLocalValues[.email] != nil, let moved = remote.email { plan.email = moved }
        planConsents(local, remote, into: &plan)
        planOptOut(local, remote, into: &plan)
        if plan.changes.isEmpty && plan.newBase.isEmpty { plan.action = .none }
        return plan
    }

    func pushField(
        _ field: ContactField, _ value: String?, old: String?, rule: SyncRule, conflict: Bool, restricted: Bool,
        into plan: inout ContactPlan
    ) {
        guard !restricted, let property = settings.mapping[field] else {
            plan.note = "processing restricted: local changes are not pushed"
            return
        }
        plan.toCRMProperties[property] = value ?? ""
        plan.newBase[.field(field)] = value
        plan.changes.append(
            .init(key: .field(field), direction: .toCRM, old: old, new: value, rule: rule, isConflict: conflict))
    }

    func pullField(
        _ field: ContactField, _ value: String?, old: String?, rule: SyncRule, conflict: Bool, context: Context,
        into plan: inout ContactPlan
    ) {
        if field == .email {
            guard let value, let email = try? EmailAddress(value), !context.isErased(email),
                !context.isEmailTaken(email, plan.localId)
            else {
                plan.note = "the CRM's email change is not taken: the address is erased or held by another contact"
                return
            }
        }
        plan.toLocalValues[field] = .some(value)
        plan.newBase[.field(field)] = value
        plan.changes.append(
            .init(key: .field(field), direction: .toLocal, old: old, new: value, rule: rule, isConflict: conflict))
    }

    func resolveConflict(_ field: ContactField, local: LocalContactState, remote: RemoteContact) -> (
        ChangeOrigin, SyncRule
    ) {
        switch settings.conflicts.policy(for: field) {
        case .local: return (.local, .conflictPolicy(.local))
        case .crm: return (.crm, .conflictPolicy(.crm))
        case .newest:
            let localTime = local.contact.stamps[field]?.at
            let crmTime = remote.fieldTimes[field] ?? remote.lastModified
            switch (localTime, crmTime) {
            case (let l?, let c?) where l > c: return (.local, .conflictNewest(.local))
            case (let l?, let c?) where c > l: return (.crm, .conflictNewest(.crm))
            default:
                let side = settings.conflicts.tieBreaker
                return (side, .conflictTie(side))
            }
        }
    }
}
