import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

/// What applying one batch has found so far, step by step.
struct AppliedBatch {
    let plans: [ContactPlan]
    var outcome = SyncApplier.Outcome()
    /// Local ids whose local update an edit command overtook (their CRM writes wait for the next run).
    var overtaken: Set<String> = []
    /// The plans with CRM writes whose local side went through.
    var pushes: [ContactPlan] = []
    var erasures: [ContactPlan] { plans.filter { $0.action == .eraseInCRM } }
    /// Pushes not refused before sending.
    var sendable: [ContactPlan] = []
    /// What the CRM confirmed per contact, to be written with the base.
    var confirmed: [String: LocalSyncUpdate] = [:]
    var failed: Set<String> = []
    var pushFailures: [(id: String, line: String)] = []
    var refusals: [(plan: ContactPlan, reason: String)] = []
    /// Why a plan's remaining writes were not sent (edited or erased since it was planned), and what it wrote.
    var stopped: [String: SyncApplyResult.Outcome] = [:]
    var written: [String: Set<SyncApplier.WriteKind>] = [:]
    /// Pushes the CRM now holds in full.
    var done: [String] = []
    var consentWrites = 0
    var optOuts = 0
    /// The base marks of restrictions spread in this batch, once the CRM answered (contact id → mark).
    var spreadMarkers: [String: OptOutBase] = [:]
    /// HubSpot's time for each status written in this batch (contact id → purpose → time), for the base.
    var consentWrittenAt: [String: [Purpose: Date]] = [:]

    init(plans: [ContactPlan]) { self.plans = plans }

    mutating func fail(_ plan: ContactPlan, _ reason: String, refused: Bool = false) {
        guard let id = plan.localId, !failed.contains(id) else { return }
        failed.insert(id)
        if refused {
            refusals.append((plan, reason))
        } else {
            pushFailures.append((id, "\(plan.email?.masked ?? "?"): \(reason)"))
        }
    }

    mutating func fail(_ plan: ContactPlan, _ failure: BatchFailure, _ what: String) {
        fail(plan, "\(what) (\(failure.reason))", refused: failure.isRefusal)
    }

    mutating func wrote(_ kind: SyncApplier.WriteKind, _ plan: ContactPlan) {
        if let id = plan.localId { written[id, default: []].insert(kind) }
    }
}

extension SyncApplier {
    /// 1. Local side: values, consent and opt-outs from the CRM, archives, merges, links; each contact
    /// compare-and-set on the version it was planned from (a push with nothing local to write only checks it).
    func applyLocalSide(_ batch: inout AppliedBatch) async throws {
        let now = clock.now
        var updates: [String: LocalSyncUpdate] = [:]
        var contactIds: [Int: String] = [:]
        for (index, plan) in batch.plans.enumerated() {
            var update = localUpdate(for: plan, now: now)
            if update == nil, plan.hasCRMWrites, plan.action != .eraseInCRM, let id = plan.localId {
                update = LocalSyncUpdate(contactId: id)
            }
            guard var update else { continue }
            if !plan.hasCRMWrites, !plan.staysUnsynced, let version = plan.local?.localVersion {
                update.syncedVersion = version
            }
            if plan.action != .recordArchive && plan.action != .recordMerge {
                update.expectedLocalVersion = plan.local?.localVersion
            }
            contactIds[index] = update.contactId
            updates[update.contactId] = update
        }
        let applied = try await store.applySyncUpdates(Array(updates.values), actor: actor)
        for (index, id) in contactIds {
            guard let outcome = applied.outcome(of: id), outcome != .applied else { continue }
            batch.outcome.heldBack[index] = outcome == .erased ? Self.erasedNote : Self.editedNote
            if let localId = batch.plans[index].localId { batch.overtaken.insert(localId) }
        }
        batch.pushes = batch.plans.filter {
            $0.hasCRMWrites && $0.action != .eraseInCRM && !batch.overtaken.contains($0.localId ?? "")
        }
    }

    /// A value the portal's property definitions reject is refused before it is sent.
    func refuseValuesThePortalCannotTake(_ batch: inout AppliedBatch) {
        if let schema {
            for plan in batch.pushes {
                if let refusal = schema.refusal(of: plan) { batch.fail(plan, refusal, refused: true) }
            }
        }
        batch.sendable = batch.pushes.filter { !batch.failed.contains($0.localId ?? "") }
    }

    /// Immediately before each write: the tombstones and versions of the contacts in it, read again; those an
    /// edit command overtook are left out (and stay out of the batch's later writes).
    func clear(_ candidates: [ContactPlan], in batch: inout AppliedBatch) async throws -> [ContactPlan] {
        let open = candidates.filter { batch.stopped[$0.localId ?? ""] == nil }
        let holds = try await store.holds(
            for: open.compactMap { plan in
                plan.localId.map {
                    PlannedSubject(
                        contactId: $0, email: plan.email, crmId: plan.crmId, localVersion: plan.local?.localVersion)
                }
            })
        for (id, hold) in holds { batch.stopped[id] = hold }
        return open.filter { holds[$0.localId ?? ""] == nil }
    }

    /// 2a. Records the CRM does not hold yet: upserted by email.
    func writeRecords(_ batch: inout AppliedBatch) async throws {
        let creates = try await clear(
            batch.sendable.filter { $0.action == .createInCRM || ($0.crmId == nil && !$0.toCRMProperties.isEmpty) },
            in: &batch)
        guard !creates.isEmpty else { return }
        let outcome = try await client.upsertByEmail(
            creates.map {
                ContactUpsert(
                    email: $0.email?.normalized ?? "", properties: $0.toCRMProperties.filter { $0.key != "email" })
            })
        for failure in outcome.failures {
            if let plan = creates.first(where: { $0.email?.normalized == failure.key }) {
                batch.fail(plan, failure, "CRM refused the record")
            }
        }
        for plan in creates {
            guard let id = plan.localId, let record = outcome.written[plan.email?.normalized ?? ""] else { continue }
            batch.wrote(.properties, plan)
            var update = batch.confirmed[id] ?? LocalSyncUpdate(contactId: id)
            update.crmId = .some(record.id)
            update.crmLastModified = record.lastModified
            batch.confirmed[id] = update
        }
    }

    /// 2b. Changed fields of linked records.
    func writeUpdates(_ batch: inout AppliedBatch) async throws {
        let linkedUpdates = try await clear(
            batch.sendable.filter { $0.action != .createInCRM && $0.crmId != nil && !$0.toCRMProperties.isEmpty },
            in: &batch)
        guard !linkedUpdates.isEmpty else { return }
        let outcome = try await client.update(
            linkedUpdates.map { ContactUpdate(id: $0.crmId!, properties: $0.toCRMProperties) })
        for failure in outcome.failures {
            if let plan = linkedUpdates.first(where: { $0.crmId == failure.key }) {
                batch.fail(plan, failure, "CRM refused the update")
            }
        }
        for plan in linkedUpdates where !outcome.failures.contains(where: { $0.key == plan.crmId }) {
            batch.wrote(.properties, plan)
        }
    }

    /// 2c. Consent, through the subscription statuses API only, with its legal basis.
    ///
    /// The writes go in requests of 100 inputs (a request may carry the end of one plan's writes and the start of
    /// another's), and the holds are read again before each request: a contact erased or edited while earlier
    /// requests went out gets none of its remaining writes, however large the batch.
    func writeConsents(_ batch: inout AppliedBatch) async throws {
        var pending = batch.sendable.filter { !subscriptionWrites(for: $0).isEmpty }
        var consenting: [ContactPlan] = []
        var outcome = SubscriptionWriteOutcome()
        var sentFor: [String: Int] = [:]  // plan → writes sent
        while !pending.isEmpty {
            // Only the plans the next request can reach (each has a write at least) are read again.
            let head = min(pending.count, Self.inputsPerRequest)
            let cleared = try await clear(Array(pending[..<head]), in: &batch)
            pending = cleared + pending[head...]
            var chunk: [SubscriptionWrite] = []
            var index = 0
            while index < cleared.count && chunk.count < Self.inputsPerRequest {
                let plan = pending[index]
                let writes = subscriptionWrites(for: plan)
                let id = plan.localId ?? ""
                let from = sentFor[id, default: 0]
                let take = min(writes.count - from, Self.inputsPerRequest - chunk.count)
                chunk += writes[from..<(from + take)]
                sentFor[id] = from + take
                if from + take == writes.count {
                    consenting.append(plan)
                    index += 1
                } else {
                    break
                }
            }
            pending.removeFirst(index)
            // Nothing in the chunk only when every plan the request could reach was stopped.
            guard !chunk.isEmpty else { continue }
            batch.consentWrites += chunk.count
            let part = try await client.writeSubscriptionStatuses(chunk)
            outcome.failures += part.failures
            outcome.writtenAt.merge(part.writtenAt) { _, new in new }
        }
        // A plan stopped after part of its writes went out: what went out is HubSpot's now; the confirmation
        // records only complete kinds (``confirm(_:)``).
        guard !consenting.isEmpty || !outcome.failures.isEmpty else { return }
        // HubSpot names a refused input by the address it was written under: the record's own spelling (an
        // internationalised address may be in Unicode there).
        func names(_ plan: ContactPlan, _ failure: BatchFailure) -> Bool {
            failure.key == plan.email?.normalized || failure.key == plan.addressInCRM?.lowercased()
        }
        for failure in outcome.failures {
            if let plan = consenting.first(where: { names($0, failure) }) {
                batch.fail(plan, failure, "subscription not written")
            }
        }
        for plan in consenting where !outcome.failures.contains(where: { names(plan, $0) }) {
            batch.wrote(.consents, plan)
            guard let id = plan.localId, let address = plan.addressInCRM else { continue }
            for consent in plan.consentToCRM {
                guard let subscription = settings.subscriptions[consent.purpose].flatMap({ Int($0.subscriptionId) }),
                    let at = outcome.writtenAt[WrittenStatus(email: address, subscriptionId: subscription)]
                else { continue }
                batch.consentWrittenAt[id, default: [:]][consent.purpose] = at
            }
        }
    }

    /// Inputs HubSpot takes in one batch request.
    static let inputsPerRequest = 100

    /// 2d. Opt-outs of all email (unsubscribe-all), never a contact property.
    func writeOptOuts(_ batch: inout AppliedBatch) async throws {
        let optingOut = try await clear(batch.sendable.filter { $0.optOutToCRM && $0.email != nil }, in: &batch)
        guard !optingOut.isEmpty else { return }
        // The subject's objection reaches every address of theirs the plan knows: the record's, and the register's
        // own when the record carries another (a CRM merge into a record with another primary address keeps the
        // subject's as a secondary one; HubSpot keeps opt-outs per address).
        let emails = Array(
            Set(
                optingOut.flatMap { plan in
                    [plan.addressInCRM, plan.local.map { $0.contact.email.normalized }].compactMap { $0 }
                })
        ).sorted()
        // A plan that failed an earlier write still sends its opt-out: whether this one landed is its own.
        let failedBefore = batch.failed
        // HubSpot's time for each opt-out, once read (the write's answer does not carry it).
        var times: [String: Date]?
        do {
            try await client.unsubscribeFromAll(emails)
        } catch let cancelled as CancellationError {
            throw cancelled
        } catch {
            // No answer: what the CRM holds now says whether the write landed (an opt-out there this instant is
            // taken for this write's). If even that cannot be read, the run fails, and the next run takes an
            // unmarked opt-out for the subject's (README, "Restriction of processing").
            guard let read = try? await client.optedOutOfAll(emails) else { throw error }
            logger.warning("opt-out reply lost; read back", metadata: ["apply.optOuts": "\(emails.count)"])
            times = read
            for plan in optingOut where plan.addressInCRM.map({ read[$0] == nil }) ?? true {
                batch.fail(plan, "opt-out not written")
            }
        }
        let landed = optingOut.filter { plan in
            plan.localId.map { failedBefore.contains($0) || !batch.failed.contains($0) } ?? false
        }
        batch.optOuts = landed.count
        for plan in landed { batch.wrote(.optOut, plan) }
        // A spread restriction is marked crmsync's with the time HubSpot gives that opt-out, so that a later
        // opt-out of the subject's is told from it. A spread whose time cannot be read is left unmarked: the
        // next run takes it as the subject's (safety first).
        let spreads = landed.filter { plan in
            plan.changes.contains { $0.key == .optedOutOfAll && $0.rule == .restrictionSpread }
        }
        guard !spreads.isEmpty else { return }
        if times == nil {
            do {
                times = try await client.optedOutOfAll(spreads.compactMap(\.addressInCRM))
            } catch let cancelled as CancellationError {
                throw cancelled
            } catch {
                logger.warning("opt-out times not read back", metadata: ["apply.spreads": "\(spreads.count)"])
            }
        }
        for plan in spreads {
            guard let id = plan.localId, let at = plan.addressInCRM.flatMap({ times?[$0] }) else { continue }
            batch.spreadMarkers[id] = .spread(at: at)
        }
    }

    /// A write that failed because the subject was erased meanwhile (its record already GDPR-deleted) is no
    /// failure: the erasure has it in hand.
    func forgiveFailedWritesOfErasedSubjects(_ batch: inout AppliedBatch) async throws {
        let failedPlans = batch.pushes.filter { batch.failed.contains($0.localId ?? "") }
        for (id, hold) in try await store.holds(
            for: failedPlans.compactMap { plan in
                plan.localId.map {
                    PlannedSubject(contactId: $0, email: plan.email, crmId: plan.crmId, localVersion: nil)
                }
            }) where hold == .erased
        {
            batch.failed.remove(id)
            batch.stopped[id] = .erased
            batch.refusals.removeAll { $0.plan.localId == id }
        }
        batch.outcome.failures += batch.pushFailures.filter { batch.failed.contains($0.id) }.map(\.line)
    }

    /// 3. What the CRM confirmed: base, link, synced version. A plan an edit overtook midway records what the CRM
    /// took (its base entries of the kinds written, the link of a record created) and stays dirty, so the next
    /// run plans the edit against what both sides now hold.
    func confirm(_ batch: inout AppliedBatch) async throws {
        for plan in batch.pushes {
            guard let id = plan.localId else { continue }
            let written = batch.written[id, default: []]
            guard !batch.failed.contains(id) else {
                // The rest is retried next run; a spread HubSpot took (and dated) is crmsync's all the same.
                if let marker = batch.spreadMarkers[id], written.contains(.optOut), batch.stopped[id] != .erased {
                    var update = batch.confirmed[id] ?? LocalSyncUpdate(contactId: id)
                    update.base[.optedOutOfAll] = marker.stored
                    batch.confirmed[id] = update
                }
                continue
            }
            if let index = batch.plans.firstIndex(where: { $0.localId == id }), let hold = batch.stopped[id] {
                batch.outcome.heldBack[index] =
                    hold == .erased ? Self.erasedNote : written.isEmpty ? Self.editedNote : Self.partlyWrittenNote
            }
            if batch.stopped[id] == .erased {
                // Gone from the store; whatever reached the CRM before the erasure is the erasure's to delete.
                batch.done.append(id)
                continue
            }
            let needed = kinds(of: plan)
            let wroteAll = batch.stopped[id] == nil || needed.isSubset(of: written)
            var update = batch.confirmed[id] ?? LocalSyncUpdate(contactId: id)
            // The base never records what the CRM was not sent: only the kinds written join it.
            update.base =
                wroteAll
                ? plan.newBase
                : plan.newBase.filter { entry in
                    let kind = Self.writeKind(of: entry.key, in: plan)
                    return !needed.contains(kind) || written.contains(kind)
                }
            if let marker = batch.spreadMarkers[id], written.contains(.optOut) {
                update.base[.optedOutOfAll] = marker.stored
            }
            // HubSpot's time for a status crmsync wrote: a later read still showing it is crmsync's write, not a
            // decision (``ConsentBase``).
            for (purpose, at) in batch.consentWrittenAt[id] ?? [:] where written.contains(.consents) {
                guard var base = update.base.consentBase(purpose) else { continue }
                base.crmAtMilliseconds = at.millisecondsSince1970
                update.base[.consent(purpose)] = base.stored
            }
            if update.crmId == nil, let crmId = plan.crmId, plan.local?.crmId != crmId { update.crmId = .some(crmId) }
            if wroteAll, !plan.staysUnsynced, let version = plan.local?.localVersion { update.syncedVersion = version }
            batch.confirmed[id] = update
            if wroteAll { batch.done.append(id) }
        }
        try await store.applySyncUpdates(Array(batch.confirmed.values), actor: actor)
        try await store.releaseFromQuarantine(batch.done.filter { batch.stopped[$0] == nil })
    }

    /// Records the CRM refused for good: quarantined, retried on a slower schedule.
    func quarantineRefusals(_ batch: inout AppliedBatch) async throws {
        for (plan, reason) in batch.refusals {
            guard let id = plan.localId else { continue }
            try await store.quarantine(contactId: id, localVersion: plan.local?.localVersion ?? 0, reason: reason)
            batch.outcome.refused.append("\(plan.email?.masked ?? "?"): \(reason)")
        }
    }

    /// 4. Erased subjects found in the CRM: a GDPR delete, never an import.
    func deleteStaleCopiesOfErasedSubjects(_ batch: inout AppliedBatch) async throws {
        for plan in batch.erasures {
            guard let crmId = plan.crmId else { continue }
            if try await !erasures.eraseStaleCopy(crmId: crmId) {
                batch.outcome.failures.append("a stale CRM copy of an erased subject: GDPR delete not yet verified")
            }
        }
    }
}
