import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

/// What a retention run did.
public struct RetentionOutcome: Sendable, Equatable {
    /// Subjects erased here (and sent to the CRM) by this run.
    public var erased = 0
    /// Of those, verified in the CRM.
    public var verified = 0
    /// Requests an earlier run left unfinished that this run verified.
    public var resumed = 0
    /// Candidates kept because the CRM shows them active since the cutoff, or in a customer relationship.
    public var keptByCRM = 0

    public init() {}
}

extension ErasurePropagator {
    /// The request id of a retention erasure: `retention-<day>-<subject hash prefix>`. One per subject, so a
    /// rerun on the same day (after an aborted run, or for contacts newly due) erases what is due and never
    /// takes another subject's request for its own; no personal data.
    public func retentionRequestId(for email: EmailAddress, on day: Date) -> String {
        "retention-\(day.formatted(.iso8601.year().month().day()))-\(store.subjectHash(of: email).prefix(12))"
    }

    /// `crmsync retention`: finishes what an earlier (perhaps aborted) run left, asks the CRM about each candidate,
    /// then erases those still due through the same path as `crmsync erase`.
    ///
    /// The register alone cannot say a subject is inactive: the CRM may have made them a customer, or seen them
    /// change, minutes ago (not synced yet). Each candidate's record is read first (batched: by CRM id when linked,
    /// by address otherwise); one changed since the cutoff, or at a lifecycle stage beyond marketing, is kept and
    /// its last activity in the register moves to the CRM's time. The review reads before anything is erased: a
    /// run that cannot read the CRM erases nothing.
    public func eraseForRetention(_ candidates: [EmailAddress], months: Int, on day: Date) async throws
        -> RetentionOutcome
    {
        var outcome = RetentionOutcome()
        outcome.resumed = try await resumeAll().verified
        let cutoff = Calendar(identifier: .gregorian).date(byAdding: .month, value: -months, to: day) ?? day
        let due = try await stillDue(candidates, cutoff: cutoff)
        outcome.keptByCRM = candidates.count - due.count
        for email in due {
            try Task.checkCancellation()
            // Restricted since the candidates were listed (an operator's `restrict` while the CRM was read): held.
            if try await store.isProcessingRestricted(email) { continue }
            let request = try await erase(
                email: email, requestId: retentionRequestId(for: email, on: day),
                reason: "retention: marketing-only, inactive \(months) months")
            outcome.erased += 1
            if request.state == .verified { outcome.verified += 1 }
        }
        return outcome
    }

    /// The candidates the CRM does not show active since `cutoff` nor in a customer relationship.
    private func stillDue(_ candidates: [EmailAddress], cutoff: Date) async throws -> [EmailAddress] {
        var linked: [String: EmailAddress] = [:]
        var unlinked: [EmailAddress] = []
        for email in candidates {
            if let crmId = try await store.contact(email: email)?.crmId {
                linked[crmId] = email
            } else {
                unlinked.append(email)
            }
        }
        var kept: Set<EmailAddress> = []
        func review(_ record: CRMContact, _ email: EmailAddress) async throws {
            let stage = record.lifecycleStage
            let changed = record.lastModified.map { $0 >= cutoff } ?? false
            guard changed || !MarketingOnly.isMarketingOnly(lifecycleStage: stage) else { return }
            kept.insert(email)
            try await store.recordCRMActivity(
                email: email, at: max(record.lastModified ?? clock.now, cutoff),
                reason: changed ? "changed in the CRM since the cutoff" : "lifecycle stage \(stage ?? "") in the CRM")
        }
        // The client batches by 100 itself: one request a hundred ids, then one a hundred addresses.
        let (found, _) = try await client.batchRead(linked.keys.sorted(), properties: ["email"])
        var answered: Set<String> = []
        for (id, record) in found {
            // A read of a merged id answers with its survivor: the candidate is judged by the record it became.
            let ids = [id] + record.mergedIds
            if let email = ids.lazy.compactMap({ linked[$0] }).first {
                answered.formUnion(ids)
                try await review(record, email)
            }
        }
        // A linked record the CRM no longer has (archived, deleted) may have been re-created under the address
        // since (a form): the erasure would delete whatever holds the address, so the address is read too.
        unlinked += linked.filter { !answered.contains($0.key) }.values
        let byAddress = Set(unlinked)
        let spellings = Set(unlinked.flatMap(\.spellings)).sorted()
        for record in try await client.batchRead(spellings, byEmail: true, properties: ["email"])
            .found.values
        {
            guard let email = record.email.flatMap({ try? EmailAddress($0) }), byAddress.contains(email) else {
                continue
            }
            try await review(record, email)
        }
        return candidates.filter { !kept.contains($0) }
    }
}
