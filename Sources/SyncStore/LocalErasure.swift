import Foundation
import GRDB
import SyncModel

extension SyncStore {
    /// Erases a subject from the store in one transaction: the contact, its consent evidence and
    /// suppressions go; its audit entries lose their link and detail; tombstones (keyed hashes only) stay:
    /// one of the address, one of every CRM record id the subject was linked to (`crmIds` and the contact's
    /// own links). Erasing an unknown email still writes the tombstone. Returns whether a contact was removed.
    @discardableResult
    public func eraseLocally(email: EmailAddress, requestId: String, actor: String, crmIds: [String] = []) throws
        -> Bool
    {
        let hash = subjectHash(of: email)
        let now = self.now
        return try database.write { db in
            let contact = try ContactRow.fetch(email: email, in: db)
            for crmId in Set(crmIds + (try Self.linkedCRMIds(email: email, in: db))) {
                try Tombstones.insert(crmIdHash: crmIdHash(of: crmId), erasedAt: now, requestId: requestId, in: db)
            }
            if let contact {
                try db.execute(
                    sql: "UPDATE auditLog SET contactId = NULL, detail = NULL WHERE contactId = ?",
                    arguments: [contact.id])
                try db.execute(sql: "DELETE FROM contact WHERE id = ?", arguments: [contact.id])
            }
            try Tombstones.insert(Tombstone(subjectHash: hash, erasedAt: now, requestId: requestId), in: db)
            try AuditLog.append(
                action: "erasure.local", actor: actor, contactId: nil, detail: "request=\(requestId)", at: now, in: db)
            return contact != nil
        }
    }
}

extension SyncStore {
    /// The CRM records the contact with `email` is linked to: its own and, after a merge into a record another
    /// local contact holds, the survivor (which holds the subject's data too).
    static func linkedCRMIds(email: EmailAddress, in db: Database) throws -> [String] {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT crmId, mergedIntoCrmId FROM contact WHERE email = ?", arguments: [email.normalized])
        else { return [] }
        return [row[0] as String?, row[1] as String?].compactMap { $0 }
    }
}
