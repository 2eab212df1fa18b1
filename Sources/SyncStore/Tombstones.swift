import Foundation
import SyncModel

/// Erased subjects, known only by the keyed hash of their email.
enum Tombstones {
    static func isErased(_ subjectHash: String, in db: any SQLSession) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM tombstone WHERE subjectHash = ?)"),
            arguments: [subjectHash]) ?? false
    }

    static func isErased(crmIdHash: String, in db: any SQLSession) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM crmTombstone WHERE idHash = ?)"),
            arguments: [crmIdHash]) ?? false
    }

    /// Which of `subjectHashes` have a tombstone: one query per 500.
    static func present(_ subjectHashes: [String], in db: any SQLSession) throws -> Set<String> {
        var found = Set<String>()
        try SyncStore.forEachRow(
            { "SELECT subjectHash FROM tombstone WHERE subjectHash IN (\($0))" }, in: subjectHashes, db
        ) { found.insert($0[0]) }
        return found
    }

    /// Which of `idHashes` name a tombstoned CRM record: one query per 500.
    static func presentCRMIds(_ idHashes: [String], in db: any SQLSession) throws -> Set<String> {
        var found = Set<String>()
        try SyncStore.forEachRow({ "SELECT idHash FROM crmTombstone WHERE idHash IN (\($0))" }, in: idHashes, db) {
            found.insert($0[0])
        }
        return found
    }

    static func insert(crmIdHash: String, erasedAt: Date, requestId: String, in db: any SQLSession) throws {
        try db.execute(
            sql: "INSERT INTO crmTombstone (idHash, erasedAt, requestId) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            arguments: [crmIdHash, erasedAt.millisecondsSince1970, requestId])
    }

    static func insert(_ tombstone: Tombstone, in db: any SQLSession) throws {
        try db.execute(
            sql: "INSERT INTO tombstone (subjectHash, erasedAt, requestId) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            arguments: [tombstone.subjectHash, tombstone.erasedAt.millisecondsSince1970, tombstone.requestId])
    }
}

extension SyncStore {
    /// Whether the subject with `email` has been erased from the register.
    public func isErased(_ email: EmailAddress) throws -> Bool {
        let hash = subjectHash(of: email)
        return try database.read { db in try Tombstones.isErased(hash, in: db) }
    }

    /// The addresses among `emails` of erased subjects, normalized: one read for many.
    public func erasedAddresses(among emails: [EmailAddress]) throws -> Set<String> {
        let hashes = Set(emails.map(\.normalized)).map { ($0, keyedHash($0)) }
        return try database.read { db in
            let erased = try Tombstones.present(hashes.map(\.1), in: db)
            return Set(hashes.filter { erased.contains($0.1) }.map(\.0))
        }
    }

    /// The ids among `crmIds` that name a CRM record of an erased subject.
    public func erasedCRMIds(among crmIds: [String]) throws -> Set<String> {
        let hashes = crmIds.map { ($0, crmIdHash(of: $0)) }
        return try database.read { db in
            let erased = try Tombstones.presentCRMIds(hashes.map(\.1), in: db)
            return Set(hashes.filter { erased.contains($0.1) }.map(\.0))
        }
    }

    /// Tombstones a CRM record of an erased subject found in a pull (a stale copy), so it stays refused by
    /// its id whatever address it carries.
    public func tombstoneStaleCopy(crmId: String) throws {
        let hash = crmIdHash(of: crmId)
        let now = self.now
        try write { db in
            try Tombstones.insert(crmIdHash: hash, erasedAt: now, requestId: "stale-copy", in: db)
            try AuditLog.append(action: "erasure.staleCopy", actor: "erasure", contactId: nil, at: now, in: db)
            try journalCapture(db)
        }
    }

    /// All tombstones, oldest first.
    public func tombstones() throws -> [Tombstone] {
        try database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM tombstone ORDER BY erasedAt").map { row in
                Tombstone(
                    subjectHash: row["subjectHash"], erasedAt: Date(millisecondsSince1970: row["erasedAt"]),
                    requestId: row["requestId"])
            }
        }
    }
}
