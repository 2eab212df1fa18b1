import Foundation
import NIOPosix
import SyncCore
import SyncModel

/// The register is an adapter of the core's port: each of its methods is one transaction of its database, run on the
/// caller's thread (``SyncStore`` itself conforms: on SQLite a transaction takes microseconds).
extension SyncStore: RegisterPort {}

/// The register as the port of a long-running process: each transaction runs on a thread of ``RegisterThreads``,
/// never on the caller's. The register's logic waits for its database synchronously (on PostgreSQL, for each answer
/// of the server, or a minute for the writer lock); run on Swift's cooperative threads (two on a two-core host), such
/// a wait would hold up every other task of the process (the metrics listener, the scheduler's timer, the signal
/// handler) until it ends. The commands that work with the CRM (`run`, `sync`, `erase`, `retention`, `reconcile`)
/// hand the engine this.
public struct ThreadedRegister: RegisterPort {
    public let store: SyncStore

    public init(_ store: SyncStore) {
        self.store = store
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (SyncStore) throws -> T) async throws -> T {
        try await store.offThread(body)
    }

    public func contact(email: EmailAddress) async throws -> Contact? {
        try await run { try $0.contact(email: email) }
    }

    public func contactIds(holding emails: [EmailAddress]) async throws -> [String: String] {
        try await run { try $0.contactIds(holding: emails) }
    }

    public func localStates(crmIds: [String], emails: [EmailAddress]) async throws -> [LocalContactState] {
        try await run { try $0.localStates(crmIds: crmIds, emails: emails) }
    }

    public func dirtyStates(after afterId: String, limit: Int) async throws -> [LocalContactState] {
        try await run { try $0.dirtyStates(after: afterId, limit: limit) }
    }

    public func dirtyCount() async throws -> Int {
        try await run { try $0.dirtyCount() }
    }

    public func statesWithoutLiveRecord(after afterId: String, limit: Int) async throws -> [LocalContactState] {
        try await run { try $0.statesWithoutLiveRecord(after: afterId, limit: limit) }
    }

    public func linkedCRMIds() async throws -> [String: String] {
        try await run { try $0.linkedCRMIds() }
    }

    public func linkedCount() async throws -> Int {
        try await run { try $0.linkedCount() }
    }

    @discardableResult
    public func applySyncUpdates(_ updates: [LocalSyncUpdate], actor: String) async throws -> SyncApplyResult {
        try await run { try $0.applySyncUpdates(updates, actor: actor) }
    }

    public func holds(for subjects: [PlannedSubject]) async throws -> [String: SyncApplyResult.Outcome] {
        try await run { try $0.holds(for: subjects) }
    }

    public func checkpoint(_ name: String) async throws -> String? {
        try await run { try $0.checkpoint(name) }
    }

    public func setCheckpoint(_ name: String, to value: String) async throws {
        try await run { try $0.setCheckpoint(name, to: value) }
    }

    public func startRun(kind: String) async throws -> Int64 {
        try await run { try $0.startRun(kind: kind) }
    }

    public func finishRun(_ id: Int64, status: String, summary: String?) async throws {
        try await run { try $0.finishRun(id, status: status, summary: summary) }
    }

    public func quarantine(contactId: String, localVersion: Int64, reason: String) async throws {
        try await run { try $0.quarantine(contactId: contactId, localVersion: localVersion, reason: reason) }
    }

    public func quarantinedNotDue() async throws -> Set<String> {
        try await run { try $0.quarantinedNotDue() }
    }

    public func releaseFromQuarantine(_ contactIds: [String]) async throws {
        try await run { try $0.releaseFromQuarantine(contactIds) }
    }

    public func subjectHash(of email: EmailAddress) -> String { store.subjectHash(of: email) }

    public func isErased(_ email: EmailAddress) async throws -> Bool {
        try await run { try $0.isErased(email) }
    }

    public func erasedAddresses(among emails: [EmailAddress]) async throws -> Set<String> {
        try await run { try $0.erasedAddresses(among: emails) }
    }

    public func erasedCRMIds(among crmIds: [String]) async throws -> Set<String> {
        try await run { try $0.erasedCRMIds(among: crmIds) }
    }

    public func tombstoneStaleCopy(crmId: String) async throws {
        try await run { try $0.tombstoneStaleCopy(crmId: crmId) }
    }

    public func recordErasureRequest(email: EmailAddress, requestId: String, reason: String?) async throws
        -> ErasureRequest
    {
        try await run { try $0.recordErasureRequest(email: email, requestId: requestId, reason: reason) }
    }

    public func erasureRequest(id: String) async throws -> ErasureRequest? {
        try await run { try $0.erasureRequest(id: id) }
    }

    public func pendingErasures() async throws -> [PendingErasure] {
        try await run { try $0.pendingErasures() }
    }

    public func pendingErasure(requestId: String) async throws -> PendingErasure? {
        try await run { try $0.pendingErasure(requestId: requestId) }
    }

    public func updateErasures(_ requestIds: [String], state: ErasureState, error: String?) async throws {
        try await run { try $0.updateErasures(requestIds, state: state, error: error) }
    }

    @discardableResult
    public func eraseLocally(email: EmailAddress, requestId: String, actor: String, crmIds: [String]) async throws
        -> Bool
    {
        try await run { try $0.eraseLocally(email: email, requestId: requestId, actor: actor, crmIds: crmIds) }
    }

    public func eraseLocally(requestId: String) async throws {
        try await run { try $0.eraseLocally(requestId: requestId) }
    }

    public func addCRMRecords(
        _ crmIds: [String], mergedFrom: [String], toErasureOf email: EmailAddress, requestId: String
    ) async throws {
        try await run { try $0.addCRMRecords(crmIds, mergedFrom: mergedFrom, toErasureOf: email, requestId: requestId) }
    }

    public func claimErasureDeletes(of email: EmailAddress) async throws -> ErasureClaim {
        try await run { try $0.claimErasureDeletes(of: email) }
    }

    public func releaseErasureClaim(of email: EmailAddress) async throws {
        try await run { try $0.releaseErasureClaim(of: email) }
    }

    public func holdObjections(_ objections: HeldObjections, forErasureOf email: EmailAddress) async throws {
        try await run { try $0.holdObjections(objections, forErasureOf: email) }
    }

    public func heldObjections(ofErasureOf email: EmailAddress) async throws -> HeldObjections? {
        try await run { try $0.heldObjections(ofErasureOf: email) }
    }

    public func releaseHeldObjections(ofErasureOf email: EmailAddress) async throws {
        try await run { try $0.releaseHeldObjections(ofErasureOf: email) }
    }

    public func futureDatedDecisions(now: Date) async throws -> Int {
        try await run { try $0.futureDatedDecisions(now: now) }
    }

    public func isProcessingRestricted(_ email: EmailAddress) async throws -> Bool {
        try await run { try $0.isProcessingRestricted(email) }
    }

    public func recordCRMActivity(email: EmailAddress, at: Date, reason: String) async throws {
        try await run { try $0.recordCRMActivity(email: email, at: at, reason: reason) }
    }
}

/// The threads a register's transactions wait on: a pool of crmsync's own (not NIO's shared one, not Dispatch's, whose
/// threads on Linux are also those Swift's tasks run on). As many as the processors and four more: transactions of
/// one store run one at a time anyway (its database's lock), but callers of one store waiting for it hold a thread
/// each, and should leave some to the process's other stores; more callers than threads queue without holding a
/// thread of anyone else's.
public enum RegisterThreads {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: ProcessInfo.processInfo.processorCount + 4)
        pool.start()
        return pool
    }()

    /// Runs `body` on one of the register's threads and returns its result to the waiting task. A transaction runs
    /// whether or not the task is cancelled meanwhile, as it did on the caller's thread: a run stopping on SIGTERM
    /// still records what it wrote to the CRM, and still releases its lease (`NIOThreadPool.runIfActive` would drop
    /// the work of a cancelled task).
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            pool.submit { state in
                switch state {
                case .active: continuation.resume(with: Result(catching: body))
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        }
    }
}

extension SyncStore {
    /// Runs `body` with this store on one of ``RegisterThreads``: for a transaction of the register made from a task
    /// (it may wait for the server, or for the writer lock, for up to a minute).
    public func offThread<T: Sendable>(_ body: @escaping @Sendable (SyncStore) throws -> T) async throws -> T {
        let store = self
        return try await RegisterThreads.run { try body(store) }
    }
}
