import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

/// One batch of a run, as a pipeline: match the batch's CRM records and local contacts, read what the CRM says
/// of them, plan each pair, and hand the plans to the run's sink.
extension SyncEngine {
    /// One batch through the pipeline: match → read what the CRM says of it → plan → sink (and the report). Only the
    /// plans `keep` accepts go on.
    func process(
        _ records: [CRMContact], locals extraLocals: [LocalContactState], run: inout RunState, planner: SyncPlanner,
        keep: (ContactPlan) -> Bool = { _ in true }
    ) async throws {
        guard !records.isEmpty || !extraLocals.isEmpty else { return }
        try Task.checkCancellation()
        let pairs = try await matchBatch(records, extraLocals, run: run)
        let emails = Set(records.compactMap { $0.email?.lowercased() } + extraLocals.map(\.contact.email.normalized))
        let (remotes, statuses) = try await remoteViews(of: pairs, emails: emails.sorted(), planner: planner)
        let addressOptOuts = try await addressOptOuts(of: pairs)
        var plans = try await planBatch(
            pairs, remotes: remotes, statuses: statuses, addressOptOuts: addressOptOuts, planner: planner, run: &run
        ).filter(keep)
        guard !plans.isEmpty else { return }
        try await sink(&plans, run: &run)
    }

    /// The batch's CRM records and local contacts (those given, and those the records' ids and addresses find),
    /// paired; a contact already planned this run is left out.
    private func matchBatch(_ records: [CRMContact], _ extraLocals: [LocalContactState], run: RunState)
        async throws -> [Pair]
    {
        var locals: [String: LocalContactState] = [:]
        for state in extraLocals { locals[state.contact.id] = state }
        let crmIds = records.flatMap { [$0.id] + $0.mergedIds }
        // A record's secondary addresses too: a merge may have brought another contact's address onto it.
        let recordEmails = records.flatMap { $0.addresses.compactMap { try? EmailAddress($0) } }
        for state in try await store.localStates(crmIds: crmIds, emails: recordEmails)
        where locals[state.contact.id] == nil {
            locals[state.contact.id] = state
        }
        let relinkable = try await staleLinks(of: Array(locals.values), heldAgainst: records)
        return ContactMatching.pairs(records, locals: Array(locals.values), relinkable: relinkable).filter { pair in
            !(pair.local.map { run.processed.contains($0.contact.id) } ?? false)
        }
    }

    /// The local contacts whose address a live record of the batch carries (as its email or a secondary one) while
    /// they stay linked to another record that the CRM no longer has live (GDPR-deleted or archived by someone; a
    /// read of it finds nothing): the person came back through a form, and their contact follows them to the new
    /// record (or, under a secondary address, is kept for review). One batch read, only when a batch has such a
    /// contact.
    private func staleLinks(of locals: [LocalContactState], heldAgainst records: [CRMContact]) async throws
        -> Set<String>
    {
        let byAddress = Dictionary(
            locals.map { ($0.contact.email.normalized, $0) }, uniquingKeysWith: { a, _ in a })
        var linkedElsewhere: [String: String] = [:]  // the local's linked CRM id → its local id
        for record in records where !record.archived {
            for address in record.addresses {
                guard let local = byAddress[EmailAddress.matchingKey(address)], let linked = local.contact.crmId,
                    linked != record.id, !record.mergedIds.contains(linked), local.mergedIntoCrmId == nil
                else { continue }
                linkedElsewhere[linked] = local.contact.id
            }
        }
        guard !linkedElsewhere.isEmpty else { return [] }
        let (found, _) = try await client.batchRead(Array(linkedElsewhere.keys).sorted(), properties: ["email"])
        // A merged id reads as its survivor: that link is alive.
        let alive = Set(found.keys).union(found.values.map(\.id)).union(found.values.flatMap(\.mergedIds))
        return Set(linkedElsewhere.filter { !alive.contains($0.key) && !(found[$0.key]?.archived ?? false) }.values)
    }

    /// The planner's view of each pair's CRM record: subscription statuses of the batch's addresses, the opt-out
    /// times that matter, and field history where a `newest` conflict needs it.
    private func remoteViews(of pairs: [Pair], emails: [String], planner: SyncPlanner) async throws
        -> (remotes: [RemoteContact?], statuses: [String: [SubscriptionStatus]])
    {
        let statuses = try await client.subscriptionStatuses(for: emails)
        // The CRM's opt-out time matters only where a local re-consent may have lifted it, or where the opt-out
        // is the restriction crmsync spread (its time tells its echo from later decisions).
        let needOptOutTimes = pairs.compactMap { pair -> String? in
            guard let record = pair.record, record.isOptedOutOfAllEmail, let local = pair.local,
                !local.isOptedOut && local.suppressions[.optedOutOfAll] != nil
                    || local.base.optOutBase?.marksSpread == true
            else { return nil }
            return record.email?.lowercased()
        }
        let optOutTimes = needOptOutTimes.isEmpty ? [:] : try await client.optedOutOfAll(needOptOutTimes)
        func remote(_ record: CRMContact) -> RemoteContact {
            let email = record.email?.lowercased() ?? ""
            return RemoteContact(record, settings: settings, statuses: statuses[email], optedOutAt: optOutTimes[email])
        }
        var remotes = pairs.map { $0.record.map(remote) }
        // Conflicts under `newest` need the CRM's field times: read history for those records only.
        let needHistory = pairs.indices.filter { planner.needsHistory(local: pairs[$0].local, remote: remotes[$0]) }
        if !needHistory.isEmpty {
            let ids = needHistory.compactMap { pairs[$0].record?.id }
            let (withHistory, _) = try await client.batchRead(
                ids, properties: settings.pulledProperties, withHistory: settings.historyProperties)
            for index in needHistory {
                if let id = pairs[index].record?.id, let record = withHistory[id] { remotes[index] = remote(record) }
            }
        }
        return (remotes, statuses)
    }

    /// Whether (and since when) HubSpot holds opted out the addresses of contacts that have no live record to sync
    /// with (kept for review, archived, their record deleted, restricted and never created there): their objection
    /// goes to the address when it is not there yet, and the subject's opt-out there comes into the register. One
    /// read, only for a batch with such contacts.
    private func addressOptOuts(of pairs: [Pair]) async throws -> [String: SyncPlanner.AddressOptOut] {
        let locals = pairs.compactMap { pair -> EmailAddress? in
            guard pair.record == nil, pair.mergedInto == nil, let local = pair.local,
                local.mergedIntoCrmId != nil || local.crmArchivedAt != nil || local.contact.crmId != nil
                    || local.isRestricted
            else { return nil }
            return local.contact.email
        }
        guard !locals.isEmpty else { return [:] }
        // HubSpot compares addresses as text: an internationalised address is read in every spelling, and an
        // opt-out under any of them is the subject's (the newest one counts).
        let optedOut = try await client.optedOutOfAll(Array(Set(locals.flatMap(\.spellings))).sorted())
        return Dictionary(
            locals.map { email in
                let times = email.spellings.compactMap { optedOut[$0.lowercased()] }
                return (email.normalized, times.max().map { .optedOut(at: $0) } ?? .notOptedOut)
            },
            uniquingKeysWith: { a, _ in a })
    }

    /// One plan per pair; an erasure the run finishes first is not planned again as a stale copy.
    private func planBatch(
        _ pairs: [Pair], remotes: [RemoteContact?], statuses: [String: [SubscriptionStatus]],
        addressOptOuts: [String: SyncPlanner.AddressOptOut], planner: SyncPlanner, run: inout RunState
    ) async throws -> [ContactPlan] {
        // A dry run: a record an unfinished erasure deletes first takes the statuses HubSpot holds under its other
        // addresses with it, but for the objections the erasure writes back (withdrawals; opt-outs are kept too).
        var statuses = statuses
        for address in Set(pairs.filter { goesFirst($0.record, run) }.flatMap { $0.record?.addresses ?? [] }) {
            statuses[address] = statuses[address]?.filter { $0.state == .withdrawn }
        }
        var context = try await planningContext(pairs: pairs, remotes: remotes, statuses: statuses)
        context.addressOptOut = { addressOptOuts[$0.normalized] }
        var plans: [ContactPlan] = []
        for (index, pair) in pairs.enumerated() {
            // A record an unfinished erasure deletes first that no contact holds: the real run never meets it.
            if pair.local == nil, goesFirst(pair.record, run) { continue }
            var plan =
                if let survivor = pair.mergedInto, let local = pair.local {
                    // A dry run: the survivor is a record an unfinished erasure deletes first; the real run never
                    // meets it, and the contact, released, gets its own record.
                    run.erasuresFinishedFirst.contains(survivor)
                        ? planner.plan(local: Self.released(local), remote: nil, context: context)
                        : planner.planMergedAway(local, survivor: survivor)
                } else {
                    if let local = pair.local, goesFirst(pair.record, run) {
                        planner.plan(local: Self.released(local), remote: nil, context: context)
                    } else {
                        planner.plan(
                            local: pair.local, remote: Self.remote(remotes[index], of: pair, context), context: context)
                    }
                }
            plan.relinked = pair.relinked
            // The quarantine's wait holds for a record the change feed brings too, not only for local edits.
            if let id = pair.local?.contact.id, run.quarantinedNotDue.contains(id) { plan.withholdPropertyWrites() }
            if let spelling = pair.record?.email?.lowercased(), spelling != plan.email?.normalized,
                EmailAddress.matchingKey(spelling) == plan.email?.normalized
            {
                plan.crmAddress = spelling
            }
            // A merged id the erasure deletes deletes its survivor: that record is one the real run never meets.
            let finishedFirst =
                [plan.email?.normalized, plan.crmId].compactMap { $0 } + (pair.record?.mergedIds ?? [])
            if plan.action == .eraseInCRM, finishedFirst.contains(where: run.erasuresFinishedFirst.contains) {
                continue
            }
            plans.append(plan)
            if let id = pair.local?.contact.id { run.processed.insert(id) }
        }
        return plans
    }

    /// The plans to the run's sink, then into the report and the progress.
    private func sink(_ plans: inout [ContactPlan], run: inout RunState) async throws {
        run.report.cost.plannedWriteRequests += RequestCost.writeRequests(for: plans)
        let outcome = try await run.sink.apply(plans)
        run.record(outcome)
        // A plan an edit command overtook is reported as skipped with its note: the next run carries it out.
        for (index, note) in outcome.heldBack {
            plans[index].action = .skip
            plans[index].changes = []
            plans[index].note = note
        }
        for plan in plans where plan.action != .none || !plan.changes.isEmpty || plan.note != nil {
            let room = run.options.listChanges && run.report.changes.count < run.options.maxListedChanges
            run.report.add(plan, listChanges: room)
        }
        run.progress.batches += 1
        run.progress.contactsPlanned += plans.count
        run.progress.writeRequests = run.report.cost.plannedWriteRequests
        run.options.progress?(run.progress)
        run.report.summary.contactsExamined +=
            plans.filter { $0.action == .none && $0.changes.isEmpty && $0.note == nil }.count
    }

    typealias Pair = ContactMatching.Pair

    /// A contact as an erasure releases it from a record it deletes (``SyncStore/releaseContacts(linkedTo:in:)``):
    /// no link, no base. What a dry run plans for a contact whose record the real run deletes first.
    static func released(_ local: LocalContactState) -> LocalContactState {
        var released = local
        released.contact.crmId = nil
        released.mergedIntoCrmId = nil
        released.crmArchivedAt = nil
        released.base = [:]
        return released
    }

    /// Whether a dry run meets a record the real run deletes before it pulls (an unfinished erasure's, by its id or
    /// an id merged into it): the real run plans the contact paired with it without it, released.
    private func goesFirst(_ record: CRMContact?, _ run: RunState) -> Bool {
        guard let record, !run.erasuresFinishedFirst.isEmpty else { return false }
        return ([record.id] + record.mergedIds).contains(where: run.erasuresFinishedFirst.contains)
    }

    /// The record as the planner sees it. A record a CRM user gave an erased subject's address (the planner puts the
    /// contact's own address back) carries that address's statuses and opt-out: they are the erased subject's,
    /// never the contact's, so the planner sees none.
    static func remote(_ remote: RemoteContact?, of pair: Pair, _ context: SyncPlanner.Context) -> RemoteContact? {
        guard var remote, pair.local != nil, let email = remote.email, context.isErased(email) else { return remote }
        remote.consents = [:]
        remote.isOptedOut = false
        remote.optedOutAt = nil
        return remote
    }

    func match(_ records: [CRMContact], locals: [LocalContactState]) -> [Pair] {
        ContactMatching.pairs(records, locals: locals)
    }

    private func planningContext(
        pairs: [Pair], remotes: [RemoteContact?], statuses: [String: [SubscriptionStatus]]
    ) async throws
        -> SyncPlanner.Context
    {
        let records = pairs.compactMap(\.record)
        let erased = try await store.erasedAddresses(
            among: records.compactMap { $0.email.flatMap { try? EmailAddress($0) } })
        // A record is an erased subject's when its id, or an id merged into it, was tombstoned.
        let erasedIds = try await store.erasedCRMIds(among: records.flatMap { [$0.id] + $0.mergedIds })
        let erasedRecords = Set(
            records.filter { ([$0.id] + $0.mergedIds).contains(where: erasedIds.contains) }.map(\.id))
        // Which local contact holds each address the planner may ask about: the records' addresses, and each remote
        // view's (a view read again with field history may carry an address changed since the batch was read). One
        // query for the batch, asked before planning: the planner reads nothing itself.
        let candidates =
            records.flatMap { $0.addresses.compactMap { try? EmailAddress($0) } } + remotes.compactMap { $0?.email }
        let holders = try await store.contactIds(holding: candidates)
        let settings = self.settings
        return SyncPlanner.Context(
            isErased: { erased.contains($0.normalized) },
            isErasedRecord: { erasedRecords.contains($0) },
            isEmailTaken: { email, except in
                guard let holder = holders[email.normalized] else { return false }
                return holder != except
            },
            addressConsents: { RemoteContact.addressConsents(from: statuses[$0.normalized], settings: settings) })
    }
}
