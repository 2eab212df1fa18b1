import Crypto
import Foundation
import Logging
import SyncCore
import SyncModel
import Synchronization

/// The canonical store: the register as crmsync holds it, in one SQLite file (GRDB, WAL mode), in memory for tests
/// and the model checker, or in a PostgreSQL database several hosts share (`PostgresRegister`).
///
/// Every logical change is one transaction: a contact and its consent evidence, a suppression and its
/// audit entry, an erasure and its tombstone are written together or not at all. The store's rules are written
/// once, in the SQL both databases run, against a ``RegisterDatabase``; no database library's type appears in its
/// public API.
public final class SyncStore: Sendable {
    let database: any RegisterDatabase
    /// The SQLite file's path, where the writer lease's lock file sits beside it; nil for a store in memory.
    public let path: String?
    let clock: any SyncClock
    let logger: Logger
    private let subjectKey: SymmetricKey
    /// The writer lease's token this store's writes carry (a run's view, ``fenced(by:)``); nil: not fenced.
    public let fence: LeaseToken?
    /// The erasure journal beside (or apart from) a store file; none for a store in memory.
    private let journal = Mutex<ErasureJournal?>(nil)
    /// What opening the erasure journal did: erasures a restored store lacked, written again.
    public var journalRestored: Int { journalRestoredCount.withLock { $0 } }
    private let journalRestoredCount = Mutex(0)

    /// Opens (creating if needed) the store at `path` and brings its schema up to date. A new store file is created
    /// owner-only (0600), whatever the umask. With `existingOnly` (a dry run) the store is opened read-only (SQLite
    /// refuses any write, so a dry run cannot write by construction): it creates and migrates nothing, and a missing
    /// or out-of-date store is an error.
    ///
    /// The erasure journal (`erasureJournal`, by default `<path>.erasure-journal`) is opened with it and the store
    /// brought up to it before anything else (``ErasureJournal``); `startNewJournal` starts a journal where the
    /// store has had one and it is missing.
    public convenience init(
        path: String, clock: any SyncClock = SystemClock(), logger: Logger = .silent("crmsync.store"),
        existingOnly: Bool = false, erasureJournal: String? = nil, startNewJournal: Bool = false
    ) throws {
        if existingOnly && !FileManager.default.fileExists(atPath: path) {
            throw StoreError.cannotOpen("there is no store at \(path) (a dry run creates none: run crmsync init first)")
        }
        let database = try SQLiteDatabase.open(path: path, readOnly: existingOnly)
        try self.init(database: database, path: path, clock: clock, logger: logger, migrates: !existingOnly)
        // A store without its key yet (only a dry run opens one without creating it) holds no erasure to journal.
        let hasKey = try database.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM metadata WHERE key = 'subjectKey')") ?? false
        }
        guard hasKey else { return }
        try attachJournal(
            path: erasureJournal ?? Self.defaultErasureJournal(forStore: path), readOnly: existingOnly,
            startNew: startNewJournal)
    }

    /// Opens the erasure journal at `path` and brings the store up to it (``ErasureJournal``).
    package func attachJournal(path journalPath: String, readOnly: Bool, startNew: Bool) throws {
        do {
            let (journal, reconciliation) = try ErasureJournal.open(
                path: journalPath, store: self, keyId: keyedHash("crmsync erasure journal"), readOnly: readOnly,
                startNew: startNew)
            self.journal.withLock { $0 = journal }
            journalRestoredCount.withLock { $0 = reconciliation.restored + reconciliation.reErased }
            if reconciliation.restored > 0 || reconciliation.reErased > 0 {
                logger.notice(
                    "store: erasures the erasure journal holds were missing (a restored backup?); applied again",
                    metadata: [
                        "store.journal.restored": "\(reconciliation.restored)",
                        "store.journal.reErased": "\(reconciliation.reErased)",
                    ])
            }
        } catch let error as PrivateFileError {
            throw StoreError.cannotOpen(error.errorDescription ?? "the erasure journal cannot be written")
        }
    }

    /// Whether this register has kept an erasure journal (its metadata says so).
    public func hasHadErasureJournal() throws -> Bool {
        try database.read { db in
            try Int.fetchOne(db, sql: "SELECT 1 FROM metadata WHERE key = 'erasureJournal'") != nil
        }
    }

    /// Brings the register up to its erasure journal again, as opening it does (``ErasureJournal``): what a database
    /// restored under a running process lacks is applied again before the next run. Returns how many erasure
    /// records were applied again; 0 without a journal.
    @discardableResult
    public func reconcileErasureJournal() throws -> Int {
        guard let path = journal.withLock({ $0 })?.path else { return 0 }
        try attachJournal(path: path, readOnly: false, startNew: false)
        return journalRestored
    }

    /// Where a store's erasure journal is unless `store.erasureJournal` says otherwise: beside the store file's real
    /// path, so that every name of the store (a symbolic link, a relative path) finds the same journal.
    public static func defaultErasureJournal(forStore path: String) -> String {
        (PrivateFiles.realPath(path) ?? path) + ".erasure-journal"
    }

    /// Appends what the transaction `db` added to the erasure tables to the erasure journal, if there is one.
    func journalCapture(_ db: any SQLSession) throws {
        try journal.withLock { $0 }?.capture(db)
    }

    /// Closes the database: the store cannot be used after this (a restore replaces its file).
    public func close() throws { try database.close() }

    /// What the database is, for messages: the file's path, `memory`, or a PostgreSQL address without its password.
    public var place: String { placeName }

    /// This store as a run holding the writer lease sees it: every write (and the holds read before each CRM write)
    /// first checks, in its transaction, that `token` is still the lease's latest acquisition, and throws
    /// ``StaleLease`` when another run has taken the lease over. It shares the database, key and journal.
    public func fenced(by token: LeaseToken) -> SyncStore { SyncStore(sharing: self, fence: token) }

    private init(sharing other: SyncStore, fence: LeaseToken) {
        database = other.database
        path = other.path
        clock = other.clock
        logger = other.logger
        placeName = other.placeName
        subjectKey = other.subjectKey
        self.fence = fence
        let journal = other.journal.withLock { $0 }
        self.journal.withLock { $0 = journal }
        let restored = other.journalRestored
        journalRestoredCount.withLock { $0 = restored }
    }

    /// A read made just before a CRM write (the holds, the objections to write back): on a fenced store, a run whose
    /// lease was taken over stops here, before it writes.
    func readBeforeCRMWrite<T>(_ value: (any SQLSession) throws -> T) throws -> T {
        try database.read { db in
            if let fence { try Self.check(fence, in: db) }
            return try value(db)
        }
    }

    /// Rows of `sql` (whose `IN (?)` takes `values`), 500 values a query: SQLite's limit on bound values.
    static func forEachRow(
        _ sql: (_ marks: String) -> String, in values: [String], _ db: any SQLSession, _ body: (SQLRow) throws -> Void
    ) throws {
        for start in stride(from: 0, to: values.count, by: 500) {
            let chunk = Array(values[start..<min(start + 500, values.count)])
            try db.forEachRow(sql: sql(questionMarks(count: chunk.count)), arguments: SQLArguments(chunk), body)
        }
    }

    /// One write transaction; on a fenced store, refused whole when the lease was taken over.
    func write<T>(_ updates: (any SQLSession) throws -> T) throws -> T {
        try database.write { db in
            if let fence { try Self.check(fence, in: db) }
            return try updates(db)
        }
    }

    /// A store on `database`, its schema brought up to date (`migrates`) or checked to be (a dry run), and its subject
    /// key loaded (created with the schema). `path` is a store file's; `place` names the database in messages.
    package init(
        database: any RegisterDatabase, path: String?, place: String? = nil, clock: any SyncClock, logger: Logger,
        migrates: Bool
    ) throws {
        self.fence = nil
        self.database = database
        self.path = path
        self.clock = clock
        self.logger = logger
        let place = place ?? path ?? "memory"
        placeName = place
        do {
            if migrates {
                try database.migrate()
            } else {
                guard try database.hasCompletedMigrations() else {
                    throw StoreError.cannotOpen(
                        "the store at \(place) needs a newer schema (a dry run migrates nothing: run crmsync init first)"
                    )
                }
            }
            subjectKey =
                migrates ? try Self.loadOrCreateSubjectKey(in: database) : try Self.readSubjectKey(in: database)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.cannotOpen("cannot open the store at \(place): \(database.describe(error))")
        }
        logger.debug("store opened", metadata: ["store.path": "\(place)"])
    }

    private let placeName: String

    /// Whether every migration this build knows has been applied.
    public func isUpToDate() throws -> Bool { try database.hasCompletedMigrations() }

    /// The applied migrations, oldest first.
    public func appliedMigrations() throws -> [String] { try database.appliedMigrations() }

    /// HMAC-SHA256 of the normalised email under this store's secret, as hex: how tombstones name a subject.
    public func subjectHash(of email: EmailAddress) -> String { keyedHash(email.normalized) }

    /// HMAC-SHA256 of a CRM record id under the same secret, as hex: how tombstones name an erased subject's
    /// CRM record without keeping its id.
    public func crmIdHash(of crmId: String) -> String { keyedHash(crmId) }

    func keyedHash(_ text: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: subjectKey)
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for byte in mac {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// The store's subject key, read only (a dry run). A store that has none holds no tombstone, so a key of this
    /// process alone answers every lookup as a store with a key would: no subject erased.
    private static func readSubjectKey(in database: any RegisterDatabase) throws -> SymmetricKey {
        try database.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM metadata WHERE key = 'subjectKey'").map(
                SymmetricKey.init(data:))
        } ?? SymmetricKey(size: .bits256)
    }

    private static func loadOrCreateSubjectKey(in database: any RegisterDatabase) throws -> SymmetricKey {
        try database.write { db in
            if let data = try Data.fetchOne(db, sql: "SELECT value FROM metadata WHERE key = 'subjectKey'") {
                return SymmetricKey(data: data)
            }
            let key = SymmetricKey(size: .bits256)
            let data = key.withUnsafeBytes { Data($0) }
            try db.execute(sql: "INSERT INTO metadata (key, value) VALUES ('subjectKey', ?)", arguments: [data])
            return key
        }
    }

    var now: Date { clock.now }
}
