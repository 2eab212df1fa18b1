import Foundation

/// What the register's logic asks of a database: statements in one SQL that SQLite and PostgreSQL both run, inside
/// a transaction the database opened. The register's rules (``SyncStore``) are written once against this; each
/// database is a small backend (``SQLiteDatabase``, GRDB; `PostgresRegister`, postgres-nio).
///
/// The SQL is the common subset: `?` placeholders (the PostgreSQL backend numbers them), `INSERT … ON CONFLICT`,
/// integers for booleans, and no SQLite-only function; what differs is in ``SQLDialect``.
public protocol SQLSession: AnyObject {
    var dialect: SQLDialect { get }
    func execute(sql: String, arguments: SQLArguments) throws
    /// Calls `body` with each row of the query, in order.
    func forEachRow(sql: String, arguments: SQLArguments, _ body: (SQLRow) throws -> Void) throws
    /// As ``forEachRow(sql:arguments:_:)``, for a query whose rows may be too many to hold at once (a whole table):
    /// the rows come a page at a time (SQLite steps through them anyway; PostgreSQL reads them through a cursor).
    func forEachRowInPages(sql: String, arguments: SQLArguments, _ body: (SQLRow) throws -> Void) throws
    /// Runs an `INSERT` into a table whose key the database assigns, and returns the key.
    func insertReturningId(sql: String, arguments: SQLArguments) throws -> Int64
    /// Runs `body` in a savepoint: rolled back when it answers `.rollback` or throws (and the error rethrown).
    func inSavepoint(_ body: () throws -> TransactionCompletion) throws
}

/// How a transaction or a savepoint ends.
public enum TransactionCompletion: Sendable {
    case commit
    case rollback
}

/// Where the databases' SQL differs.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// The column that numbers a table's rows in the order they were inserted (the erasure journal reads by it).
    var insertionOrder: String {
        switch self {
        case .sqlite: "rowid"
        case .postgres: "seq"
        }
    }
}

/// A register database: transactions, one writer at a time (across processes and hosts), reads from a snapshot.
public protocol RegisterDatabase: AnyObject, Sendable {
    var dialect: SQLDialect { get }
    /// A read-only transaction that sees one snapshot.
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// A write transaction, committed when `body` returns and rolled back when it throws.
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// A write transaction whose end `body` decides.
    func transaction(_ body: (any SQLSession) throws -> TransactionCompletion) throws
    func close() throws

    /// Brings the schema up to date (each version once, whoever else migrates at the same time).
    func migrate() throws
    func hasCompletedMigrations() throws -> Bool
    /// The applied migrations, oldest first.
    func appliedMigrations() throws -> [String]
    /// After an erasure is verified: leave no copy of what it deleted where the database keeps old versions of rows.
    func purgeDeletedRows() throws
    /// Every row of every table as text, for a database whose files crmsync cannot read (a server's); nil where the
    /// store's own file is the image (SQLite).
    func rowImage() throws -> Data?
    /// An error of this database as a message without personal data (the database's own text, not the values).
    func describe(_ error: any Error) -> String
}

/// A value a statement binds or a row holds.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// A Swift value a statement can bind and a row can give back.
public protocol SQLValueConvertible {
    var sqlValue: SQLValue { get }
    /// The value `value` holds, or nil when it is NULL or of another kind.
    static func fromSQL(_ value: SQLValue) -> Self?
}

extension String: SQLValueConvertible {
    public var sqlValue: SQLValue { .text(self) }
    public static func fromSQL(_ value: SQLValue) -> String? {
        if case .text(let text) = value { return text }
        return nil
    }
}

extension Int64: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(self) }
    public static func fromSQL(_ value: SQLValue) -> Int64? {
        switch value {
        case .integer(let integer): integer
        case .real(let real): Int64(exactly: real)
        default: nil
        }
    }
}

extension Int: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(Int64(self)) }
    public static func fromSQL(_ value: SQLValue) -> Int? { Int64.fromSQL(value).map(Int.init) }
}

extension Bool: SQLValueConvertible {
    /// Stored as 1 or 0 in both databases.
    public var sqlValue: SQLValue { .integer(self ? 1 : 0) }
    public static func fromSQL(_ value: SQLValue) -> Bool? { Int64.fromSQL(value).map { $0 != 0 } }
}

extension Double: SQLValueConvertible {
    public var sqlValue: SQLValue { .real(self) }
    public static func fromSQL(_ value: SQLValue) -> Double? {
        switch value {
        case .real(let real): real
        case .integer(let integer): Double(integer)
        default: nil
        }
    }
}

extension Data: SQLValueConvertible {
    public var sqlValue: SQLValue { .blob(self) }
    public static func fromSQL(_ value: SQLValue) -> Data? {
        switch value {
        case .blob(let data): data
        case .text(let text): Data(text.utf8)
        default: nil
        }
    }
}

/// The values a statement binds to its `?`, in order.
public struct SQLArguments: ExpressibleByArrayLiteral, Sendable {
    public var values: [SQLValue]

    public init(arrayLiteral elements: (any SQLValueConvertible)?...) {
        values = elements.map { $0?.sqlValue ?? .null }
    }

    public init(_ elements: [(any SQLValueConvertible)?]) {
        values = elements.map { $0?.sqlValue ?? .null }
    }

    public init<S: Sequence>(_ elements: S) where S.Element: SQLValueConvertible {
        values = elements.map(\.sqlValue)
    }

    public init(values: [SQLValue]) { self.values = values }
}

/// One row of a result, read by position or by (case-insensitive) column name.
public struct SQLRow {
    /// The result's column names, lower-cased (PostgreSQL folds unquoted names to lower case).
    let columns: [String]
    let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript<T: SQLValueConvertible>(_ index: Int) -> T {
        guard let value = T.fromSQL(values[index]) else {
            preconditionFailure("column \(index) (\(columns[index])) does not hold a \(T.self)")
        }
        return value
    }

    public subscript<T: SQLValueConvertible>(_ index: Int) -> T? { T.fromSQL(values[index]) }

    public subscript<T: SQLValueConvertible>(_ name: String) -> T { self[index(of: name)] }

    public subscript<T: SQLValueConvertible>(_ name: String) -> T? { self[index(of: name)] }

    private func index(of name: String) -> Int {
        let lowered = name.lowercased()
        guard let index = columns.firstIndex(of: lowered) else { preconditionFailure("no column \(name)") }
        return index
    }

    /// Every row of a query.
    public static func fetchAll(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        try db.forEachRow(sql: sql, arguments: arguments) { rows.append($0) }
        return rows
    }

    /// The first row of a query, or nil.
    public static func fetchOne(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> SQLRow? {
        var first: SQLRow?
        try db.forEachRow(sql: sql, arguments: arguments) { if first == nil { first = $0 } }
        return first
    }

    public static func fetchAll(_ statement: SQLStatement, arguments: SQLArguments = []) throws -> [SQLRow] {
        try fetchAll(statement.session, sql: statement.sql, arguments: arguments)
    }

    public static func fetchOne(_ statement: SQLStatement, arguments: SQLArguments = []) throws -> SQLRow? {
        try fetchOne(statement.session, sql: statement.sql, arguments: arguments)
    }
}

/// A statement run many times in a transaction; the backends keep it prepared.
public struct SQLStatement {
    let session: any SQLSession
    let sql: String

    public func execute(arguments: SQLArguments = []) throws { try session.execute(sql: sql, arguments: arguments) }
}

extension SQLSession {
    public func execute(sql: String) throws { try execute(sql: sql, arguments: []) }

    public func forEachRowInPages(sql: String, arguments: SQLArguments, _ body: (SQLRow) throws -> Void) throws {
        try forEachRow(sql: sql, arguments: arguments, body)
    }

    public func cachedStatement(sql: String) -> SQLStatement { SQLStatement(session: self, sql: sql) }
}

extension SQLValueConvertible {
    /// The first column of the first row, or nil (no row, or NULL).
    public static func fetchOne(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> Self? {
        try SQLRow.fetchOne(db, sql: sql, arguments: arguments).flatMap { $0[0] }
    }

    /// The first column of every row that holds one.
    public static func fetchAll(_ db: any SQLSession, sql: String, arguments: SQLArguments = []) throws -> [Self] {
        var values: [Self] = []
        try db.forEachRow(sql: sql, arguments: arguments) { row in
            if let value: Self = row[0] { values.append(value) }
        }
        return values
    }

    public static func fetchOne(_ statement: SQLStatement, arguments: SQLArguments = []) throws -> Self? {
        try fetchOne(statement.session, sql: statement.sql, arguments: arguments)
    }
}

/// `?, ?, …`: the placeholders of an `IN` list.
func questionMarks(count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ", ") }
