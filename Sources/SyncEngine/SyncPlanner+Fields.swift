import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

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
            plan.staysUnsynced = local.isDirty
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
        noteRefusedValues(remote, into: &plan)
        for field in fieldOrder {
            if remote.invalidFields.contains(field) {
                // The CRM's value cannot be taken; a value the register changed since the last sync replaces it
                // there (the refused value is never shown).
                let value = local.contact[field]
                if value != nil, local.base[.field(field)].map({ $0 != value }) ?? true {
                    pushField(
                        field, value, old: Self.refusedValueLabel, rule: .changedLocally,
                        conflict: false, restricted: restricted, into: &plan)
                }
                continue
            }
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
            // A CRM user gave the record an erased subject's address: it must not stay in HubSpot, and the other
            // person's record must not be lost with it. The register's address goes back on the record (every run
            // until it holds), and the erased address is never shown (it is personal data of an erased subject).
            if let value, let email = try? EmailAddress(value), context.isErased(email), let own = plan.email,
                let property = settings.mapping[.email]
            {
                plan.toCRMProperties[property] = own.normalized
                plan.newBase[.field(.email)] = own.normalized
                plan.changes.append(
                    .init(
                        key: .field(.email), direction: .toCRM, old: Self.erasedAddressLabel, new: own.normalized,
                        rule: .erasureWins, isConflict: false))
                plan.note = "the CRM gave this record an erased subject's address: the register's address is restored"
                return
            }
            guard let value, let email = try? EmailAddress(value), !context.isEmailTaken(email, plan.localId) else {
                plan.note = "the CRM's email change is not taken: the address is invalid or held by another contact"
                return
            }
        }
        plan.toLocalValues[field] = .some(value)
        plan.newBase[.field(field)] = value
        plan.changes.append(
            .init(key: .field(field), direction: .toLocal, old: old, new: value, rule: rule, isConflict: conflict))
    }

    /// A CRM value the register cannot take (a tab, a value over 256 characters, five address lines) is not taken,
    /// and never silently: the contact's note names the field and the rule (never the value), every run that
    /// examines it, and `reconcile` counts it (`refusedValues`).
    func noteRefusedValues(_ remote: RemoteContact, into plan: inout ContactPlan) {
        let refused = fieldOrder.filter(remote.invalidFields.contains).map { field in
            "the CRM's \(field.rawValue) is not taken: it \(remote.invalidReasons[field] ?? "is not valid here")"
        }
        guard !refused.isEmpty else { return }
        plan.note = ([plan.note].compactMap { $0 } + refused).joined(separator: "; ")
    }

    /// How a report names a CRM value the register refused.
    static let refusedValueLabel = "(a value the register refuses)"

    /// How a report names an erased subject's address it must not show.
    static let erasedAddressLabel = "(an erased subject's address)"

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
