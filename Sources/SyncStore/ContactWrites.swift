import Foundation
import SyncModel

extension SyncStore {
    /// Inserts or replaces a contact by its local id, refusing an erased subject. Used by the sync engine
    /// for records that come from the CRM; the register's own edits go through import and the edit commands.
    public func saveContact(_ contact: Contact, actor: String) throws {
        let hash = subjectHash(of: contact.email)
        let now = self.now
        try write { db in
            if try Tombstones.isErased(hash, in: db) { throw StoreError.subjectErased() }
            let previous = try ContactRow.fetch(id: contact.id, in: db)
            if previous == nil {
                try ContactRow.insert(contact, in: db)
                try AuditLog.append(action: "contact.created", actor: actor, contactId: contact.id, at: now, in: db)
            } else {
                try ContactRow.update(contact, in: db)
                try noteAddressChange(from: previous, to: contact, at: now, in: db)
                try AuditLog.append(action: "contact.updated", actor: actor, contactId: contact.id, at: now, in: db)
            }
        }
    }
}
