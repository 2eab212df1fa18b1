import Foundation
import SyncCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Another run holds the writer lease.
public struct LeaseHeld: Error, LocalizedError, Sendable {
    public var holder: LeaseHolder

    public var errorDescription: String? {
        "another crmsync run holds the lease (\(holder.holder), since \(holder.acquiredAt.formatted(.iso8601)))"
    }
}

/// The lease's lock file could not be opened (a folder crmsync cannot write to).
public struct LeaseUnavailable: Error, LocalizedError, Sendable {
    public var path: String
    public var errorDescription: String? { "cannot open the lock file \(path)" }
}

/// A lock a database server holds for one session, released by the server when the session ends, however it ends:
/// the writer lease on a database several hosts share (PostgreSQL's session advisory lock).
public protocol SessionLock: Sendable {
    func unlock()
}

/// A database whose server can hold the writer lease for a session of its own (see ``SessionLock``).
public protocol SessionLocking {
    /// The lock `name`, or nil when another session holds it.
    func trySessionLock(_ name: String) throws -> (any SessionLock)?
}

/// One sync at a time against a store, whether runs come from the daemon, cron or a terminal, on one host or several.
///
/// On SQLite the lease is an exclusive `flock` on `<store>.lock` beside the store file's real path, held for the
/// duration of one run: the kernel releases it when the process ends, however it ends, so a run killed with SIGKILL
/// never blocks the next one. On PostgreSQL it is a session advisory lock on a connection of its own
/// (``SessionLocking``): the server releases it when that connection dies, so a killed or cut-off host never blocks
/// the others; the fencing token (``LeaseToken``) stops a cut-off holder that is still running from writing after
/// another took over. A row in the store says who holds it and since when, for `crmsync status` and the "held"
/// message.
public struct WriterLease: Sendable {
    public static let name = "writer"
    let store: SyncStore
    public let holder: String

    /// `holder` defaults to host and process id.
    public init(store: SyncStore, holder: String? = nil) {
        self.store = store
        self.holder = holder ?? "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// The lock file beside the store file's real path: a symbolic link, a relative path or `..` in `store.path`
    /// names the same lock as any other way to reach the file, so the lease belongs to the file, not to its name.
    /// Nil for a store in memory: no other process can open it, so an in-process lock stands in for the file's.
    static func lockPath(of store: SyncStore) -> String? {
        store.path.map { (PrivateFiles.realPath($0) ?? $0) + ".lock" }
    }

    /// The stores in memory whose lease is held now, by identity.
    private static let heldInMemory = Mutex<Set<ObjectIdentifier>>([])

    /// What holds the lease: a locked file descriptor, or a store in memory marked held.
    private enum Lock {
        case file(Int32)
        case memory(ObjectIdentifier)
        case session(any SessionLock)
    }

    /// Runs `body` holding the lease; throws ``LeaseHeld`` without running it when another run holds it. `body` gets
    /// the acquisition's fencing token: a run writes through `store.fenced(by:)` with it.
    ///
    /// Its writes (recording and releasing the lease, which may wait for the writer lock) run on one of the
    /// register's threads (``RegisterThreads``), not the caller's.
    public func run<T: Sendable>(_ body: (LeaseToken) async throws -> T) async throws -> T {
        let lock = try Self.tryLock(store)
        guard let lock else { throw LeaseHeld(holder: try Self.recordedHolder(store)) }
        defer { Self.unlock(lock) }
        let holder = self.holder
        let token = try await store.offThread { try $0.recordLease(Self.name, holder: holder) }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(token))
        } catch {
            result = .failure(error)
        }
        _ = try? await store.offThread { try $0.releaseLease(Self.name, holder: holder) }
        return try result.get()
    }

    /// Who holds the lease now, or nil when no live process does (a row left by a killed run is ignored).
    public static func currentHolder(of store: SyncStore) throws -> LeaseHolder? {
        guard let lock = try tryLock(store) else { return try recordedHolder(store) }
        unlock(lock)
        return nil
    }

    private static func recordedHolder(_ store: SyncStore) throws -> LeaseHolder {
        try store.currentLease(name)
            ?? LeaseHolder(holder: "a crmsync process starting up", acquiredAt: Date(), expiresAt: .distantFuture)
    }

    /// The lock, or nil when another holder has it.
    private static func tryLock(_ store: SyncStore) throws -> Lock? {
        if let server = store.database as? any SessionLocking {
            return try server.trySessionLock(name).map(Lock.session)
        }
        guard let path = lockPath(of: store) else {
            // By the database, not the store object: a fenced view shares its store's database (and lease).
            let id = ObjectIdentifier(store.database)
            return heldInMemory.withLock { $0.insert(id).inserted } ? .memory(id) : nil
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw LeaseUnavailable(path: path) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return .file(descriptor) }
        close(descriptor)
        return nil
    }

    private static func unlock(_ lock: Lock) {
        switch lock {
        case .file(let descriptor):
            flock(descriptor, LOCK_UN)
            close(descriptor)
        case .memory(let id):
            _ = heldInMemory.withLock { $0.remove(id) }
        case .session(let lock):
            lock.unlock()
        }
    }
}
