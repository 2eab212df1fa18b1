import Foundation

/// A sync batch's writes, held and sent together: the rows a batch inserts into a table go in as multi-row
/// statements, not one statement a row. The register uses it on PostgreSQL, where every statement is a round trip
/// to the server (its SQL runs on SQLite too, from 3.33, the first with `UPDATE … FROM`).
///
/// Writes are held until the next read, savepoint or ``flush()``, then sent table by table: `contact` first (the
/// other tables' rows refer to it), then the others, each table's statements in the order they were made. Sent so,
/// they do what they did in the order they were made: nothing reads in between (a read sends what is held first),
/// writes to different tables touch different rows, and a row that refers to a contact is sent after every write of
/// `contact`. What could break that goes through in place, after what is held: a write to any other table, and any
/// statement that deletes contacts (their rows in the other tables go with them).
///
/// Consecutive inserts of one shape into one table are joined into one statement (up to ``rowsPerStatement`` rows);
/// an upsert is split where a row would meet a key the same statement already wrote (PostgreSQL refuses to update a
/// row twice in one statement, and the later row must win, as it did when sent alone).
final class WriteBatch: SQLSession {
    /// The tables whose writes are held, in the order they are sent.
    static let tables = ["contact", "formeraddress", "consentevent", "consent", "suppression", "syncbase", "auditlog"]
    static let rowsPerStatement = 500
    static let valuesPerStatement = 30_000

    private let base: any SQLSession
    private var held: [Write] = []

    /// One held statement.
    private struct Write {
        var table: Int
        var sql: String
        var arguments: [SQLValue]
    }

    init(_ base: any SQLSession) {
        self.base = base
    }

    var dialect: SQLDialect { base.dialect }

    func execute(sql: String, arguments: SQLArguments) throws {
        guard let table = Self.heldTable(of: sql) else {
            try flush()
            return try base.execute(sql: sql, arguments: arguments)
        }
        held.append(Write(table: table, sql: sql, arguments: arguments.values))
    }

    func forEachRow(sql: String, arguments: SQLArguments, _ body: (SQLRow) throws -> Void) throws {
        try flush()
        try base.forEachRow(sql: sql, arguments: arguments, body)
    }

    func forEachRowInPages(sql: String, arguments: SQLArguments, _ body: (SQLRow) throws -> Void) throws {
        try flush()
        try base.forEachRowInPages(sql: sql, arguments: arguments, body)
    }

    func insertReturningId(sql: String, arguments: SQLArguments) throws -> Int64 {
        try flush()
        return try base.insertReturningId(sql: sql, arguments: arguments)
    }

    func inSavepoint(_ body: () throws -> TransactionCompletion) throws {
        try flush()
        try base.inSavepoint {
            let completion = try body()
            try flush()
            return completion
        }
    }

    /// Sends every held write, table by table.
    func flush() throws {
        guard !held.isEmpty else { return }
        let writes = held
        held.removeAll()
        var byTable = Array(repeating: [Write](), count: Self.tables.count)
        for write in writes { byTable[write.table].append(write) }
        for table in byTable {
            var index = 0
            while index < table.count {
                index =
                    try sendInsert(table, from: index) ?? sendUpdate(table, from: index)
                    ?? {
                        try base.execute(sql: table[index].sql, arguments: SQLArguments(values: table[index].arguments))
                        return index + 1
                    }()
            }
        }
    }

    /// Sends the run of inserts of one shape that starts at `start` as one statement; returns where the run ends, or
    /// nil when the write at `start` is not an insert of rows of `?`s.
    private func sendInsert(_ writes: [Write], from start: Int) throws -> Int? {
        guard let shape = shape(of: writes[start].sql) else { return nil }
        var rows: [Substring] = []
        var arguments: [SQLValue] = []
        var keys = Set<[SQLValue]>()
        var end = start
        while end < writes.count, rows.count < Self.rowsPerStatement, self.shape(of: writes[end].sql) == shape {
            let values = writes[end].arguments
            // SQLite binds at most 32,766 values a statement.
            guard arguments.count + values.count <= Self.valuesPerStatement || end == start else { break }
            let rowKeys = stride(from: 0, to: values.count, by: shape.width).map { row in
                shape.conflictColumns.map { values[row + $0] }
            }
            if !shape.conflictColumns.isEmpty {
                // A key met twice: the rest goes in a statement of its own (after this one, as it was made).
                guard keys.isDisjoint(with: rowKeys), Set(rowKeys).count == rowKeys.count else { break }
                keys.formUnion(rowKeys)
            }
            rows += Array(repeating: shape.row, count: rowKeys.count)
            arguments += values
            end += 1
        }
        guard end > start else { return nil }
        try base.execute(
            sql: "\(shape.head) VALUES \(rows.joined(separator: ", "))\(shape.tail)",
            arguments: SQLArguments(values: arguments))
        return end
    }

    /// Sends the run of updates by id of one statement that starts at `start` as one `UPDATE … FROM (VALUES …)`;
    /// returns where the run ends, or nil when the write at `start` is not an update of one row by its id. The run
    /// ends before a row it already updates (each row once a statement) and before a value of another kind than its
    /// column's so far (a column of the list is typed by its casts).
    private func sendUpdate(_ writes: [Write], from start: Int) throws -> Int? {
        guard let shape = updateShape(of: writes[start].sql) else { return nil }
        var kinds = Array(repeating: SQLValue.Kind?.none, count: shape.width)
        var ids = Set<SQLValue>()
        var end = start
        while end < writes.count, end - start < Self.rowsPerStatement, writes[end].sql == writes[start].sql {
            let values = writes[end].arguments
            guard (end - start + 1) * shape.width <= Self.valuesPerStatement, !ids.contains(values[shape.width - 1])
            else { break }
            var merged = kinds
            var matches = true
            for (column, value) in values.enumerated() {
                guard let kind = value.kind else { continue }
                if let known = merged[column], known != kind { matches = false }
                merged[column] = kind
            }
            guard matches else { break }
            kinds = merged
            ids.insert(values[shape.width - 1])
            end += 1
        }
        // One row alone goes as it was made; so does a run that a unique column would fail out of order.
        guard end - start > 1, try keepsUniqueValues(shape, writes[start..<end]) else { return nil }
        let row =
            "("
            + kinds.map { kind in kind.map { "CAST(? AS \($0.typeName(dialect)))" } ?? "?" }
            .joined(separator: ", ") + ")"
        // A column that is NULL in every row has no type: the assignment gets the NULL itself.
        let assignments = shape.assignments(columns: kinds.dropLast().map { $0 == nil ? "NULL" : nil })
        try base.execute(
            sql: """
                UPDATE \(shape.table) SET \(assignments) FROM (VALUES \(Array(repeating: row, count: end - start).joined(separator: ", "))) AS v \
                WHERE \(shape.table).id = v.column\(shape.width)
                """,
            arguments: SQLArguments(values: writes[start..<end].flatMap(\.arguments)))
        return end
    }

    /// Whether the updates of a run may be made in any order as far as a unique column they set goes: true unless a
    /// row of the run holds, before the run, a value the run gives another of its rows. (In the order made, that row
    /// lets the value go before the other takes it; in one statement the other may come first and fail. Any other
    /// clash fails in every order: a row outside the run holding the value, or two rows given one value.)
    private func keepsUniqueValues(_ shape: UpdateShape, _ run: ArraySlice<Write>) throws -> Bool {
        for (column, position) in shape.uniqueAssignments {
            var givenTo: [SQLValue: SQLValue] = [:]
            for write in run where write.arguments[position] != .null {
                givenTo[write.arguments[position]] = write.arguments[shape.width - 1]
            }
            guard !givenTo.isEmpty else { continue }
            let ids = Set(run.map { $0.arguments[shape.width - 1] })
            var clash = false
            try base.forEachRow(
                sql:
                    "SELECT \(column), id FROM \(shape.table) WHERE \(column) IN (\(questionMarks(count: givenTo.count)))",
                arguments: SQLArguments(values: Array(givenTo.keys))
            ) { row in
                let holder = row.values[1]
                if ids.contains(holder) && givenTo[row.values[0]] != holder { clash = true }
            }
            if clash { return false }
        }
        return true
    }

    /// Each statement's shape, read once (nil: not a statement that joins others).
    private var shapes: [String: InsertShape?] = [:]
    private var updateShapes: [String: UpdateShape?] = [:]

    private func shape(of sql: String) -> InsertShape? { Self.read(sql, into: &shapes, InsertShape.init) }
    private func updateShape(of sql: String) -> UpdateShape? { Self.read(sql, into: &updateShapes, UpdateShape.init) }

    private static func read<Shape>(_ sql: String, into known: inout [String: Shape?], _ parse: (String) -> Shape?)
        -> Shape?
    {
        if let shape = known[sql] { return shape }
        let shape = parse(sql)
        known[sql] = shape
        return shape
    }

    /// The index in ``tables`` of the table a write holds back, or nil when it goes through in place.
    static func heldTable(of sql: String) -> Int? {
        let words = sql.split(maxSplits: 3, whereSeparator: \.isWhitespace)
        guard words.count >= 3 else { return nil }
        let table: Substring
        switch (words[0].uppercased(), words[1].uppercased()) {
        case ("INSERT", "INTO"): table = words[2]
        case ("UPDATE", _): table = words[1]
        case ("DELETE", "FROM"): table = words[2]
        default: return nil
        }
        let name = table.prefix { $0.isLetter || $0.isNumber || $0 == "_" }.lowercased()
        guard let index = tables.firstIndex(of: name) else { return nil }
        // Deleting contacts deletes their rows elsewhere: in place, after what is held.
        if index == 0 && words[0].uppercased() == "DELETE" { return nil }
        return index
    }
}

/// `INSERT INTO t (a, b, …) VALUES (?, ?, …)[, (?, ?, …)…][ ON CONFLICT (k, …) …]`, read into its parts: two inserts
/// of one shape differ only in how many rows they carry.
struct InsertShape: Equatable {
    /// `INSERT INTO t (a, b, …)`.
    var head: Substring
    /// One row: `(?, ?, …)`.
    var row: Substring
    /// What follows the rows (an `ON CONFLICT` clause), or nothing.
    var tail: Substring
    /// Values a row binds.
    var width: Int
    /// The positions in a row of the conflict target's columns (none without `ON CONFLICT`).
    var conflictColumns: [Int]

    init?(_ sql: String) {
        // The column list ends at the first `)`; then `VALUES` (after a space or a line break).
        guard sql.hasPrefix("INSERT INTO "), let columnsEnd = sql.firstIndex(of: ")") else { return nil }
        head = sql[...columnsEnd]
        let values = sql[sql.index(after: columnsEnd)...].drop { $0.isWhitespace }
        guard values.hasPrefix("VALUES") else { return nil }
        let rows = values.dropFirst(6).drop { $0.isWhitespace }
        guard rows.first == "(", let close = rows.firstIndex(of: ")") else { return nil }
        row = rows[...close]
        // Only rows of placeholders: a row's values are then exactly its arguments.
        let placeholders = row.dropFirst().dropLast().split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard !placeholders.isEmpty, placeholders.allSatisfy({ $0 == "?" }) else { return nil }
        width = placeholders.count
        var rest = rows[rows.index(after: close)...]
        while rest.hasPrefix(", " + row) { rest = rest.dropFirst(2 + row.count) }
        tail = rest
        guard let columnsOpen = head.firstIndex(of: "("), head.last == ")" else { return nil }
        let columns = Self.names(head[head.index(after: columnsOpen)..<head.index(before: head.endIndex)])
        guard columns.count == width else { return nil }
        conflictColumns = []
        if let conflict = tail.range(of: "ON CONFLICT (") {
            guard let targetEnd = tail[conflict.upperBound...].firstIndex(of: ")") else { return nil }
            let target = Self.names(tail[conflict.upperBound..<targetEnd])
            let positions = target.compactMap { columns.firstIndex(of: $0) }
            guard positions.count == target.count else { return nil }
            conflictColumns = positions
        } else if !tail.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return nil
        }
    }

    private static func names(_ list: Substring) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }
    }
}

/// `UPDATE t SET a = ?, b = <expression with ?s> WHERE id = ?`: one row's update by its id, read into its parts.
struct UpdateShape {
    /// The unique columns (other than `id`) of the tables whose updates are joined; a table not named is not.
    static let uniqueColumns = ["contact": ["crmid", "email"]]

    var table: Substring
    /// The assignments, split at each `?` outside a quoted literal.
    var pieces: [Substring]
    /// Values the statement binds (the id last).
    var width: Int
    /// The unique columns it sets, each to the value at its position (`column = ?`).
    var uniqueAssignments: [(column: String, position: Int)] = []

    init?(_ sql: String) {
        let suffix = " WHERE id = ?"
        guard sql.hasPrefix("UPDATE "), sql.hasSuffix(suffix), let set = sql.range(of: " SET ") else { return nil }
        table = sql[sql.index(sql.startIndex, offsetBy: 7)..<set.lowerBound]
        guard !table.isEmpty, table.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        let assignments = sql[set.upperBound..<sql.index(sql.endIndex, offsetBy: -suffix.count)]
        // Quoted text is left whole rather than read: an update with a quote in it is not joined.
        guard !assignments.contains("'"), !assignments.contains("\""), !assignments.contains("--") else { return nil }
        pieces = assignments.split(separator: "?", omittingEmptySubsequences: false)
        width = pieces.count
        guard let unique = Self.uniqueColumns[table.lowercased()] else { return nil }
        // Each assignment, with the position of the first value it binds; a unique column only as `column = ?`.
        var position = 0
        var depth = 0
        var assignment = ""
        for character in assignments + "," {
            if character == "," && depth == 0 {
                let parts = assignment.split(separator: "=", maxSplits: 1).map {
                    $0.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                guard parts.count == 2 else { return nil }
                if unique.contains(parts[0].lowercased()) {
                    guard parts[1] == "?" else { return nil }
                    uniqueAssignments.append((parts[0].lowercased(), position))
                }
                position += assignment.filter { $0 == "?" }.count
                assignment = ""
                continue
            }
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            assignment.append(character)
        }
    }

    /// The assignments with the `k`-th `?` replaced by the `k`-th value column of `v`, or by `replacements[k]` where
    /// it is not nil.
    func assignments(columns replacements: [String?]) -> String {
        var text = String(pieces[0])
        for (index, piece) in pieces.dropFirst().enumerated() {
            text += replacements[index] ?? "v.column\(index + 1)"
            text += piece
        }
        return text
    }
}

extension SQLValue {
    /// The kinds of non-NULL values.
    enum Kind: Hashable {
        case integer, real, text, blob

        /// The type a value list's column of this kind is cast to.
        func typeName(_ dialect: SQLDialect) -> String {
            switch (self, dialect) {
            case (.integer, _): "BIGINT"
            case (.real, _): "DOUBLE PRECISION"
            case (.text, _): "TEXT"
            case (.blob, .sqlite): "BLOB"
            case (.blob, .postgres): "BYTEA"
            }
        }
    }

    var kind: Kind? {
        switch self {
        case .null: nil
        case .integer: .integer
        case .real: .real
        case .text: .text
        case .blob: .blob
        }
    }
}
