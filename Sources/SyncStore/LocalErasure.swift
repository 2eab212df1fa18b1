import Foundation
import GRDB
import SyncModel

extension SyncStore {
    /// Erases a subject from the store in one transaction: the contact, its consent evidence and
    /// suppressions go; its audit entries lose their link and detail; a tombstone (keyed hash only) stays.
    /// Erasing an unknown email still writes the tombstone. Returns whether a contact was removed.
    @discardableResult
    public func eraseLocally(email: EmailAddress, requestId: String, actor: String) throws -> Bool {
        let hash = subjectHash(of: email)
        let now = self.now
        return try database.write { db in
            let contact = try ContactRow.fetch(email: email, in: db)
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
