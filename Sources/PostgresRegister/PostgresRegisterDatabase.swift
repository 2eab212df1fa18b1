import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import SyncModel
import SyncStore

/// The register on PostgreSQL: one connection per store object, one transaction at a time on it.
///
/// Writers are one at a time across every process and host, as on SQLite: a write transaction first takes a
/// transaction-scoped advisory lock (``beginWrite``), so a compare-and-set read in it is still true when it writes. A
/// read is a `REPEATABLE READ READ ONLY` transaction: one snapshot, as a SQLite read. A lost connection is opened
/// again by the next transaction; the one it broke fails and rolls back whole (the server rolls back a transaction
/// whose connection ends).
///
/// The register's logic is synchronous (``SQLSession``): each statement waits for its answer on the caller's thread
/// (a NIO future; the connection's I/O runs on NIO's event loop, never on the waiting thread).
public final class PostgresRegisterDatabase: RegisterDatabase, @unchecked Sendable {
    public let location: PostgresLocation
    let readOnly: Bool
    private let logger: Logger
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var connection: PostgresConnection?

    public var dialect: SQLDialect { .postgres }

    /// How every write transaction begins: it takes the advisory lock ("crms", 1) that makes writers one at a time.
    static let beginWrite = ["BEGIN", "SELECT pg_advisory_xact_lock(1668443507, 1)"]

    /// Connects to `location` now, so that a wrong address or password fails here with a clear message. With
    /// `readOnly` (a dry run) the server refuses every write of the session.
    public init(location: PostgresLocation, readOnly: Bool = false, logger: Logger) throws {
        self.location = location
        self.readOnly = readOnly
        self.logger = logger
        lock.lock()
        defer { lock.unlock() }
        _ = try connected()
    }

    /// Opens a connection to `location` (the caller closes it).
    ///
    /// The session asks the server to probe the connection (TCP keepalives: 5 s idle, then 3 probes 5 s apart), so a
    /// host cut off from the server loses its session, its locks and any transaction it had open within about 20 s,
    /// not the system's default of hours; a transaction left idle for 5 minutes is ended by the server; a write that
    /// waits more than a minute for the writer lock fails rather than hang.
    public static func connect(
        _ location: PostgresLocation, readOnly: Bool = false, logger: Logger
    ) throws -> PostgresConnection {
        var tls = PostgresConnection.Configuration.TLS.disable
        if location.requiresTLS {
            do {
                tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            } catch {
                throw StoreError.cannotOpen("cannot set up TLS for \(location.description): \(error)")
            }
        }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = [
            ("application_name", "crmsync"), ("tcp_keepalives_idle", "5"), ("tcp_keepalives_interval", "5"),
            ("tcp_keepalives_count", "3"), ("idle_in_transaction_session_timeout", "300000"),
            ("lock_timeout", "60000"),
        ]
        if readOnly {
            configuration.options.additionalStartupParameters.append(("default_transaction_read_only", "on"))
        }
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                id: Int.random(in: 1...Int.max), logger: logger
            ).wait()
        } catch {
            throw StoreError.cannotOpen("cannot connect to \(location.description): \(describe(error))")
        }
    }

    /// The open connection, opened again when it was lost. Call holding `lock`.
    private func connected() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        let opened = try Self.connect(location, readOnly: readOnly, logger: logger)
        connection = opened
        return opened
    }

    public func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try run(begin: ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"]) { session in (try body(session), .commit) }
    }

    public func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try run(begin: Self.beginWrite) { session in (try body(session), .commit) }
    }

    public func transaction(_ body: (any SQLSession) throws -> TransactionCompletion) throws {
        try run(begin: Self.beginWrite) { session in ((), try body(session)) }
    }

    private func run<T>(
        begin: [String], _ body: (PostgresSession) throws -> (T, TransactionCompletion)
    ) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let connection = try connected()
        let session = PostgresSession(connection: connection, logger: logger)
        do {
            for statement in begin { try session.execute(sql: statement, arguments: []) }
            let (value, completion) = try body(session)
            try session.finish(completion == .commit ? "COMMIT" : "ROLLBACK")
            return value
        } catch {
            // A lost connection is opened again by the next transaction (``connected()``).
            if !connection.isClosed { try? session.finish("ROLLBACK") }
            throw error
        }
    }

    /// A connection is closed before it goes (postgres-nio requires it): a store dropped without ``close()`` closes it.
    deinit {
        guard let connection, !connection.isClosed else { return }
        if connection.eventLoop.inEventLoop {
            let closing: EventLoopFuture<Void> = connection.close()
            _ = closing
        } else {
            try? connection.close().wait()
        }
    }

    public func close() throws {
        lock.lock()
        defer { lock.unlock() }
        try connection?.close().wait()
        connection = nil
    }

    // MARK: Migrations

    public func migrate() throws {
        // Up to date: nothing to lock or create (a role without CREATE on the schema opens the register too).
        if try hasCompletedMigrations() { return }
        // A write transaction: one migrating process at a time (the writer lock); the others find the work done.
        try transaction { db in
            try db.execute(
                sql:
                    "CREATE TABLE IF NOT EXISTS crmsyncMigration (identifier TEXT PRIMARY KEY, appliedAt BIGINT NOT NULL)",
                arguments: [])
            let applied = Set(try String.fetchAll(db, sql: "SELECT identifier FROM crmsyncMigration"))
            for migration in PostgresSchema.migrations where !applied.contains(migration.identifier) {
                for statement in migration.statements { try db.execute(sql: statement, arguments: []) }
                try db.execute(
                    sql: "INSERT INTO crmsyncMigration (identifier, appliedAt) VALUES (?, ?)",
                    arguments: [migration.identifier, Date().millisecondsSince1970])
            }
            return .commit
        }
    }

    public func hasCompletedMigrations() throws -> Bool {
        Set(try appliedMigrations()).isSuperset(of: PostgresSchema.migrations.map(\.identifier))
    }

    public func appliedMigrations() throws -> [String] {
        try read { db in
            guard
                try Bool.fetchOne(db, sql: "SELECT to_regclass('crmsyncmigration') IS NOT NULL") == true
            else { return [] }
            return try String.fetchAll(
                db, sql: "SELECT identifier FROM crmsyncMigration ORDER BY appliedAt, identifier")
        }
    }

    /// PostgreSQL keeps a deleted row's old version until vacuum reclaims it: the tables an erasure deletes from
    /// are vacuumed, so no copy of the subject outlives the erasure's verification there.
    public func purgeDeletedRows() throws {
        guard !readOnly else { return }
        lock.lock()
        defer { lock.unlock() }
        let session = PostgresSession(connection: try connected(), logger: logger)
        // VACUUM runs outside a transaction.
        try session.finish(
            "VACUUM contact, consent, consentEvent, suppression, syncBase, formerAddress, auditLog, outbox")
    }

    public func describe(_ error: any Error) -> String { Self.describe(error) }

    /// Every row of every table of the register's schema, as PostgreSQL writes a row as text.
    public func rowImage() throws -> Data? {
        try read { db in
            var image = Data()
            for table in try String.fetchAll(
                db, sql: "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
            {
                for line in try String.fetchAll(db, sql: "SELECT CAST(t AS TEXT) FROM \"\(table)\" t") {
                    image.append(Data((line + "\n").utf8))
                }
            }
            return image
        }
    }

    /// The server's message and SQLSTATE, never its detail (which can quote the row's values), or the kind of
    /// failure for a connection's error.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo {
            return "\(info[.message] ?? "PostgreSQL error") (SQLSTATE \(info[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}

/// One connection inside a transaction, as the register's logic sees it: `?` placeholders numbered `$1`, `$2`, …
/// and each answer converted to ``SQLValue``s (integers of every width, booleans as 1 or 0, text, bytes).
///
/// A statement that returns nothing is sent without waiting for its answer: the connection runs its queue in order,
/// so the next read sees it, and every answer is collected (its error thrown) before the next read, savepoint or
/// the transaction's end. A run of writes costs the server's work, not a thread's wake-up per statement.
final class PostgresSession: SQLSession {
    let connection: PostgresConnection
    let logger: Logger
    private var savepoints = 0
    /// Writes sent and not yet answered, oldest first.
    private var unanswered: [EventLoopFuture<PostgresQueryResult>] = []

    var dialect: SQLDialect { .postgres }

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func execute(sql: String, arguments: SQLArguments) throws {
        unanswered.append(send(sql, arguments))
        // A long run of writes is collected now and then, so its answers do not pile up.
        if unanswered.count >= 256 { try collect() }
    }

    /// Waits for every write sent, in order; throws the first one's error (the server has aborted the transaction).
    func collect() throws {
        let pending = unanswered
        unanswered.removeAll(keepingCapacity: true)
        var failure: (any Error)?
        for future in pending {
            do { _ = try future.wait() } catch { if failure == nil { failure = error } }
        }
        if let failure { throw failure }
    }

    func forEachRow(sql: String, arguments: SQLArguments, _ body: (SQLRow) throws -> Void) throws {
        try Self.forEach(in: try query(sql, arguments).rows, body)
    }

    /// Each of `rows` as an ``SQLRow``, the column names read once.
    private static func forEach(in rows: [PostgresRow], _ body: (SQLRow) throws -> Void) throws {
        guard let first = rows.first else { return }
        let columns = first.map { $0.columnName.lowercased() }
        for row in rows { try body(SQLRow(columns: columns, values: try row.map(value))) }
    }

    /// Rows through a cursor, 1,000 at a time: a whole table never sits in memory at once.
    func forEachRowInPages(sql: String, arguments: SQLArguments, _ body: (SQLRow) throws -> Void) throws {
        cursors += 1
        let name = "crmsync_rows_\(cursors)"
        _ = try query("DECLARE \(name) NO SCROLL CURSOR FOR \(sql)", arguments)
        while true {
            let page = try query("FETCH FORWARD 1000 FROM \(name)", []).rows
            try Self.forEach(in: page, body)
            if page.count < 1000 { break }
        }
        _ = try query("CLOSE \(name)", [])
    }

    private var cursors = 0

    /// Ends the transaction (`COMMIT` or `ROLLBACK`) once every write before it is answered.
    func finish(_ statement: String) throws { _ = try query(statement, []) }

    func insertReturningId(sql: String, arguments: SQLArguments) throws -> Int64 {
        let result = try query(sql + " RETURNING id", arguments)
        guard let cell = result.rows.first?.first, let id = Int64.fromSQL(try Self.value(cell)) else {
            throw StoreError.invalidValue("the database assigned no id")
        }
        return id
    }

    func inSavepoint(_ body: () throws -> TransactionCompletion) throws {
        savepoints += 1
        let name = "crmsync_\(savepoints)"
        defer { savepoints -= 1 }
        _ = try query("SAVEPOINT \(name)", [])
        let completion: TransactionCompletion
        do {
            completion = try body()
            try collect()
        } catch {
            _ = try? query("ROLLBACK TO SAVEPOINT \(name)", [])
            throw error
        }
        if completion == .rollback { _ = try query("ROLLBACK TO SAVEPOINT \(name)", []) }
        _ = try query("RELEASE SAVEPOINT \(name)", [])
    }

    /// Sends a statement and waits for its answer, after every write before it.
    private func query(_ sql: String, _ arguments: SQLArguments) throws -> PostgresQueryResult {
        let answer = send(sql, arguments)
        do {
            try collect()
        } catch {
            _ = try? answer.wait()
            throw error
        }
        return try answer.wait()
    }

    private func send(_ sql: String, _ arguments: SQLArguments) -> EventLoopFuture<PostgresQueryResult> {
        var bindings = PostgresBindings(capacity: arguments.values.count)
        for value in arguments.values {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let integer): bindings.append(integer)
            case .real(let real): bindings.append(real)
            case .text(let text): bindings.append(text)
            case .blob(let data): bindings.append(ByteBuffer(bytes: data))
            }
        }
        return connection.query(PostgresQuery(unsafeSQL: Self.numbered(sql), binds: bindings), logger: logger)
    }

    /// `sql` with each `?` outside a quoted literal or name replaced by `$1`, `$2`, … in order.
    static func numbered(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.utf8.count + 16)
        var index = 0
        var quote: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                result.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                result.append(character)
            } else if character == "?" {
                index += 1
                result += "$\(index)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int8: return .integer(try cell.decode(Int64.self))
        case .int4: return .integer(Int64(try cell.decode(Int32.self)))
        case .int2: return .integer(Int64(try cell.decode(Int16.self)))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .float8, .float4: return .real(try cell.decode(Double.self))
        case .bytea:
            let buffer = try cell.decode(ByteBuffer.self)
            return .blob(Data(buffer.readableBytesView))
        default: return .text(try cell.decode(String.self))
        }
    }
}

extension PostgresRegisterDatabase: SessionLocking {
    /// The advisory lock ("crms", 2) on a connection of its own, kept open while the lock is held. Like every session
    /// of the register (``connect(_:readOnly:logger:)``) it asks for keepalive probes, so a host cut off from the
    /// server loses the lock within about 20 s rather than the system's default of hours.
    public func trySessionLock(_ name: String) throws -> (any SessionLock)? {
        let connection = try Self.connect(location, logger: logger)
        let session = PostgresSession(connection: connection, logger: logger)
        do {
            let key = Self.lockKey(name)
            guard
                try Bool.fetchOne(
                    session, sql: "SELECT pg_try_advisory_lock(1668443507, CAST(? AS INTEGER))", arguments: [key])
                    == true
            else {
                try? connection.close().wait()
                return nil
            }
            return PostgresSessionLock(session: session, key: key)
        } catch {
            try? connection.close().wait()
            throw error
        }
    }

    /// The second key of the lease's advisory lock: 2 for the writer lease, others for any other name.
    static func lockKey(_ name: String) -> Int {
        name == "writer" ? 2 : 3 + Int(name.utf8.reduce(UInt32(0)) { ($0 &* 31) &+ UInt32($1) } % 1_000_000)
    }
}

/// The writer lease held on PostgreSQL: a session advisory lock and the session that holds it.
final class PostgresSessionLock: SessionLock, @unchecked Sendable {
    /// Used by one holder at a time: the run that took the lease, then its `unlock`.
    let session: PostgresSession
    let key: Int

    init(session: PostgresSession, key: Int) {
        self.session = session
        self.key = key
    }

    func unlock() {
        // Closing the session releases the lock; unlocking first makes it free before the close completes.
        _ = try? Bool.fetchOne(
            session, sql: "SELECT pg_advisory_unlock(1668443507, CAST(? AS INTEGER))", arguments: [key])
        try? session.connection.close().wait()
    }
}
