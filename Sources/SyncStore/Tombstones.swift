import Foundation
import GRDB
import SyncModel

/// Erased subjects, known only by the keyed hash of their email.
enum Tombstones {
    static func isErased(_ subjectHash: String, in db: Database) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM tombstone WHERE subjectHash = ?)"),
            arguments: [subjectHash]) ?? false
    }

    static func insert(_ tombstone: Tombstone, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO tombstone (subjectHash, erasedAt, requestId) VALUES (?, ?, ?)",
            arguments: [tombstone.subjectHash, tombstone.erasedAt.millisecondsSince1970, tombstone.requestId])
    }
}

extension SyncStore {
    /// Whether the subject with `email` has been erased from the register.
    public func isErased(_ email: EmailAddress) throws -> Bool {
        let hash = subjectHash(of: email)
        return try database.read { db in try Tombstones.isErased(hash, in: db) }
    }

    /// All tombstones, oldest first.
    public func tombstones() throws -> [Tombstone] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tombstone ORDER BY erasedAt").map { row in
                Tombstone(
                    subjectHash: row["subjectHash"], erasedAt: Date(millisecondsSince1970: row["erasedAt"]),
                    requestId: row["requestId"])
            }
        }
    }
}
