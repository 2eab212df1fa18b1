import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

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
        /// What HubSpot holds for the address's opt-out of all email, where the engine read it (a contact with no
        /// live record to sync with); nil: not read.
        var addressOptOut: (EmailAddress) -> AddressOptOut? = { _ in nil }
    }

    /// An address's opt-out of all email as HubSpot holds it.
    enum AddressOptOut: Equatable {
        case notOptedOut
        /// Opted out, at HubSpot's time for it.
        case optedOut(at: Date)
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

    var fieldOrder: [ContactField] { ContactField.allCases.filter { settings.mapping[$0] != nil } }

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

    /// A local contact whose CRM record was merged into a survivor another local contact holds: unlinked and
    /// kept for review, never a duplicate.
    func planMergedAway(_ local: LocalContactState, survivor: String) -> ContactPlan {
        var plan = ContactPlan(
            action: .recordMerge, localId: local.contact.id, crmId: survivor, email: local.contact.email)
        plan.mergedIntoCrmId = survivor
        plan.local = summary(local)
        plan.note = Self.mergedForReview
        plan.staysUnsynced = local.isDirty
        return plan
    }

    static let mergedForReview = "merged in the CRM into a record another local contact holds; kept for review"

    // MARK: One side only

    func planNewFromCRM(_ remote: RemoteContact, context: Context) -> ContactPlan {
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
                key: .record, direction: .toLocal, old: nil, new: "created", rule: .onlyInCRM, isConflict: false
            ))
        noteRefusedValues(remote, into: &plan)
        for field in fieldOrder {
            guard let value = remote.values[field] else { continue }
            plan.toLocalValues[field] = value
            plan.newBase[.field(field)] = value
            if field != .email {
                plan.changes.append(
                    .init(
                        key: .field(field), direction: .toLocal, old: nil, new: value, rule: .onlyInCRM,
                        isConflict: false))
            }
        }
        for (purpose, status) in remote.consents.sorted(by: { $0.key < $1.key }) where status.state != .unknown {
            plan.consentToLocal.append(crmConsentEvent(purpose, status, contactId: ""))
            plan.newBase[.consent(purpose)] =
                ConsentBase(status.state, crmAt: status.at, registerAt: status.at ?? now).stored
            plan.changes.append(
                .init(
                    key: .consent(purpose), direction: .toLocal, old: nil, new: status.state.rawValue,
                    rule: .onlyInCRM, isConflict: false))
        }
        if remote.isOptedOut {
            plan.optOutToLocal = remote.optedOutAt ?? remote.lastModified ?? now
            plan.changes.append(
                .init(
                    key: .optedOutOfAll, direction: .toLocal, old: nil, new: "true", rule: .optOutIsSticky,
                    isConflict: false))
        }
        plan.optOutBase = .agreed(remote.isOptedOut)
        return plan
    }

    /// A record of an erased subject known by its id, whatever address it carries now (the CRM may have
    /// changed it): deleted there, never imported, never matched to another local contact.
    func planErasedRecord(_ remote: RemoteContact) -> ContactPlan {
        var plan = ContactPlan(action: .eraseInCRM, crmId: remote.crmId)
        plan.note = "CRM record of an erased subject (by its id): GDPR delete, never import"
        plan.changes.append(Self.erasureWins)
        return plan
    }

    /// Records that the plan lifts the CRM's opt-out (the grants it pushes end it): agreed `false`, with its rule.
    static func liftCRMOptOut(_ plan: inout ContactPlan, key: SyncKey, rule: SyncRule, isConflict: Bool) {
        plan.optOutBase = .agreed(false)
        plan.changes.append(
            .init(key: key, direction: .toCRM, old: "true", new: "false", rule: rule, isConflict: isConflict))
    }

    /// The change line of a CRM record of an erased subject: deleted there, never imported.
    static let erasureWins = PlannedChange(
        key: .record, direction: .toCRM, old: "present", new: "erased", rule: .erasureWins, isConflict: false)

    func planLocalOnly(_ local: LocalContactState, context: Context) -> ContactPlan {
        var plan = ContactPlan(
            action: .createInCRM, localId: local.contact.id, crmId: local.contact.crmId, email: local.contact.email)
        plan.local = summary(local)
        if local.crmArchivedAt != nil && settings.archivedContacts == .keepLocal {
            plan.action = .none
            plan.note = "archived in the CRM; not re-created (sync.archivedContacts = keepLocal)"
            followDecisionsByAddress(local, context: context, into: &plan)
            return plan
        }
        if local.mergedIntoCrmId != nil {
            plan.action = .skip
            plan.note = Self.mergedForReview
            plan.staysUnsynced = local.isDirty
            followDecisionsByAddress(local, context: context, into: &plan)
            return plan
        }
        if local.isRestricted {
            plan.action = .skip
            plan.note = "processing restricted: not pushed to the CRM"
            // Never created there, or its record deleted in the CRM: the subject's decisions held for the address
            // are taken, and the register's objection and withdrawals still reach the address (HubSpot keeps them
            // per address: a record a form creates later starts opted out).
            followDecisionsByAddress(local, context: context, into: &plan)
            return plan
        }
        if local.contact.crmId != nil && local.crmArchivedAt == nil {
            plan.action = .skip
            plan.note = "linked record no longer found in the CRM (deleted?): not re-created; see reconcile"
            followDecisionsByAddress(local, context: context, into: &plan)
            return plan
        }
        plan.changes.append(
            .init(key: .record, direction: .toCRM, old: nil, new: "created", rule: .onlyLocal, isConflict: false))
        for field in fieldOrder {
            guard let value = local.contact[field], let property = settings.mapping[field] else { continue }
            plan.toCRMProperties[property] = value
            plan.newBase[.field(field)] = value
            if field != .email {
                plan.changes.append(
                    .init(
                        key: .field(field), direction: .toCRM, old: nil, new: value, rule: .onlyLocal,
                        isConflict: false))
            }
        }
        let held = context.addressConsents(local.contact.email)
        for purpose in settings.subscriptions.keys.sorted() {
            let consent = local.consents[purpose].flatMap { $0.state == .unknown ? nil : $0 }
            // The subject's decision HubSpot holds for the address (a form or a preference centre before any record)
            // where the register has none, or an older one (or a withdrawal of unknown time): taken now, as the
            // record is created. Left to the next run, it was lost when a CRM user moved the record to another
            // address first: HubSpot keeps statuses per address (checker seed 12000883). While the register holds
            // an opt-out of all marketing, a grant is not taken (nor pushed).
            if let crm = held[purpose], crm.state != .unknown, crm.state != consent?.state,
                consent.map({ Self.addressDecision(crm, winsOver: $0) }) ?? true,
                !(crm.state == .granted
                    && (local.isOptedOut || Self.subjectFacts(local, nil).isDuringRegisterOptOut(crm.at)))
            {
                let event = crmConsentEvent(purpose, crm, contactId: local.contact.id)
                plan.consentToLocal.append(event)
                plan.newBase[.consent(purpose)] =
                    ConsentBase(crm.state, crmAt: crm.at, registerAt: event.occurredAt).stored
                plan.changes.append(
                    .init(
                        key: .consent(purpose), direction: .toLocal, old: (consent?.state ?? .unknown).rawValue,
                        new: crm.state.rawValue, rule: consent == nil ? .consentOnlyCRM : .consentNewest(.crm),
                        isConflict: false))
                continue
            }
            guard let consent else {
                // The register has no decision (and HubSpot's for the address is not taken): HubSpot's is the base
                // the next run compares with, so a decision recorded here meanwhile is known as the newer one.
                if let crm = held[purpose], crm.state != .unknown, let at = crm.at {
                    plan.newBase[.consent(purpose)] = ConsentBase(crm.state, crmAt: at).stored
                }
                continue
            }
            if local.isOptedOut && consent.state == .granted { continue }
            // A newer decision the CRM holds for the address that is not taken (a grant while opted out here) is
            // not overwritten either: the next run, with the record linked, settles it by the usual rules.
            if let crm = held[purpose], crm.state != .unknown, crm.state != consent.state,
                Self.addressDecision(crm, winsOver: consent)
            {
                continue
            }
            plan.consentToCRM.append(
                (purpose, consent.state, consent.legalBasis ?? settings.subscriptions[purpose]?.legalBasis))
            plan.newBase[.consent(purpose)] = ConsentBase(consent.state, registerAt: consent.occurredAt).stored
            plan.changes.append(
                .init(
                    key: .consent(purpose), direction: .toCRM, old: nil, new: consent.state.rawValue,
                    rule: .onlyLocal, isConflict: false))
        }
        if local.isOptedOut {
            plan.optOutToCRM = true
            plan.changes.append(
                .init(
                    key: .optedOutOfAll, direction: .toCRM, old: nil, new: "true", rule: .optOutIsSticky,
                    isConflict: false))
        }
        plan.optOutBase = .agreed(local.isOptedOut)
        return plan
    }

    /// Whether a decision HubSpot holds for an address wins over the register's (``ConsentPrecedence``: newer, or
    /// as old or of unknown time and more restrictive).
    static func addressDecision(
        _ crm: (state: ConsentState, at: Date?, legalBasis: LegalBasis?), winsOver consent: ConsentEvent
    ) -> Bool {
        ConsentPrecedence.prevails(StatedDecision(crm.state, at: crm.at), over: consent.stated)
    }

    /// A restricted contact the CRM holds no record of is not pushed, but the decisions HubSpot holds for its
    /// address that the register has not (or holds older ones of) are the subject's: taken, as a linked
    /// restricted contact's CRM decisions are. A grant made while opted out here is not.
    func takeAddressDecisions(
        _ local: LocalContactState, _ held: [Purpose: (state: ConsentState, at: Date?, legalBasis: LegalBasis?)],
        into plan: inout ContactPlan
    ) {
        let timesApply = Self.baseIsAbout(local, nil)
        for purpose in settings.subscriptions.keys.sorted() {
            guard let crm = held[purpose], crm.state != .unknown else { continue }
            let consent = local.consents[purpose].flatMap { $0.state == .unknown ? nil : $0 }
            guard crm.state != consent?.state else { continue }
            if let consent, !Self.addressDecision(crm, winsOver: consent) { continue }
            // HubSpot's status still the one agreed at the last sync (crmsync's own push included): no decision since.
            if Self.consentBase(local, purpose, timesApply: timesApply)?.holds(
                crm: StatedDecision(crm.state, at: crm.at))
                == true
            {
                continue
            }
            if crm.state == .granted && Self.subjectFacts(local, nil).isDuringRegisterOptOut(crm.at) { continue }
            plan.consentToLocal.append(crmConsentEvent(purpose, crm, contactId: local.contact.id))
            plan.changes.append(
                .init(
                    key: .consent(purpose), direction: .toLocal, old: (consent?.state ?? .unknown).rawValue,
                    new: crm.state.rawValue, rule: consent == nil ? .consentOnlyCRM : .consentNewest(.crm),
                    isConflict: false))
        }
    }

    /// A contact with no live record to sync with (kept for review after a merge, archived in the CRM, its record
    /// deleted by someone) still has an address, and HubSpot keeps decisions per address, whatever record carries
    /// it, or none: the subject's newer decisions held there are taken, and the register's objection and
    /// withdrawals reach the address (never a grant: with no record the register can agree with, only the
    /// restrictive decisions travel).
    func followDecisionsByAddress(_ local: LocalContactState, context: Context, into plan: inout ContactPlan) {
        let held = context.addressConsents(local.contact.email)
        takeAddressDecisions(local, held, into: &plan)
        // The subject's opt-out held for the address is theirs, unless crmsync spread it for a restriction, or a
        // re-consent recorded here after it lifted it.
        let optOut = context.addressOptOut(local.contact.email)
        if !local.isOptedOut, case .optedOut(let at) = optOut, local.base.optOutBase?.marksSpread != true {
            let lifted = local.suppressions[.optedOutOfAll].flatMap { $0.isActive ? nil : $0.changedAt }
            if lifted.map({ $0 <= at }) ?? true {
                plan.optOutToLocal = at
                plan.changes.append(
                    .init(
                        key: .optedOutOfAll, direction: .toLocal, old: "false", new: "true", rule: .optOutIsSticky,
                        isConflict: false))
            }
        }
        if local.isOptedOut, optOut == .notOptedOut {
            plan.optOutToCRM = true
            plan.changes.append(
                .init(
                    key: .optedOutOfAll, direction: .toCRM, old: "false", new: "true", rule: .optOutIsSticky,
                    isConflict: false))
        }
        let timesApply = Self.baseIsAbout(local, nil)
        for purpose in settings.subscriptions.keys.sorted() {
            guard let consent = local.consents[purpose], consent.state == .withdrawn,
                let crm = held[purpose], crm.state == .granted
            else { continue }
            let unmoved =
                Self.consentBase(local, purpose, timesApply: timesApply)?.holds(
                    crm: StatedDecision(crm.state, at: crm.at))
                == true
            guard unmoved || !Self.addressDecision(crm, winsOver: consent) else { continue }
            plan.consentToCRM.append((purpose, .withdrawn, consent.legalBasis))
            plan.changes.append(
                .init(
                    key: .consent(purpose), direction: .toCRM, old: ConsentState.granted.rawValue,
                    new: ConsentState.withdrawn.rawValue, rule: .consentNewest(.local), isConflict: false))
        }
    }

    func crmConsentEvent(
        _ purpose: Purpose, _ status: (state: ConsentState, at: Date?, legalBasis: LegalBasis?), contactId: String
    ) -> ConsentEvent {
        ConsentEvent(
            contactId: contactId, purpose: purpose, state: status.state, legalBasis: status.legalBasis,
            explanation: nil, source: "crm", occurredAt: status.at ?? now, origin: .crm)
    }

    func summary(_ local: LocalContactState) -> LocalSnapshotSummary {
        LocalSnapshotSummary(
            contact: local.contact, localVersion: local.localVersion, crmId: local.contact.crmId, isDirty: local.isDirty
        )
    }
}
