import Foundation

/// What copying a register to another database copies (or would copy), table by table.
public struct RegisterCopySummary: Sendable, Equatable {
    /// Rows per table, in the order they are copied.
    public var rows: [(table: String, count: Int)] = []

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.rows.map(\.table) == rhs.rows.map(\.table) && lhs.rows.map(\.count) == rhs.rows.map(\.count)
    }

    public var total: Int { rows.reduce(0) { $0 + $1.count } }

    public func count(_ table: String) -> Int { rows.first { $0.table == table }?.count ?? 0 }
}

/// Copying a whole register to an empty database of another kind (a SQLite file to PostgreSQL): every row of every
/// table, verbatim, in one transaction of the target, so the copy is whole or absent. The subject key goes with it,
/// so tombstones (keyed hashes) still name the erased; ids, the consent ledger, erasure requests, checkpoints, the
/// run and audit logs keep their values. The writer lease's rows stay behind: they belong to the source's runs.
public enum RegisterCopy {
    /// The register's tables, parents before children.
    static let tables = [
        "metadata", "contact", "consent", "consentEvent", "suppression", "syncBase", "formerAddress", "quarantine",
        "tombstone", "crmTombstone", "erasureRequest", "outbox", "checkpoint", "run", "auditLog",
    ]

    /// Tables whose `id` the database assigns: after a copy, the next id follows the copied ones.
    static let numbered = ["consentEvent", "outbox", "run", "auditLog"]

    /// Rows per statement: few round trips, under every database's limit on bound values.
    static let batch = 200

    /// Counts what `source` would copy and checks `target` can take it (migrated, empty); writes nothing.
    public static func plan(from source: SyncStore, to target: any RegisterDatabase) throws -> RegisterCopySummary {
        // A database with no register schema yet is empty: the copy creates the schema first.
        if try !target.appliedMigrations().isEmpty { try checkEmpty(target) }
        return try count(source.database)
    }

    /// Copies `source` into `target`, which must be migrated and empty (no row in any of the register's tables).
    @discardableResult
    public static func copy(from source: SyncStore, to target: any RegisterDatabase) throws -> RegisterCopySummary {
        try checkMigrated(target)
        var summary = RegisterCopySummary()
        try target.transaction { into in
            // Checked in the copy's own transaction, whose writer lock keeps every other writer out.
            try checkEmpty(into)
            try source.database.read { from in
                for table in tables {
                    summary.rows.append((table, try copy(table, from: from, into: into)))
                }
            }
            if into.dialect == .postgres {
                for table in numbered {
                    try into.execute(
                        sql:
                            "SELECT setval(pg_get_serial_sequence('\(table.lowercased())', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM \(table)",
                        arguments: [])
                }
            }
            return .commit
        }
        return summary
    }

    private static func copy(_ table: String, from: any SQLSession, into: any SQLSession) throws -> Int {
        var pending: [SQLRow] = []
        var copied = 0
        func flush() throws {
            guard let first = pending.first else { return }
            let columns = first.columns.joined(separator: ", ")
            let row = "(" + questionMarks(count: first.columns.count) + ")"
            try into.execute(
                sql: "INSERT INTO \(table) (\(columns)) VALUES "
                    + Array(repeating: row, count: pending.count).joined(separator: ", "),
                arguments: SQLArguments(values: pending.flatMap(\.values)))
            copied += pending.count
            pending.removeAll(keepingCapacity: true)
        }
        // In the order the rows were written, so the target's own numbering (the erasure journal's) follows it.
        let order = from.dialect == .sqlite ? "rowid" : "1"
        try from.forEachRowInPages(sql: "SELECT * FROM \(table) ORDER BY \(order)", arguments: []) { row in
            let columns = row.columns.filter { $0 != "seq" }
            var values = Self.values(of: row)
            // SQLite stores what it is given: a metadata value written as text by an older version is bytes elsewhere.
            if table == "metadata", let index = columns.firstIndex(of: "value"), case .text(let text) = values[index] {
                values[index] = .blob(Data(text.utf8))
            }
            pending.append(SQLRow(columns: columns, values: values))
            if pending.count == batch { try flush() }
        }
        try flush()
        return copied
    }

    /// The row's values without the source's own numbering column (PostgreSQL's `seq`, which the target assigns).
    private static func values(of row: SQLRow) -> [SQLValue] {
        zip(row.columns, row.values).filter { $0.0 != "seq" }.map(\.1)
    }

    private static func count(_ database: any RegisterDatabase) throws -> RegisterCopySummary {
        try database.read { db in
            var summary = RegisterCopySummary()
            for table in tables {
                summary.rows.append((table, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0))
            }
            return summary
        }
    }

    private static func checkEmpty(_ target: any RegisterDatabase) throws {
        try checkMigrated(target)
        try target.read { db in try checkEmpty(db) }
    }

    private static func checkMigrated(_ target: any RegisterDatabase) throws {
        guard try target.hasCompletedMigrations() else {
            throw StoreError.cannotOpen("the target database's register schema is not up to date")
        }
    }

    private static func checkEmpty(_ db: any SQLSession) throws {
        for table in tables + ["lease", "leaseEpoch"] {
            if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 > 0 {
                throw StoreError.invalidValue(
                    "the target is not empty (its \(table) table has rows): a register is copied only into an empty database"
                )
            }
        }
    }
}

extension SyncStore {
    /// The database under this store, for a copy of the register to or from it (``RegisterCopy``).
    public var registerDatabase: any RegisterDatabase { database }
}
