import Foundation
import SyncModel

/// How a ``Contact`` is laid out in the `contact` table.
enum ContactRow {
    static let fieldColumns: [ContactField] = ContactField.allCases

    /// Stamps as `field=origin@epochMillis` joined by `;`, e.g. `city=crm@1748859072345;email=local@1748859072000`:
    /// compact, readable in the sqlite3 shell, and an order of magnitude cheaper to read than JSON.
    static func encodeStamps(_ stamps: [ContactField: FieldStamp]) -> String {
        stamps.sorted { $0.key < $1.key }
            .map { "\($0.key.rawValue)=\($0.value.origin.rawValue)@\($0.value.at.millisecondsSince1970)" }
            .joined(separator: ";")
    }

    static func decodeStamps(_ text: String) -> [ContactField: FieldStamp] {
        var stamps: [ContactField: FieldStamp] = [:]
        for entry in text.split(separator: ";") {
            guard let equals = entry.firstIndex(of: "="), let at = entry.lastIndex(of: "@"), equals < at,
                let field = ContactField(rawValue: String(entry[..<equals])),
                let origin = ChangeOrigin(rawValue: String(entry[entry.index(after: equals)..<at])),
                let milliseconds = Int64(entry[entry.index(after: at)...])
            else { continue }
            stamps[field] = FieldStamp(at: Date(millisecondsSince1970: milliseconds), origin: origin)
        }
        return stamps
    }

    /// Reads a row selected with ``selectColumns``, by position (cheaper than a lookup by name).
    static func contact(from row: SQLRow) throws -> Contact {
        let email: String = row[2]
        var contact = Contact(
            id: row[0], crmId: row[1], email: try EmailAddress(email),
            createdAt: Date(millisecondsSince1970: row[2 + fieldColumns.count]))
        contact.firstName = row[3]
        contact.lastName = row[4]
        contact.phone = row[5]
        contact.mobile = row[6]
        contact.streetAddress = row[7]
        contact.city = row[8]
        contact.postalCode = row[9]
        contact.country = row[10]
        contact.jobTitle = row[11]
        contact.company = row[12]
        contact.industry = row[13]
        contact.revenueBand = row[14]
        contact.companySize = row[15]
        contact.lifecycleStage = row[16]
        contact.source = (row[17] as String?).flatMap(ContactSource.init(rawValue:))
        contact.updatedAt = Date(millisecondsSince1970: row[3 + fieldColumns.count])
        contact.stamps = decodeStamps(row[4 + fieldColumns.count])
        return contact
    }

    /// How many columns ``contact(from:)`` reads.
    static var columnCount: Int { columnList.count }

    /// The columns in the order ``contact(from:)`` reads them.
    static var selectColumns: String { columnList.joined(separator: ", ") }

    private static let columnList =
        (["id", "crmId"] + fieldColumns.map(\.rawValue) + ["createdAt", "updatedAt", "fieldStamps"])

    /// Column values in `columnList` order.
    private static func values(of contact: Contact) -> [(any SQLValueConvertible)?] {
        var values: [(any SQLValueConvertible)?] = [contact.id, contact.crmId]
        for field in fieldColumns { values.append(contact[field]) }
        values.append(contact.createdAt.millisecondsSince1970)
        values.append(contact.updatedAt.millisecondsSince1970)
        values.append(encodeStamps(contact.stamps))
        return values
    }

    /// Inserts `contact`, active as of its `updatedAt`; at `localVersion` when given (else the schema's first, 1), and
    /// with the `extra` columns' values (the CRM link's state a sync records with it).
    static func insert(
        _ contact: Contact, localVersion: Int64? = nil, extra: [(String, (any SQLValueConvertible)?)] = [],
        in db: any SQLSession
    ) throws {
        var columns = columnList + ["lastActivityAt"]
        var values = values(of: contact) + [contact.updatedAt.millisecondsSince1970]
        if let localVersion {
            columns.append("localVersion")
            values.append(localVersion)
        }
        columns += extra.map(\.0)
        values += extra.map(\.1)
        try db.execute(
            sql:
                "INSERT INTO contact (\(columns.joined(separator: ", "))) VALUES (\(questionMarks(count: columns.count)))",
            arguments: SQLArguments(values))
    }

    /// Every write of a contact is activity: its last activity moves up to `updatedAt` (never back).
    private static func markActive(_ id: String, in db: any SQLSession) throws {
        try db.cachedStatement(
            sql:
                "UPDATE contact SET lastActivityAt = updatedAt WHERE id = ? AND COALESCE(lastActivityAt, 0) < updatedAt"
        ).execute(arguments: [id])
    }

    /// The contact's last activity (epoch ms), or nil when it has none recorded.
    static func lastActivity(id: String, in db: any SQLSession) throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT lastActivityAt FROM contact WHERE id = ?", arguments: [id])
    }

    static func update(_ contact: Contact, in db: any SQLSession) throws {
        let assignments = columnList.dropFirst().map { "\($0) = ?" }.joined(separator: ", ")
        let statement = try db.cachedStatement(sql: "UPDATE contact SET \(assignments) WHERE id = ?")
        try statement.execute(arguments: SQLArguments(Array(values(of: contact).dropFirst()) + [contact.id]))
        try markActive(contact.id, in: db)
    }

    static func fetch(email: EmailAddress, in db: any SQLSession) throws -> Contact? {
        let statement = try db.cachedStatement(sql: "SELECT \(selectColumns) FROM contact WHERE email = ?")
        return try SQLRow.fetchOne(statement, arguments: [email.normalized]).map(contact(from:))
    }

    static func fetch(id: String, in db: any SQLSession) throws -> Contact? {
        try SQLRow.fetchOne(
            db.cachedStatement(sql: "SELECT \(selectColumns) FROM contact WHERE id = ?"), arguments: [id]
        )
        .map(contact(from:))
    }
}
