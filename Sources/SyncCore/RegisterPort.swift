import Foundation
import SyncModel

/// What the sync needs from the register, the local canonical store: contacts and their sync state, the
/// checkpoints, the run log, quarantine, tombstones and erasure requests.
///
/// The core owns the port: it is written in this module's values (``LocalContactState``, ``LocalSyncUpdate``,
/// ``SyncApplyResult``, the erasure values) and those of `SyncModel`, and every call that reaches the database is
/// `async`, so an adapter on a network database (a connection pool) waits without blocking a thread. The adapters
/// depend on this module, never the reverse: `SyncStore` (SQLite through GRDB, in a file or in memory) is one, and
/// the engine imports none. Each method is one transaction of the adapter's: what it writes, it writes whole.
public protocol RegisterPort: Sendable {
    // Contacts and their sync state
    func contact(email: EmailAddress) async throws -> Contact?
    /// The local contact holding each of `emails`, by normalized address: address → contact id (absent: none).
    func contactIds(holding emails: [EmailAddress]) async throws -> [String: String]
    func localStates(crmIds: [String], emails: [EmailAddress]) async throws -> [LocalContactState]
    /// Contacts edited since they were last synced, in id order after `afterId`.
    func dirtyStates(after afterId: String, limit: Int) async throws -> [LocalContactState]
    func dirtyCount() async throws -> Int
    /// Contacts with no live CRM record to sync with (merged away, archived, restricted and never created), in id
    /// order after `afterId`.
    func statesWithoutLiveRecord(after afterId: String, limit: Int) async throws -> [LocalContactState]
    /// Linked CRM id → local contact id.
    func linkedCRMIds() async throws -> [String: String]
    func linkedCount() async throws -> Int
    /// Writes what a sync decided, each contact compare-and-set on its version.
    @discardableResult
    func applySyncUpdates(_ updates: [LocalSyncUpdate], actor: String) async throws -> SyncApplyResult
    /// What stops a planned CRM write now: an edit since it was planned, or an erasure.
    func holds(for subjects: [PlannedSubject]) async throws -> [String: SyncApplyResult.Outcome]

    // Checkpoints and the run log
    func checkpoint(_ name: String) async throws -> String?
    func setCheckpoint(_ name: String, to value: String) async throws
    func startRun(kind: String) async throws -> Int64
    func finishRun(_ id: Int64, status: String, summary: String?) async throws

    // Quarantine
    func quarantine(contactId: String, localVersion: Int64, reason: String) async throws
    func quarantinedNotDue() async throws -> Set<String>
    func releaseFromQuarantine(_ contactIds: [String]) async throws

    // Tombstones
    func subjectHash(of email: EmailAddress) -> String
    func isErased(_ email: EmailAddress) async throws -> Bool
    /// The addresses among `emails` of erased subjects, normalized: one read for many.
    func erasedAddresses(among emails: [EmailAddress]) async throws -> Set<String>
    func erasedCRMIds(among crmIds: [String]) async throws -> Set<String>
    func tombstoneStaleCopy(crmId: String) async throws

    // Erasure requests
    func recordErasureRequest(email: EmailAddress, requestId: String, reason: String?) async throws -> ErasureRequest
    func erasureRequest(id: String) async throws -> ErasureRequest?
    func pendingErasures() async throws -> [PendingErasure]
    func pendingErasure(requestId: String) async throws -> PendingErasure?
    func updateErasures(_ requestIds: [String], state: ErasureState, error: String?) async throws
    @discardableResult
    func eraseLocally(email: EmailAddress, requestId: String, actor: String, crmIds: [String]) async throws -> Bool
    func eraseLocally(requestId: String) async throws
    func addCRMRecords(_ crmIds: [String], mergedFrom: [String], toErasureOf email: EmailAddress, requestId: String)
        async throws
    func claimErasureDeletes(of email: EmailAddress) async throws -> ErasureClaim
    func releaseErasureClaim(of email: EmailAddress) async throws
    /// Another person's objections an erasure's delete takes: kept until written back.
    func holdObjections(_ objections: HeldObjections, forErasureOf email: EmailAddress) async throws
    func heldObjections(ofErasureOf email: EmailAddress) async throws -> HeldObjections?
    func releaseHeldObjections(ofErasureOf email: EmailAddress) async throws
    /// How many stored decisions (current consent states, suppressions) are dated beyond the future tolerance.
    func futureDatedDecisions(now: Date) async throws -> Int
    // Retention
    func isProcessingRestricted(_ email: EmailAddress) async throws -> Bool
    func recordCRMActivity(email: EmailAddress, at: Date, reason: String) async throws
}

extension RegisterPort {
    public func dirtyStates(limit: Int) async throws -> [LocalContactState] {
        try await dirtyStates(after: "", limit: limit)
    }

    public func updateErasures(_ requestIds: [String], state: ErasureState) async throws {
        try await updateErasures(requestIds, state: state, error: nil)
    }
}
