import Foundation
import SyncModel

/// One line of the audit log: who changed what, for which contact id, and when. No names, no addresses.
public struct AuditEntry: Sendable, Hashable, Codable {
    public var id: Int64
    public var at: Date
    /// The operator or process that made the change (`cli:alice`, `import`, `sync`).
    public var actor: String
    /// What changed, e.g. `consent.withdrawn`, `suppression.optedOutOfAll.set`, `contact.created`.
    public var action: String
    public var contactId: String?
    public var purpose: String?
    /// Non-personal detail: the source of a consent, the field names that changed.
    public var detail: String?
}

enum AuditLog {
    static func append(
        action: String, actor: String, contactId: String?, purpose: Purpose? = nil, detail: String? = nil, at: Date,
        in db: any SQLSession
    ) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO auditLog (at, actor, action, contactId, purpose, detail) VALUES (?, ?, ?, ?, ?, ?)")
        try statement.execute(arguments: [
            at.millisecondsSince1970, actor, action, contactId, purpose?.rawValue, detail,
        ])
    }

    static func entries(contactId: String, in db: any SQLSession) throws -> [AuditEntry] {
        try SQLRow.fetchAll(db, sql: "SELECT * FROM auditLog WHERE contactId = ? ORDER BY id", arguments: [contactId])
            .map(entry(from:))
    }

    static func entry(from row: SQLRow) -> AuditEntry {
        AuditEntry(
            id: row["id"], at: Date(millisecondsSince1970: row["at"]), actor: row["actor"], action: row["action"],
            contactId: row["contactId"], purpose: row["purpose"], detail: row["detail"])
    }
}

extension SyncStore {
    /// The audit entries about one contact, oldest first.
    public func auditEntries(contactId: String) throws -> [AuditEntry] {
        try database.read { db in try AuditLog.entries(contactId: contactId, in: db) }
    }

    /// The newest audit entries of the whole store, newest first.
    public func recentAuditEntries(limit: Int = 50) throws -> [AuditEntry] {
        try database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM auditLog ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map(AuditLog.entry(from:))
        }
    }
}
