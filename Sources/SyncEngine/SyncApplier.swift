import Foundation
import Logging
import SyncCore
import SyncModel

/// Carries out plans: local changes per contact (compare-and-set on its version), then the CRM writes, then
/// the new base and synced version only for what both sides now hold.
///
/// A run that dies between the CRM write and the confirmation leaves the contact dirty (its local version is
/// ahead of the synced one): the next run re-plans it against both sides and writes only what still differs.
/// No outbox entry is needed for that; the outbox carries erasures only.
struct SyncApplier: Sendable {
    let store: any RegisterPort
    let client: any CRMPort
    let settings: SyncSettings
    let clock: any SyncClock
    let actor: String
    let logger: Logger
    /// The portal's property definitions, to refuse a value that does not fit before it is sent.
    var schema: PortalSchema?

    /// The erasure propagator on the applier's store, client, clock and logger.
    var erasures: ErasurePropagator {
        ErasurePropagator(store: store, client: client, clock: clock, logger: logger)
    }

    /// What applying a batch of plans left undone, as masked lines.
    struct Outcome: Sendable {
        /// Failures worth retrying at once (the CRM did not process the input): they hold the checkpoint.
        var failures: [String] = []
        /// Records the CRM refused for good: quarantined, retried on a slower schedule, holding back no one.
        var refused: [String] = []
        /// Plans (by index) an edit command overtook while the sync ran: an edit or an erasure of the contact
        /// since it was planned. Left for the next run (the contact is still dirty, or its erasure takes it out
        /// of the CRM), with the note the report shows; not a failure.
        var heldBack: [Int: String] = [:]
    }

    /// The three kinds of CRM write a plan may need; its base entries join the base only once their kind was
    /// written (properties: the fields and the record; consents: `consent.<purpose>`; opt-out: `optedOutOfAll`).
    enum WriteKind: Sendable {
        case properties, consents, optOut

        /// Which write carries a base entry's key to the CRM.
        init(baseKey key: SyncKey) {
            switch key {
            case .consent: self = .consents
            case .optedOutOfAll: self = .optOut
            case .field, .record, .crmId: self = .properties
            }
        }
    }

    static let editedNote = "edited while the sync ran: left for the next run"
    static let partlyWrittenNote =
        "edited while the sync ran: what the CRM already took is recorded, the rest is left for the next run"
    static let erasedNote =
        "erased while the sync ran: not written to the CRM by this run; the erasure removes it there"

    /// Applies plans; returns what failed, what the CRM refused and what an edit command overtook.
    ///
    /// Local side first (compare-and-set per contact), then the CRM writes (each preceded by a fresh look at the
    /// contacts' tombstones and versions), then the confirmation of what the CRM took, the quarantine of what it
    /// refused, and the GDPR deletes of erased subjects' stale copies.
    func apply(_ plans: [ContactPlan]) async throws -> Outcome {
        var batch = AppliedBatch(plans: plans)
        try await applyLocalSide(&batch)
        refuseValuesThePortalCannotTake(&batch)
        try await writeRecords(&batch)
        try await writeUpdates(&batch)
        try await writeConsents(&batch)
        try await writeOptOuts(&batch)
        try await forgiveFailedWritesOfErasedSubjects(&batch)
        try await confirm(&batch)
        try await quarantineRefusals(&batch)
        try await deleteStaleCopiesOfErasedSubjects(&batch)
        // Counts only: never an address or a name.
        logger.debug(
            "batch applied",
            metadata: [
                "apply.plans": "\(plans.count)", "apply.pushed": "\(batch.done.count)",
                "apply.consentWrites": "\(batch.consentWrites)", "apply.optOuts": "\(batch.optOuts)",
                "apply.erasures": "\(batch.erasures.count)", "apply.failures": "\(batch.outcome.failures.count)",
                "apply.refused": "\(batch.outcome.refused.count)", "apply.heldBack": "\(batch.outcome.heldBack.count)",
            ])
        return batch.outcome
    }

    /// The kinds of CRM write a plan needs.
    /// Which write carries a base entry's key to the CRM in this plan. Lifting the CRM's opt-out (agreed
    /// `false`) is done by the grants' subscription writes (a v4 grant lifts an opt-out of all email), not by an
    /// unsubscribe-all: without them the CRM is still opted out, and the base must not say otherwise.
    static func writeKind(of key: SyncKey, in plan: ContactPlan) -> WriteKind {
        if key == .optedOutOfAll && !plan.optOutToCRM
            && plan.changes.contains(where: { $0.key == .optedOutOfAll && $0.direction == .toCRM })
        {
            return .consents
        }
        return WriteKind(baseKey: key)
    }

    func kinds(of plan: ContactPlan) -> Set<WriteKind> {
        var kinds: Set<WriteKind> = []
        if plan.action == .createInCRM || !plan.toCRMProperties.isEmpty { kinds.insert(.properties) }
        if !subscriptionWrites(for: plan).isEmpty { kinds.insert(.consents) }
        if plan.optOutToCRM { kinds.insert(.optOut) }
        return kinds
    }

    /// The subscription status writes of a plan (purposes with a configured subscription).
    func subscriptionWrites(for plan: ContactPlan) -> [SubscriptionWrite] {
        plan.consentToCRM.compactMap { consent -> SubscriptionWrite? in
            guard let email = plan.addressInCRM,
                let id = settings.subscriptions[consent.purpose].flatMap({ Int($0.subscriptionId) })
            else {
                return nil
            }
            return SubscriptionWrite(
                email: email, subscriptionId: id, state: consent.state,
                legalBasis: (consent.legalBasis ?? settings.subscriptions[consent.purpose]?.legalBasis)?.rawValue,
                legalBasisExplanation: settings.subscriptions[consent.purpose]?.legalBasisExplanation)
        }
    }

    func localUpdate(for plan: ContactPlan, now: Date) -> LocalSyncUpdate? {
        switch plan.action {
        case .createLocal:
            guard let remote = plan.remote, let email = remote.email else { return nil }
            var contact = Contact(crmId: remote.crmId, email: email, createdAt: now, origin: .crm)
            stamp(&contact, plan.toLocalValues, remote: remote, now: now)
            var update = LocalSyncUpdate(contactId: contact.id)
            update.contact = contact
            update.consentEvents = plan.consentToLocal.map { event in
                var event = event
                event.contactId = contact.id
                return event
            }
            if let at = plan.optOutToLocal {
                update.suppressionChanges.append((.optedOutOfAll, true, "opted out in the CRM", at))
            }
            update.base = plan.newBase
            update.crmLastModified = remote.lastModified
            return update
        case .recordArchive:
            guard let id = plan.localId else { return nil }
            var update = LocalSyncUpdate(contactId: id)
            update.crmArchivedAt = .some(plan.remote?.lastModified ?? now)
            return update
        case .recordMerge:
            guard let id = plan.localId else { return nil }
            var update = LocalSyncUpdate(contactId: id)
            update.mergedIntoCrmId = .some(plan.mergedIntoCrmId)
            update.crmId = .some(nil)
            return update
        case .update:
            guard let id = plan.localId, let local = plan.local else { return nil }
            var update = LocalSyncUpdate(contactId: id)
            if !plan.toLocalValues.isEmpty, let remote = plan.remote {
                var contact = local.contact
                stamp(&contact, plan.toLocalValues, remote: remote, now: now)
                update.contact = contact
            }
            update.consentEvents = plan.consentToLocal
            if let at = plan.optOutToLocal {
                update.suppressionChanges.append((.optedOutOfAll, true, "opted out in the CRM", at))
            }
            // Keys decided toward local (or found equal) join the base now; keys pushed join it once confirmed.
            let pushedKeys = Set(plan.changes.filter { $0.direction == .toCRM }.map(\.key))
            update.base = plan.newBase.filter { !pushedKeys.contains($0.key) }
            if let crmId = plan.crmId, local.crmId != crmId {
                update.crmId = .some(crmId)
                // A contact that follows its person to a new record is no longer the archived one's, and agreed
                // nothing with the new one: its stored base goes (what this run settles is written with it).
                update.crmArchivedAt = .some(nil)
                update.replacesBase = plan.relinked
            }
            if !plan.changes.isEmpty { update.crmLastModified = plan.remote?.lastModified }
            return update
        case .none, .skip:
            // A local edit that needs nothing (already equal, or not to be pushed) is settled: marked synced (in
            // `applyLocalSide`, unless held for review or waiting on its address's writes).
            guard let local = plan.local, let id = plan.localId,
                local.isDirty || !plan.consentToLocal.isEmpty || plan.optOutToLocal != nil
            else {
                return nil
            }
            var update = LocalSyncUpdate(contactId: id)
            update.base = plan.newBase
            // A restricted contact not in the CRM still takes the decisions HubSpot holds for its address.
            update.consentEvents = plan.consentToLocal
            if let at = plan.optOutToLocal {
                update.suppressionChanges.append((.optedOutOfAll, true, "opted out in the CRM (its address)", at))
            }
            return update
        case .createInCRM:
            // The subject's decisions HubSpot holds for the address that the plan takes: recorded before the record
            // is created (their base joins with the rest once the CRM confirmed the writes).
            guard !plan.consentToLocal.isEmpty, let id = plan.localId else { return nil }
            var update = LocalSyncUpdate(contactId: id)
            update.consentEvents = plan.consentToLocal
            return update
        case .eraseInCRM:
            return nil
        }
    }

    private func stamp(_ contact: inout Contact, _ values: [ContactField: String?], remote: RemoteContact, now: Date) {
        for (field, value) in values {
            let at = remote.fieldTimes[field] ?? remote.lastModified ?? now
            _ = try? contact.set(field, to: value, stamp: FieldStamp(at: at, origin: .crm))
        }
    }
}
