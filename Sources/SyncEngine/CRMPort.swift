import Foundation
import HubSpotClient
import SyncModel

/// What the sync needs from a CRM: reads by page, by id and by address, batched writes that report each input,
/// subscription statuses, the opt-out of all email, GDPR deletes, and the budget and clock it answers with.
///
/// The engine, the applier, the erasure propagator and the reconciler hold `any CRMPort`; ``HubSpotClient`` is
/// the adapter (below). Values cross the port typed (`CRMContact.isOptedOutOfAllEmail`,
/// `SubscriptionStatus.consentState`, `SubscriptionWrite(state: ConsentState)`): HubSpot's vocabulary stays in
/// `HubSpotClient`.
public protocol CRMPort: Sendable {
    // Reads
    func contactPages(properties: [String], archived: Bool) -> any AsyncSequence<ContactPage, any Error>
    func changedContactPages(since: Date, until: Date?, properties: [String])
        -> any AsyncSequence<ChangePage, any Error>
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
    func contact(email: String, properties: [String]) async throws -> CRMContact? {
        try await contact(email: email, properties: properties, withHistory: [])
    }

    func batchRead(_ keys: [String], byEmail: Bool = false, properties: [String]) async throws
        -> (found: [String: CRMContact], missing: [String])
    {
        try await batchRead(keys, byEmail: byEmail, properties: properties, withHistory: [])
    }

    func batchRead(_ keys: [String], properties: [String], withHistory: [String]) async throws
        -> (found: [String: CRMContact], missing: [String])
    {
        try await batchRead(keys, byEmail: false, properties: properties, withHistory: withHistory)
    }
}

/// HubSpot as the CRM port.
extension HubSpotClient: CRMPort {
    public func contactPages(properties: [String], archived: Bool) -> any AsyncSequence<ContactPage, any Error> {
        allContacts(properties: properties, archived: archived)
    }

    public func changedContactPages(since: Date, until: Date?, properties: [String])
        -> any AsyncSequence<ChangePage, any Error>
    {
        changedContacts(since: since, until: until, properties: properties)
    }
}
