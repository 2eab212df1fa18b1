import Foundation
import GRDB
import Logging
import SyncModel

/// The register on SQLite through GRDB: a file (a `DatabasePool`, WAL mode) or memory (a `DatabaseQueue`). SQLite
/// has one writer at a time by construction; a read sees the snapshot it started on.
final class SQLiteDatabase: RegisterDatabase {
    let writer: any DatabaseWriter
    var dialect: SQLDialect { .sqlite }

    init(_ writer: any DatabaseWriter) { self.writer = writer }

    /// The store file at `path`, created owner-only (0600, whatever the umask) unless `readOnly`; read-only, SQLite
    /// refuses any write, so a dry run cannot write by construction.
    static func open(path: String, readOnly: Bool) throws -> SQLiteDatabase {
        do {
            // A new store file is created owner-only before SQLite opens it; SQLite gives `-wal` and `-shm` its mode.
            if !readOnly { try PrivateFiles.createIfMissing(atPath: path) }
            return SQLiteDatabase(try DatabasePool(path: path, configuration: configuration(readOnly: readOnly)))
        } catch let error as PrivateFileError {
            throw StoreError.cannotOpen("cannot open the store at \(error.errorDescription ?? path)")
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(
                "cannot open the store at \(path): \(error.message ?? "SQLite error \(error.resultCode)")")
        }
    }

    /// A new, empty database in memory.
    static func inMemory() throws -> SQLiteDatabase {
        SQLiteDatabase(try DatabaseQueue(configuration: configuration(readOnly: false)))
    }

    static func configuration(readOnly: Bool) -> Configuration {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        // Erased subjects must not linger in free pages of the file.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        return configuration
    }

    func migrate() throws { try Schema.migrator.migrate(writer) }

    func hasCompletedMigrations() throws -> Bool {
        try writer.read { db in try Schema.migrator.hasCompletedMigrations(db) }
    }

    func appliedMigrations() throws -> [String] {
        try writer.read { db in try Schema.migrator.appliedMigrations(db) }
    }

    /// Checkpoints the write-ahead log so no copy of an erased row lingers there (secure_delete clears the pages).
    func purgeDeletedRows() throws {
        try writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    }

    func rowImage() throws -> Data? { nil }

    func describe(_ error: any Error) -> String {
        guard let error = error as? DatabaseError else { return "\(error)" }
        return error.message ?? "SQLite error \(error.resultCode)"
    }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try writer.read { db in try body(GRDBSession(db)) }
    }

    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try writer.write { db in try body(GRDBSession(db)) }
    }

    func transaction(_ body: (any SQLSession) throws -> TransactionCompletion) throws {
        try writer.writeWithoutTransaction { db in
            try db.inTransaction {
                switch try body(GRDBSession(db)) {
                case .commit: .commit
                case .rollback: .rollback
                }
            }
        }
    }

    func close() throws { try writer.close() }
}

/// One GRDB connection inside a transaction, as the register's logic sees it. Statements are prepared once per
/// connection (GRDB's statement cache).
final class GRDBSession: SQLSession {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    init(_ db: Database) { self.db = db }

    func execute(sql: String, arguments: SQLArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
    }

    func forEachRow(sql: String, arguments: SQLArguments, _ body: (SQLRow) throws -> Void) throws {
        let statement = try db.cachedStatement(sql: sql)
        let columns = statement.columnNames.map { $0.lowercased() }
        let rows = try Row.fetchCursor(statement, arguments: Self.arguments(arguments))
        while let row = try rows.next() {
            try body(SQLRow(columns: columns, values: row.databaseValues.map(Self.value)))
        }
    }

    func insertReturningId(sql: String, arguments: SQLArguments) throws -> Int64 {
        try execute(sql: sql, arguments: arguments)
        return db.lastInsertedRowID
    }

    func inSavepoint(_ body: () throws -> TransactionCompletion) throws {
        try db.inSavepoint {
            switch try body() {
            case .commit: .commit
            case .rollback: .rollback
            }
        }
    }

    private static func arguments(_ arguments: SQLArguments) -> StatementArguments {
        StatementArguments(
            arguments.values.map { value -> DatabaseValue in
                switch value {
                case .null: .null
                case .integer(let integer): integer.databaseValue
                case .real(let real): real.databaseValue
                case .text(let text): text.databaseValue
                case .blob(let data): data.databaseValue
                }
            })
    }

    private static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let integer): .integer(integer)
        case .double(let real): .real(real)
        case .string(let text): .text(text)
        case .blob(let data): .blob(data)
        }
    }
}

extension SyncStore {
    /// A new, empty store in memory, migrated: for tests and the model checker (no file, no lock, no fsync). With
    /// `erasureJournal`, its erasures are journalled to that file as a store file's are.
    public static func inMemory(
        clock: any SyncClock = SystemClock(), logger: Logger = .silent("crmsync.store"), erasureJournal: String? = nil
    ) throws -> SyncStore {
        let store = try SyncStore(
            database: SQLiteDatabase.inMemory(), path: nil, clock: clock, logger: logger, migrates: true)
        if let erasureJournal { try store.attachJournal(path: erasureJournal, readOnly: false, startNew: false) }
        return store
    }

    /// A store in memory holding what the backup file at `backup` holds (``backup(to:)``), brought up to the
    /// erasure journal at `erasureJournal` as a store file restored from a backup is when it opens.
    public static func inMemory(
        restoring backup: String, erasureJournal: String, clock: any SyncClock = SystemClock(),
        logger: Logger = .silent("crmsync.store")
    ) throws -> SyncStore {
        let database = try SQLiteDatabase.inMemory()
        let source = try DatabaseQueue(path: backup)
        try source.backup(to: database.writer)
        try source.close()
        let store = try SyncStore(database: database, path: nil, clock: clock, logger: logger, migrates: true)
        try store.attachJournal(path: erasureJournal, readOnly: false, startNew: false)
        return store
    }

    /// Writes a consistent copy of the whole store to a new owner-only file at `path`, as an administrator's
    /// backup tool (`sqlite3 .backup`) would; the erasure journal is not part of it.
    public func backup(to path: String) throws {
        try PrivateFiles.createIfMissing(atPath: path)
        guard let database = database as? SQLiteDatabase else {
            throw StoreError.invalidValue("only a SQLite store is backed up this way (back PostgreSQL up with pg_dump)")
        }
        let destination = try DatabaseQueue(path: path)
        try database.writer.backup(to: destination)
        // A copy put back in place must not make the token of a run alive when it was taken valid again.
        try destination.write { db in
            try db.execute(sql: "UPDATE leaseEpoch SET nonce = ?", arguments: [UUID().uuidString.lowercased()])
        }
        try destination.close()
    }

    /// Every page of the database, free pages included, as SQLite writes them to a file (SQLite's backup
    /// copies page by page): what an erasure check searches for a subject's leftover plaintext.
    /// On PostgreSQL, whose files are the server's, it is every row of every table as text (``RegisterDatabase/rowImage()``).
    public func pageImage() throws -> Data {
        if let image = try database.rowImage() { return image }
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-image-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        try backup(to: copy.path)
        return try Data(contentsOf: copy)
    }

    /// The SQLite database under this store (tests and tools that reach past the register's rules), or nil.
    package var sqliteWriter: (any DatabaseWriter)? { (database as? SQLiteDatabase)?.writer }
}
