import Foundation
import SyncModel
import SyncStore

/// Decides, per contact, what goes where. Pure: the same inputs give the same plan, which the report
/// and the apply step both use.
///
/// Fields merge three ways against the base agreed at the last sync: a field changed on one side only
/// is taken from that side; a field changed on both sides is a conflict for the configured policy.
/// Consent: the newest decision per purpose wins; on a tie or an unknown time the more restrictive; `unknown`
/// is never a decision.
/// Opt-out of all marketing is sticky both ways. Restricted contacts are not pushed except to spread
/// the restriction. Erased subjects are never created or updated anywhere.
struct SyncPlanner: Sendable {
    let settings: SyncSettings
    let now: Date

    struct Context {
        /// Whether the email belongs to an erased subject.
        var isErased: (EmailAddress) -> Bool
        /// Whether the CRM record (by id) is, or was merged from, a record of an erased subject.
        var isErasedRecord: (String) -> Bool = { _ in false }
        /// Whether another local contact already holds the email.
        var isEmailTaken: (EmailAddress, _ exceptLocalId: String?) -> Bool
        /// The CRM's subscription statuses of an address that has no CRM record yet (HubSpot keeps them per
        /// address): a contact created in the CRM never overwrites a newer decision held there.
        var addressConsents: (EmailAddress) -> [Purpose: (state: ConsentState, at: Date?, legalBasis: LegalBasis?)] = {
            _ in [:]
        }
    }

    /// Keys whose conflict under `newest` needs the CRM's history timestamps, which the engine fetches
    /// before planning again.
    func needsHistory(local: LocalContactState?, remote: RemoteContact?) -> Bool {
        guard let local, let remote, !remote.archived else { return false }
        for field in fieldOrder
        where settings.conflicts.policy(for: field) == .newest && remote.fieldTimes[field] == nil {
            if case .conflict = fieldDecision(field, local: local, remote: remote) { return true }
        }
        return false
    }

    private var fieldOrder: [ContactField] { ContactField.allCases.filter { settings.mapping[$0] != nil } }

    func plan(local: LocalContactState?, remote: RemoteContact?, context: Context) -> ContactPlan {
        if let remote, context.isErasedRecord(remote.crmId) { return planErasedRecord(remote) }
        switch (local, remote) {
        case (nil, nil):
            return ContactPlan(action: .none)
        case (nil, let remote?):
            return planNewFromCRM(remote, context: context)
        case (let local?, nil):
            return planLocalOnly(local, context: context)
        case (let local?, let remote?):
            return planBoth(local, remote, context: context)
        }
    }

    // MARK: One side only

    private func planNewFromCRM(_ remote: RemoteContact, context: Context) -> ContactPlan {
        var plan = ContactPlan(action: .createLocal, crmId: remote.crmId, email: remote.email)
        plan.remote = remote
        guard let email = remote.email else {
            plan.action = .skip
            plan.note = "the CRM record has no valid email"
            return plan
        }
        if context.isErased(email) {
            plan.action = .eraseInCRM
            plan.note = "erased subject found in the CRM: GDPR delete, never import"
            plan.changes.append(Self.erasureWins)
            return plan
        }
        if remote.archived {
            plan.action = .none
            return plan
        }
        if context.isEmailTaken(email, nil) {
            plan.action = .skip
            plan.note = "another local contact already holds this email"
            return plan
        }
        plan.changes.append(
            .init(
                key: "record", direction: .toLocal, old: nil, new: "created", rule: "only in the CRM", isConflict: false
            ))
        for field in fieldOrder {
            guard let value = remote.values[field] else { continue }
            plan.toLocalValues[field] = value
            plan.newBase[field.rawValue] = value
            if field != .email {
                plan.changes.append(
                    .init(
                        key: field.rawValue, direction: .toLocal, old: nil, new: value, rule: "only in the CRM",
                        isConflict: false))
            }
        }
        for (purpose, status) in remote.consents.sorted(by: { $0.key < $1.key }) where status.state != .unknown {
            plan.consentToLocal.append(crmConsentEvent(purpose, status, contactId: ""))
            plan.newBase["consent.\(purpose)"] = status.state.rawValue
            plan.changes.append(
                .init(
                    key: "consent.\(purpose)", direction: .toLocal, old: nil, new: status.state.rawValue,
                    rule: "only in the CRM", isConflict: false))
        }
        if remote.isOptedOut {
            plan.optOutToLocal = remote.optedOutAt ?? remote.lastModified ?? now
            plan.changes.append(
                .init(
                    key: "optedOutOfAll", direction: .toLocal, old: nil, new: "true", rule: "opt-out is sticky",
                    isConflict: false))
        }
        plan.newBase["optedOutOfAll"] = remote.isOptedOut ? "true" : "false"
        return plan
    }

    /// A record of an erased subject known by its id, whatever address it carries now (the CRM may have
    /// changed it): deleted there, never imported, never matched to another local contact.
    private func planErasedRecord(_ remote: RemoteContact) -> ContactPlan {
        var plan = ContactPlan(action: .eraseInCRM, crmId: remote.crmId)
        plan.note = "CRM record of an erased subject (by its id): GDPR delete, never import"
        plan.changes.append(Self.erasureWins)
        return plan
    }

    /// Records that the plan lifts the CRM's opt-out (the grants it pushes end it): agreed `false`, with its rule.
    private static func liftCRMOptOut(_ plan: inout ContactPlan, key: String, rule: String, isConflict: Bool) {
        plan.newBase[key] = "false"
        plan.changes.append(
            .init(key: key, direction: .toCRM, old: "true", new: "false", rule: rule, isConflict: isConflict))
    }

    /// The change line of a CRM record of an erased subject: deleted there, never imported.
    static let erasureWins = PlannedChange(
        key: "record", direction: .toCRM, old: "present", new: "erased", rule: "erasure wins", isConflict: false)

    private func planLocalOnly(_ local: LocalContactState, context: Context) -> ContactPlan {
        var plan = ContactPlan(
            action: .createInCRM, localId: local.contact.id, crmId: local.contact.crmId, email: local.contact.email)
        plan.local = summary(local)
        if local.crmArchivedAt != nil && settings.archivedContacts == .keepLocal {
            plan.action = .none
            plan.note = "archived in the CRM; not re-created (sync.archivedContacts = keepLocal)"
            return plan
        }
        if local.mergedIntoCrmId != nil {
            plan.action = .skip
            plan.note = "merged in the CRM into a record another local contact holds; kept for review"
            return plan
        }
        if local.isRestricted {
            plan.action = .skip
            plan.note = "processing restricted: not pushed to the CRM"
            return plan
        }
        if local.contact.crmId != nil && local.crmArchivedAt == nil {
            plan.action = .skip
            plan.note = "linked record no longer found in the CRM (deleted?): not re-created; see reconcile"
            return plan
        }
        plan.changes.append(
            .init(key: "record", direction: .toCRM, old: nil, new: "created", rule: "only local", isConflict: false))
        for field in fieldOrder {
            guard let value = local.contact[field], let property = settings.mapping[field] else { continue }
            plan.toCRMProperties[property] = value
            plan.newBase[field.rawValue] = value
            if field != .email {
                plan.changes.append(
                    .init(
                        key: field.rawValue, direction: .toCRM, old: nil, new: value, rule: "only local",
                        isConflict: false))
            }
        }
        let held = context.addressConsents(local.contact.email)
        for purpose in settings.subscriptions.keys.sorted() {
            guard let consent = local.consents[purpose], consent.state != .unknown else { continue }
            if local.isOptedOut && consent.state == .granted { continue }
            // A newer decision the CRM already holds for the address (or a withdrawal of unknown time) is not
            // overwritten: the next run, with the record linked, settles it by the usual rules.
            if let crm = held[purpose], crm.state != .unknown, crm.state != consent.state {
                let crmWins =
                    crm.at.map { $0 > consent.occurredAt || ($0 == consent.occurredAt && crm.state == .withdrawn) }
                    ?? (crm.state == .withdrawn)
                if crmWins { continue }
            }
            plan.consentToCRM.append(
                (purpose, consent.state, consent.legalBasis ?? settings.subscriptions[purpose]?.legalBasis))
            plan.newBase["consent.\(purpose)"] = consent.state.rawValue
            plan.changes.append(
                .init(
                    key: "consent.\(purpose)", direction: .toCRM, old: nil, new: consent.state.rawValue,
                    rule: "only local", isConflict: false))
        }
        if local.isOptedOut {
            plan.optOutToCRM = true
            plan.changes.append(
                .init(
                    key: "optedOutOfAll", direction: .toCRM, old: nil, new: "true", rule: "opt-out is sticky",
                    isConflict: false))
        }
        plan.newBase["optedOutOfAll"] = local.isOptedOut ? "true" : "false"
        return plan
    }

    // MARK: Both sides

    enum FieldDecision {
        case equal(String?)
        case toCRM(String?, rule: String)
        case toLocal(String?, rule: String)
        case conflict(local: String?, crm: String?)
    }

    func fieldDecision(_ field: ContactField, local: LocalContactState, remote: RemoteContact) -> FieldDecision {
        let l = local.contact[field]
        let c = remote.values[field]
        if l == c { return .equal(l) }
        let base = local.base[field.rawValue]
        let localChanged = base.map { $0 != l } ?? (l != nil)
        let crmChanged = base.map { $0 != c } ?? (c != nil)
        switch (localChanged, crmChanged) {
        case (true, false): return .toCRM(l, rule: "changed locally")
        case (false, true): return .toLocal(c, rule: "changed in the CRM")
        default: return .conflict(local: l, crm: c)
        }
    }

    private func planBoth(_ local: LocalContactState, _ remote: RemoteContact, context: Context) -> ContactPlan {
        var plan = ContactPlan(
            action: .update, localId: local.contact.id, crmId: remote.crmId, email: local.contact.email)
        plan.remote = remote
        plan.local = summary(local)
        if local.mergedIntoCrmId != nil {
            plan.action = .skip
            plan.note = "merged in the CRM into a record another local contact holds; kept for review"
            return plan
        }
        if remote.archived {
            if local.crmArchivedAt == nil {
                plan.action = .recordArchive
                plan.changes.append(
                    .init(
                        key: "record", direction: .toLocal, old: "active", new: "archived in the CRM",
                        rule: "archive recorded", isConflict: false))
            } else {
                plan.action = .none
            }
            return plan
        }
        if local.contact.crmId != remote.crmId {
            plan.changes.append(
                .init(
                    key: "crmId", direction: .toLocal, old: local.contact.crmId, new: remote.crmId,
                    rule: local.contact.crmId == nil ? "matched by email" : "merged in the CRM", isConflict: false))
        }
        let restricted = local.isRestricted
        for field in fieldOrder {
            if remote.invalidFields.contains(field) { continue }
            switch fieldDecision(field, local: local, remote: remote) {
            case .equal(let value):
                if local.base[field.rawValue] != .some(value) { plan.newBase[field.rawValue] = value }
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
        planConsents(local, remote, into: &plan)
        planOptOut(local, remote, into: &plan)
        if plan.changes.isEmpty && plan.newBase.isEmpty { plan.action = .none }
        return plan
    }

    private func pushField(
        _ field: ContactField, _ value: String?, old: String?, rule: String, conflict: Bool, restricted: Bool,
        into plan: inout ContactPlan
    ) {
        guard !restricted, let property = settings.mapping[field] else {
            plan.note = "processing restricted: local changes are not pushed"
            return
        }
        plan.toCRMProperties[property] = value ?? ""
        plan.newBase[field.rawValue] = value
        plan.changes.append(
            .init(key: field.rawValue, direction: .toCRM, old: old, new: value, rule: rule, isConflict: conflict))
    }

    private func pullField(
        _ field: ContactField, _ value: String?, old: String?, rule: String, conflict: Bool, context: Context,
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
        plan.newBase[field.rawValue] = value
        plan.changes.append(
            .init(key: field.rawValue, direction: .toLocal, old: old, new: value, rule: rule, isConflict: conflict))
    }

    private func resolveConflict(_ field: ContactField, local: LocalContactState, remote: RemoteContact) -> (
        ChangeOrigin, String
    ) {
        switch settings.conflicts.policy(for: field) {
        case .local: return (.local, "conflict: policy local")
        case .crm: return (.crm, "conflict: policy crm")
        case .newest:
            let localTime = local.contact.stamps[field]?.at
            let crmTime = remote.fieldTimes[field] ?? remote.lastModified
            switch (localTime, crmTime) {
            case (let l?, let c?) where l > c: return (.local, "conflict: newest (local)")
            case (let l?, let c?) where c > l: return (.crm, "conflict: newest (crm)")
            default:
                let side = settings.conflicts.tieBreaker
                return (side, "conflict: tie, tie-breaker \(side.rawValue)")
            }
        }
    }

    // MARK: Consent and suppression

    /// The base value of `optedOutOfAll` saying the CRM's opt-out of all email is the restriction crmsync spread,
    /// not the subject's decision.
    static let restrictionSpread = "restriction"

    static func isRestrictionSpread(_ base: [String: String?]) -> Bool {
        base["optedOutOfAll"] == .some(restrictionSpread)
    }

    /// Whether the CRM shows `status` only because crmsync spread a restriction there: a withdrawal stamped no later
    /// than the opt-out that spread it (unsubscribe-all stamps every subscription). Without the opt-out's time
    /// this cannot be told, and the withdrawal counts as the subject's (safety first).
    private func isRestrictionEcho(
        _ status: (state: ConsentState, at: Date?, legalBasis: LegalBasis?), _ local: LocalContactState,
        _ remote: RemoteContact
    ) -> Bool {
        guard remote.isOptedOut, Self.isRestrictionSpread(local.base), status.state == .withdrawn,
            let at = status.at, let spreadAt = remote.optedOutAt
        else { return false }
        return at <= spreadAt
    }

    /// Whether a CRM decision at `at` falls while the contact was opted out here: it is opted out now, or the
    /// decision is no later than the local re-consent that lifted the opt-out (earlier ones the opt-out withdrew).
    private func isDuringLocalOptOut(_ at: Date?, _ local: LocalContactState) -> Bool {
        guard let optOut = local.suppressions[.optedOutOfAll] else { return false }
        if optOut.isActive { return true }
        guard optOut.origin == .local else { return false }
        return at.map { $0 <= optOut.changedAt } ?? true
    }

    private func planConsents(_ local: LocalContactState, _ remote: RemoteContact, into plan: inout ContactPlan) {
        for purpose in settings.subscriptions.keys.sorted() {
            let key = "consent.\(purpose)"
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
                        rule: "restriction lifted: consent restored", isConflict: false))
                continue
            }
            // A side that never stated anything, or says `unknown`, has no decision: it never competes with
            // one (NOT_SPECIFIED never overrides a withdrawal, and an `unknown` is never pushed over one).
            let winner: ChangeOrigin
            let rule: String
            if crmState == .granted && isDuringLocalOptOut(c?.at, local) {
                // A CRM-side grant made while opted out here is answered by opting out again, never taken; once a
                // re-consent lifted the opt-out, the purpose's own state (withdrawn by the opt-out) stands.
                if local.isOptedOut || localState != .withdrawn { continue }
                (winner, rule) = (.local, "consent: a CRM grant during the opt-out is refused")
            } else if localState == .unknown {
                (winner, rule) = (.crm, "consent: only the CRM has a decision")
            } else if crmState == .unknown {
                (winner, rule) = (.local, "consent: only local has a decision")
            } else if let lt = l?.occurredAt, let ct = c?.at, lt != ct {
                (winner, rule) = lt > ct ? (.local, "consent: newest (local)") : (.crm, "consent: newest (crm)")
            } else {
                winner = localState.restrictiveness >= crmState.restrictiveness ? .local : .crm
                rule = "consent: tie or unknown time, more restrictive wins"
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

    private func planOptOut(_ local: LocalContactState, _ remote: RemoteContact, into plan: inout ContactPlan) {
        let localOut = local.isOptedOut
        let crmOut = remote.isOptedOut
        let key = "optedOutOfAll"
        if localOut && !crmOut || local.isRestricted && !crmOut {
            plan.optOutToCRM = true
            if localOut {
                plan.newBase[key] = "true"
            } else {
                // Marked before the write, so the CRM's opt-out is known as crmsync's even if the reply is lost.
                plan.baseBeforeConfirmation[key] = Self.restrictionSpread
            }
            let rule = localOut ? "opt-out is sticky" : "restriction spread as suppression"
            plan.changes.append(
                .init(key: key, direction: .toCRM, old: "false", new: "true", rule: rule, isConflict: false))
            return
        }
        if crmOut && Self.isRestrictionSpread(local.base) && (local.isRestricted || !localOut) {
            // The CRM's opt-out is the restriction crmsync spread, not the subject's decision: never taken locally.
            // Lifted, the grants restored above end it (a v4 subscription write lifts an opt-out of all email); with
            // none to restore, the CRM stays opted out, which is harmless.
            guard !local.isRestricted, plan.consentToCRM.contains(where: { $0.state == .granted }) else { return }
            Self.liftCRMOptOut(&plan, key: key, rule: "restriction lifted: its opt-out removed", isConflict: false)
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
                    if !Self.isRestrictionSpread(local.base) { plan.newBase[key] = Self.restrictionSpread }
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
                plan.changes.removeAll { change in dropped.contains { change.key == "consent.\($0)" } }
                for purpose in dropped { plan.newBase.removeValue(forKey: "consent.\(purpose)") }
                for (purpose, consent) in local.consents.sorted(by: { $0.key < $1.key })
                where isReConsented(purpose) && settings.subscriptions[purpose] != nil
                    && !plan.consentToCRM.contains(where: { $0.purpose == purpose })
                {
                    let crmState = remote.consents[purpose]?.state ?? .unknown
                    plan.consentToCRM.append(
                        (purpose, .granted, consent.legalBasis ?? settings.subscriptions[purpose]?.legalBasis))
                    plan.newBase["consent.\(purpose)"] = ConsentState.granted.rawValue
                    plan.changes.append(
                        .init(
                            key: "consent.\(purpose)", direction: .toCRM, old: crmState.rawValue,
                            new: ConsentState.granted.rawValue, rule: "re-consent after the opt-out", isConflict: false)
                    )
                }
                // With nothing re-consented left to grant (withdrawn again since), the CRM keeps its opt-out.
                guard plan.consentToCRM.contains(where: { $0.state == .granted }) else { return }
                Self.liftCRMOptOut(
                    &plan, key: key, rule: "lifted by local re-consent after the opt-out", isConflict: true)
                return
            }
            plan.optOutToLocal = remote.optedOutAt ?? remote.lastModified ?? now
            plan.newBase[key] = "true"
            // Grants pushed in the same plan would re-subscribe someone who opted out: drop them.
            for grant in plan.consentToCRM where grant.state == .granted {
                plan.newBase.removeValue(forKey: "consent.\(grant.purpose)")
            }
            plan.consentToCRM.removeAll { $0.state == .granted }
            plan.changes.removeAll {
                $0.direction == .toCRM && $0.key.hasPrefix("consent.") && $0.new == ConsentState.granted.rawValue
            }
            plan.changes.append(
                .init(
                    key: key, direction: .toLocal, old: "false", new: "true", rule: "opt-out is sticky",
                    isConflict: false))
            return
        }
        let agreed = localOut ? "true" : "false"
        if local.base[key] != .some(agreed) { plan.newBase[key] = agreed }
    }

    private func crmConsentEvent(
        _ purpose: Purpose, _ status: (state: ConsentState, at: Date?, legalBasis: LegalBasis?), contactId: String
    ) -> ConsentEvent {
        ConsentEvent(
            contactId: contactId, purpose: purpose, state: status.state, legalBasis: status.legalBasis,
            explanation: nil, source: "crm", occurredAt: status.at ?? now, origin: .crm)
    }

    private func summary(_ local: LocalContactState) -> LocalSnapshotSummary {
        LocalSnapshotSummary(
            contact: local.contact, localVersion: local.localVersion, crmId: local.contact.crmId, isDirty: local.isDirty
        )
    }
}
