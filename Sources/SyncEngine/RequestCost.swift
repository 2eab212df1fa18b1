import Foundation

/// What a run costs in HubSpot requests, in one place: the budget check before a run (from counts only) and the
/// report's planned writes (from the plans) use the same prices.
enum RequestCost {
    /// Contacts per batch request (batch read, upsert, update, status read and write, unsubscribe-all).
    static let batchSize = 100
    /// Reads per batch of contacts: the batch read and the subscription statuses.
    static let readsPerBatch = 2
    /// Writes per batch of contacts, at most: an upsert or update, a status write, an unsubscribe-all.
    static let writesPerBatch = 3
    /// Requests per erasure: the GDPR delete and its verification.
    static let perErasure = 2

    static func batches(_ n: Int) -> Int { (n + batchSize - 1) / batchSize }

    /// Write requests a set of plans needs: upserts and updates, status writes, opt-outs (a batch each), and the
    /// erasures.
    static func writeRequests(for plans: [ContactPlan]) -> Int {
        let creates = plans.filter { $0.action == .createInCRM }.count
        let updates = plans.filter { $0.action == .update && !$0.toCRMProperties.isEmpty }.count
        let statuses = plans.reduce(0) { $0 + $1.consentToCRM.count }
        let optOuts = plans.filter(\.optOutToCRM).count
        let erasures = plans.filter { $0.action == .eraseInCRM }.count
        return batches(creates) + batches(updates) + batches(statuses) + batches(optOuts) + erasures * perErasure
    }

    /// The most a run can spend before it has planned: every contact it may meet (pulled or edited locally) read
    /// and written at the per-batch prices, the change feed's search pages, and the portal checks (2).
    static func estimate(contacts: Int, searchPages: Int) -> Int {
        batches(contacts) * (readsPerBatch + writesPerBatch) + searchPages + 2
    }
}
