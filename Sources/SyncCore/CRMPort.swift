import Foundation
import SyncModel

/// What the sync needs from a CRM: reads by page, by id and by address, batched writes that report each input,
/// subscription statuses, the opt-out of all email, GDPR deletes, and the budget and clock it answers with.
///
/// The core owns the port, as it owns ``RegisterPort``: it is written in this module's values (``CRMContact``,
/// ``SubscriptionStatus``, ``BatchOutcome``, …) and those of `SyncModel`. What a record says beyond its mapped
/// properties (its addresses, the ids merged into it, its opt-out of all email, when it last changed) crosses typed,
/// filled in by the adapter from the CRM's own vocabulary. `HubSpotClient` is the adapter; the engine imports none.
///
/// Property names in `properties:` and `withHistory:` are the mapped ones (`sync.json`'s `mapping`, plus `email`):
/// the adapter asks the CRM for what it needs to fill the typed values itself.
public protocol CRMPort: Sendable {
    // Reads
    func contactPages(properties: [String], archived: Bool) -> any AsyncSequence<ContactPage, any Error>
    func changedContactPages(since: Date, until: Date?, properties: [String])
        -> any AsyncSequence<ChangePage, any Error>
    /// How many records one page of ``changedContactPages(since:until:properties:)`` holds at most: a run's budget
    /// estimate counts a request per page.
    var changePageSize: Int { get }
    func batchRead(_ keys: [String], byEmail: Bool, properties: [String], withHistory: [String]) async throws
        -> (found: [String: CRMContact], missing: [String])
    func contact(email: String, properties: [String], withHistory: [String]) async throws -> CRMContact?
    func subscriptionStatuses(for emails: [String]) async throws -> [String: [SubscriptionStatus]]
    func optedOutOfAll(_ emails: [String]) async throws -> [String: Date]
    func contactProperties() async throws -> [CRMPropertyDefinition]
    func subscriptionDefinitions() async throws -> [SubscriptionDefinition]
    func checkScopes() async throws -> [ScopeStatus]
    // Writes
    func upsertByEmail(_ inputs: [ContactUpsert]) async throws -> BatchOutcome
    func update(_ inputs: [ContactUpdate]) async throws -> BatchOutcome
    func writeSubscriptionStatuses(_ writes: [SubscriptionWrite]) async throws -> SubscriptionWriteOutcome
    func unsubscribeFromAll(_ emails: [String]) async throws
    // Erasure
    func gdprDelete(email: String) async throws
    @discardableResult func gdprDelete(crmId: String) async throws -> Bool
    func isErased(email: String) async throws -> Bool
    func isErased(crmId: String) async throws -> Bool
    // What the CRM's answers say about budget and time
    var metrics: ClientMetrics { get }
    var serverClock: ServerClockReading? { get }
    func remainingDailyBudget() async -> Int
}

extension CRMPort {
    public func contact(email: String, properties: [String]) async throws -> CRMContact? {
        try await contact(email: email, properties: properties, withHistory: [])
    }

    public func batchRead(_ keys: [String], byEmail: Bool = false, properties: [String]) async throws
        -> (found: [String: CRMContact], missing: [String])
    {
        try await batchRead(keys, byEmail: byEmail, properties: properties, withHistory: [])
    }

    public func batchRead(_ keys: [String], properties: [String], withHistory: [String]) async throws
        -> (found: [String: CRMContact], missing: [String])
    {
        try await batchRead(keys, byEmail: false, properties: properties, withHistory: withHistory)
    }
}

/// An error of a CRM adapter that says what the caller can do about it.
public protocol CRMError: Error {
    /// The account's daily limit or crmsync's own daily budget is spent: stop, do not retry.
    var isDailyLimit: Bool { get }
    /// The record or address asked for does not exist.
    var isNotFound: Bool { get }
    /// The CRM could not be reached or kept failing (server errors, timeouts, dropped connections).
    var isUnavailable: Bool { get }
    /// What failed, in a few words and without personal data (a category and a status), for an erasure's record.
    var summary: String { get }
}
