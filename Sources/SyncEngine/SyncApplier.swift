import Foundation
import HubSpotClient
import Logging
import SyncModel
import SyncStore

/// Carries out plans: local changes per contact (compare-and-set on its version), then the CRM writes, then
/// the new base and synced version only for what both sides now hold.
///
/// A run that dies between the CRM write and the confirmation leaves the contact dirty (its local version is
/// ahead of the synced one), and the base entries written before the request (`baseBeforeConfirmation`) say
/// whose the CRM's new state is: the next run re-plans it against both sides and writes only what still differs.
/// No outbox entry is needed for that; the outbox carries erasures only.
struct SyncApplier: Sendable {
    let store: SyncStore
    let client: any CRMPort
    let settings: SyncSettings
    let clock: any SyncClock
    let actor: String
    let logger: Logger
    /// The portal's property definitions, to refuse a value that does not fit before it is sent.
    var schema: PortalSchema?

    func erasures(clock: any SyncClock) -> ErasurePropagator {
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

    /// Applies plans; returns what failed, what the CRM refused, and what edit commands overtook.
    ///
    /// Edit commands never wait for a sync, so the sync guards what they wrote: its local writes are
    /// compare-and-set on each contact's local version (a contact edited or erased since it was planned is left
    /// untouched, the others in the batch are applied), and immediately before every CRM write the contacts in
    /// it are checked again: one erased since is never written, one edited since is left for the next run.
    func apply(_ plans: [ContactPlan]) async throws -> Outcome {
        var failures: [String] = []
        var refusals: [(plan: ContactPlan, reason: String)] = []
        var heldBack: [Int: String] = [:]
        let now = clock.now
        var updates: [String: LocalSyncUpdate] = [:]
        var contactIds: [Int: String] = [:]

        // 1. Local side: values, consent and opt-outs from the CRM, archives, merges, links; each contact
        // compare-and-set on the version it was planned from (a push with nothing local to write only checks it).
        for (index, plan) in plans.enumerated() {
            var update = localUpdate(for: plan, now: now)
            if update == nil, plan.hasCRMWrites, plan.action != .eraseInCRM, let id = plan.localId {
                update = LocalSyncUpdate(contactId: id)
            }
            guard var update else { continue }
            if plan.action == .none || plan.action == .skip, let version = plan.local?.localVersion {
                update.syncedVersion = version
            }
            if !plan.hasCRMWrites, let version = plan.local?.localVersion { update.syncedVersion = version }
            if plan.action != .recordArchive && plan.action != .recordMerge {
                update.expectedLocalVersion = plan.local?.localVersion
            }
            contactIds[index] = update.contactId
            updates[update.contactId] = update
        }
        let applied = try store.applySyncUpdates(Array(updates.values), actor: actor)
        var overtaken: Set<String> = []
        for (index, id) in contactIds {
            guard let outcome = applied.outcome(of: id), outcome != .applied else { continue }
            heldBack[index] = outcome == .erased ? Self.erasedNote : Self.editedNote
            if let localId = plans[index].localId { overtaken.insert(localId) }
        }
        // 2. CRM side.
        let pushes = plans.filter {
            $0.hasCRMWrites && $0.action != .eraseInCRM && !overtaken.contains($0.localId ?? "")
        }
        let erasures = plans.filter { $0.action == .eraseInCRM }
        var confirmed: [String: LocalSyncUpdate] = [:]
        var failed: Set<String> = []
        var pushFailures: [(id: String, line: String)] = []
        func fail(_ plan: ContactPlan, _ reason: String, refused: Bool = false) {
            guard let id = plan.localId, !failed.contains(id) else { return }
            failed.insert(id)
            if refused {
                refusals.append((plan, reason))
            } else {
                pushFailures.append((id, "\(plan.email?.masked ?? "?"): \(reason)"))
            }
        }
        func fail(_ plan: ContactPlan, _ failure: BatchFailure, _ what: String) {
            fail(plan, "\(what) (\(failure.reason))", refused: failure.isRefusal)
        }
        // A value the portal's property definitions reject is refused before it is sent.
        if let schema {
            for plan in pushes {
                let problems = schema.problems(in: plan.toCRMProperties)
                if !problems.isEmpty { fail(plan, "not sent: " + problems.joined(separator: "; "), refused: true) }
            }
        }
        let sendable = pushes.filter { !failed.contains($0.localId ?? "") }
        // Why a plan's remaining writes were not sent (edited or erased since it was planned), and what it wrote.
        var stopped: [String: SyncApplyResult.Outcome] = [:]
        var written: [String: Set<WriteKind>] = [:]
        // Immediately before each write: the tombstones and versions of the contacts in it, read again.
        func clear(_ candidates: [ContactPlan]) throws -> [ContactPlan] {
            let open = candidates.filter { stopped[$0.localId ?? ""] == nil }
            let holds = try store.holds(
                for: open.compactMap { plan in
                    plan.localId.map {
                        PlannedSubject(
                            contactId: $0, email: plan.email, crmId: plan.crmId, localVersion: plan.local?.localVersion)
                    }
                })
            for (id, hold) in holds { stopped[id] = hold }
            return open.filter { holds[$0.localId ?? ""] == nil }
        }
        func wrote(_ kind: WriteKind, _ plan: ContactPlan) {
            if let id = plan.localId { written[id, default: []].insert(kind) }
        }

        let creates = try clear(
            sendable.filter { $0.action == .createInCRM || ($0.crmId == nil && !$0.toCRMProperties.isEmpty) })
        if !creates.isEmpty {
            let outcome = try await client.upsertByEmail(
                creates.map {
                    ContactUpsert(
                        email: $0.email?.normalized ?? "", properties: $0.toCRMProperties.filter { $0.key != "email" })
                })
            for failure in outcome.failures {
                if let plan = creates.first(where: { $0.email?.normalized == failure.key }) {
                    fail(plan, failure, "CRM refused the record")
                }
            }
            for plan in creates {
                guard let id = plan.localId, let record = outcome.written[plan.email?.normalized ?? ""] else {
                    continue
                }
                wrote(.properties, plan)
                var update = confirmed[id] ?? LocalSyncUpdate(contactId: id)
                update.crmId = .some(record.id)
                update.crmLastModified = record.lastModified
                confirmed[id] = update
            }
        }
        let linkedUpdates = try clear(
            sendable.filter { $0.action != .createInCRM && $0.crmId != nil && !$0.toCRMProperties.isEmpty })
        if !linkedUpdates.isEmpty {
            let outcome = try await client.update(
                linkedUpdates.map { ContactUpdate(id: $0.crmId!, properties: $0.toCRMProperties) })
            for failure in outcome.failures {
                if let plan = linkedUpdates.first(where: { $0.crmId == failure.key }) {
                    fail(plan, failure, "CRM refused the update")
                }
            }
            for plan in linkedUpdates where !outcome.failures.contains(where: { $0.key == plan.crmId }) {
                wrote(.properties, plan)
            }
        }
        let consenting = try clear(sendable.filter { !subscriptionWrites(for: $0).isEmpty })
        let writes = consenting.flatMap(subscriptionWrites)
        if !writes.isEmpty {
            let failuresByEmail = try await client.writeSubscriptionStatuses(writes)
            for failure in failuresByEmail {
                if let plan = consenting.first(where: { $0.email?.normalized == failure.key }) {
                    fail(plan, failure, "subscription not written")
                }
            }
            for plan in consenting where !failuresByEmail.contains(where: { $0.key == plan.email?.normalized }) {
                wrote(.consents, plan)
            }
        }
        let optingOut = try clear(sendable.filter { $0.optOutToCRM && $0.email != nil })
        if !optingOut.isEmpty {
            try await client.unsubscribeFromAll(optingOut.compactMap { $0.email?.normalized })
            for plan in optingOut { wrote(.optOut, plan) }
        }

        // A write that failed because the subject was erased meanwhile (its record already GDPR-deleted) is no
        // failure: the erasure has it in hand.
        let failedPlans = pushes.filter { failed.contains($0.localId ?? "") }
        for (id, hold) in try store.holds(
            for: failedPlans.compactMap { plan in
                plan.localId.map {
                    PlannedSubject(contactId: $0, email: plan.email, crmId: plan.crmId, localVersion: nil)
                }
            }) where hold == .erased
        {
            failed.remove(id)
            stopped[id] = .erased
            refusals.removeAll { $0.plan.localId == id }
        }
        failures += pushFailures.filter { failed.contains($0.id) }.map(\.line)

        // 3. What the CRM confirmed: base, link, synced version. A plan an edit overtook
        // midway records what the CRM took (its base entries of the kinds written, the link of a record created)
        // and stays dirty, so the next run plans the edit against what both sides now hold.
        var done: [String] = []
        for plan in pushes {
            guard let id = plan.localId, !failed.contains(id) else { continue }
            if let index = plans.firstIndex(where: { $0.localId == id }), let hold = stopped[id] {
                heldBack[index] =
                    hold == .erased
                    ? Self.erasedNote : written[id, default: []].isEmpty ? Self.editedNote : Self.partlyWrittenNote
            }
            if stopped[id] == .erased {
                // Gone from the store; whatever reached the CRM before the erasure is the erasure's to delete.
                done.append(id)
                continue
            }
            let needed = kinds(of: plan)
            let wroteAll = stopped[id] == nil || needed.isSubset(of: written[id, default: []])
            var update = confirmed[id] ?? LocalSyncUpdate(contactId: id)
            // The base never records what the CRM was not sent: only the kinds written join it.
            update.base =
                wroteAll
                ? plan.newBase
                : plan.newBase.filter { entry in
                    let kind = Self.writeKind(of: entry.key, in: plan)
                    return !needed.contains(kind) || written[id, default: []].contains(kind)
                }
            if update.crmId == nil, let crmId = plan.crmId, plan.local?.crmId != crmId { update.crmId = .some(crmId) }
            if wroteAll, let version = plan.local?.localVersion { update.syncedVersion = version }
            confirmed[id] = update
            if wroteAll { done.append(id) }
        }
        try store.applySyncUpdates(Array(confirmed.values), actor: actor)
        try store.releaseFromQuarantine(done.filter { stopped[$0] == nil })
        var refused: [String] = []
        for (plan, reason) in refusals {
            guard let id = plan.localId else { continue }
            try store.quarantine(contactId: id, localVersion: plan.local?.localVersion ?? 0, reason: reason)
            refused.append("\(plan.email?.masked ?? "?"): \(reason)")
        }

        // 4. Erased subjects found in the CRM: a GDPR delete, never an import.
        for plan in erasures {
            guard let crmId = plan.crmId else { continue }
            if try await !self.erasures(clock: clock).eraseStaleCopy(crmId: crmId) {
                failures.append("a stale CRM copy of an erased subject: GDPR delete not yet verified")
            }
        }
        // Counts only: never an address or a name.
        logger.debug(
            "batch applied",
            metadata: [
                "apply.plans": "\(plans.count)", "apply.pushed": "\(done.count)",
                "apply.consentWrites": "\(writes.count)", "apply.optOuts": "\(pushes.filter(\.optOutToCRM).count)",
                "apply.erasures": "\(erasures.count)", "apply.failures": "\(failures.count)",
                "apply.refused": "\(refused.count)", "apply.heldBack": "\(heldBack.count)",
            ])
        return Outcome(failures: failures, refused: refused, heldBack: heldBack)
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

    private func kinds(of plan: ContactPlan) -> Set<WriteKind> {
        var kinds: Set<WriteKind> = []
        if plan.action == .createInCRM || !plan.toCRMProperties.isEmpty { kinds.insert(.properties) }
        if !subscriptionWrites(for: plan).isEmpty { kinds.insert(.consents) }
        if plan.optOutToCRM { kinds.insert(.optOut) }
        return kinds
    }

    /// The subscription status writes of a plan (purposes with a configured subscription).
    private func subscriptionWrites(for plan: ContactPlan) -> [SubscriptionWrite] {
        plan.consentToCRM.compactMap { consent -> SubscriptionWrite? in
            guard let email = plan.email,
                let id = settings.subscriptions[consent.purpose].flatMap({ Int($0.subscriptionId) })
            else {
                return nil
            }
            return SubscriptionWrite(
                email: email.normalized, subscriptionId: id, state: consent.state,
                legalBasis: (consent.legalBasis ?? settings.subscriptions[consent.purpose]?.legalBasis)?.rawValue,
                legalBasisExplanation: settings.subscriptions[consent.purpose]?.legalBasisExplanation)
        }
    }

    private func localUpdate(for plan: ContactPlan, now: Date) -> LocalSyncUpdate? {
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
            update.base.merge(plan.baseBeforeConfirmation) { _, marker in marker }
            if let crmId = plan.crmId, local.crmId != crmId { update.crmId = .some(crmId) }
            if !plan.changes.isEmpty { update.crmLastModified = plan.remote?.lastModified }
            return update
        case .none, .skip:
            // A local edit that needs nothing (already equal, or not to be pushed) is settled: mark it synced.
            guard let local = plan.local, local.isDirty, let id = plan.localId else { return nil }
            var update = LocalSyncUpdate(contactId: id)
            update.base = plan.newBase
            return update
        case .createInCRM, .eraseInCRM:
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
