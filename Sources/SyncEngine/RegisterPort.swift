import Foundation
import SyncModel
import SyncStore

/// What the sync needs from the register, the local canonical store: contacts and their sync state, the
/// checkpoints, the run log, quarantine, tombstones and erasure requests. `SyncStore` (SQLite through GRDB,
/// in a file or in memory) is its adapter; no database type appears here, so another database is another
/// adapter, and the engine does not change.
public protocol RegisterPort: Sendable {
    // Contacts and their sync state
    func contact(email: EmailAddress) throws -> Contact?
    func localStates(crmIds: [String], emails: [EmailAddress]) throws -> [LocalContactState]
    /// Contacts edited since they were last synced, in id order after `afterId`.
    func dirtyStates(after afterId: String, limit: Int) throws -> [LocalContactState]
    func dirtyCount() throws -> Int
    /// Contacts with no live CRM record to sync with (merged away, archived, restricted and never created), in id
    /// order after `afterId`.
    func statesWithoutLiveRecord(after afterId: String, limit: Int) throws -> [LocalContactState]
    /// Linked CRM id → local contact id.
    func linkedCRMIds() throws -> [String: String]
    func linkedCount() throws -> Int
    /// Writes what a sync decided, each contact compare-and-set on its version.
    @discardableResult
    func applySyncUpdates(_ updates: [LocalSyncUpdate], actor: String) throws -> SyncApplyResult
    /// What stops a planned CRM write now: an edit since it was planned, or an erasure.
    func holds(for subjects: [PlannedSubject]) throws -> [String: SyncApplyResult.Outcome]

    // Checkpoints and the run log
    func checkpoint(_ name: String) throws -> String?
    func setCheckpoint(_ name: String, to value: String) throws
    func startRun(kind: String) throws -> Int64
    func finishRun(_ id: Int64, status: String, summary: String?) throws

    // Quarantine
    func quarantine(contactId: String, localVersion: Int64, reason: String) throws
    func quarantinedNotDue() throws -> Set<String>
    func releaseFromQuarantine(_ contactIds: [String]) throws

    // Tombstones
    func subjectHash(of email: EmailAddress) -> String
    func isErased(_ email: EmailAddress) throws -> Bool
    func erasedCRMIds(among crmIds: [String]) throws -> Set<String>
    func tombstoneStaleCopy(crmId: String) throws

    // Erasure requests
    func recordErasureRequest(email: EmailAddress, requestId: String, reason: String?) throws -> ErasureRequest
    func erasureRequest(id: String) throws -> ErasureRequest?
    func pendingErasures() throws -> [PendingErasure]
    func pendingErasure(requestId: String) throws -> PendingErasure?
    func updateErasures(_ requestIds: [String], state: ErasureState, error: String?) throws
    @discardableResult
    func eraseLocally(email: EmailAddress, requestId: String, actor: String, crmIds: [String]) throws -> Bool
    func eraseLocally(requestId: String) throws
    func addCRMRecords(_ crmIds: [String], mergedFrom: [String], toErasureOf email: EmailAddress, requestId: String)
        throws
    func claimErasureDeletes(of email: EmailAddress) throws -> ErasureClaim
    func releaseErasureClaim(of email: EmailAddress) throws
    /// Another person's objections an erasure's delete takes: kept until written back.
    func holdObjections(_ objections: HeldObjections, forErasureOf email: EmailAddress) throws
    func heldObjections(ofErasureOf email: EmailAddress) throws -> HeldObjections?
    func releaseHeldObjections(ofErasureOf email: EmailAddress) throws
    /// How many stored decisions (current consent states, suppressions) are dated beyond the future tolerance.
    func futureDatedDecisions(now: Date) throws -> Int
    // Retention
    func isProcessingRestricted(_ email: EmailAddress) throws -> Bool
    func recordCRMActivity(email: EmailAddress, at: Date, reason: String) throws
}

extension RegisterPort {
    func dirtyStates(limit: Int) throws -> [LocalContactState] { try dirtyStates(after: "", limit: limit) }

    func updateErasures(_ requestIds: [String], state: ErasureState) throws {
        try updateErasures(requestIds, state: state, error: nil)
    }
}

extension SyncStore: RegisterPort {}
