import Foundation
import SyncModel

extension SyncStore {
    /// Erases a subject from the store in one transaction: the contact, its consent evidence and
    /// suppressions go; its audit entries lose their link and detail; tombstones (keyed hashes only) stay:
    /// one of the address, of the contact's current and former addresses, and of every CRM record id the
    /// subject was linked to (`crmIds` and the contact's own links). The contact is found by the address or by
    /// an address it had before (the CRM may have changed it and a sync taken the change). Erasing an unknown
    /// email still writes the tombstone. Returns whether a contact was removed.
    @discardableResult
    public func eraseLocally(email: EmailAddress, requestId: String, actor: String, crmIds: [String] = []) throws
        -> Bool
    {
        let hash = subjectHash(of: email)
        let now = self.now
        return try write { db in
            let contact = try subjectContact(email: email, in: db)
            let linked = try linkedCRMIds(email: email, in: db)
            for crmId in Set(crmIds + linked) {
                try Tombstones.insert(crmIdHash: crmIdHash(of: crmId), erasedAt: now, requestId: requestId, in: db)
            }
            var addressHashes = [hash]
            if let contact {
                addressHashes.append(subjectHash(of: contact.email))
                // A former address another contact holds now is that contact's to the register (the address went
                // on to a record the register took for someone else): tombstoning it would freeze that contact for
                // good, never synced and never erased (checker seed 9101065).
                var former = Set(
                    try String.fetchAll(
                        db, sql: "SELECT addressHash FROM formerAddress WHERE contactId = ?", arguments: [contact.id]))
                former.remove(hash)
                if !former.isEmpty {
                    try db.forEachRowInPages(
                        sql: "SELECT email FROM contact WHERE id != ?", arguments: [contact.id]
                    ) { row in
                        former.remove(keyedHash(row[0]))
                    }
                }
                addressHashes += former
                try db.execute(
                    sql: "UPDATE auditLog SET contactId = NULL, detail = NULL WHERE contactId = ?",
                    arguments: [contact.id])
                try db.execute(sql: "DELETE FROM contact WHERE id = ?", arguments: [contact.id])
            }
            try Self.releaseContacts(linkedTo: Set(crmIds + linked), in: db)
            for addressHash in Set(addressHashes) {
                try Tombstones.insert(Tombstone(subjectHash: addressHash, erasedAt: now, requestId: requestId), in: db)
            }
            try forgetHeldObjections(of: Set(addressHashes), in: db)
            try AuditLog.append(
                action: "erasure.local", actor: actor, contactId: nil, detail: "request=\(requestId)", at: now, in: db)
            try journalCapture(db)
            return contact != nil
        }
    }
}

extension SyncStore {
    /// Other contacts linked to records an erasure deletes (a CRM merge put two people on one record; a CRM user
    /// gave the erased address to another contact's record) lose that link, and the base agreed with it, and are
    /// marked changed: the record goes with the erasure, so the next sync creates their own record from the register,
    /// with their decisions, and never takes them for the erased subject (whose tombstones name that record).
    static func releaseContacts(linkedTo crmIds: Set<String>, in db: any SQLSession) throws {
        for crmId in crmIds.sorted() {
            for id in try String.fetchAll(
                db, sql: "SELECT id FROM contact WHERE crmId = ? OR mergedIntoCrmId = ?", arguments: [crmId, crmId])
            {
                try db.execute(
                    sql: """
                        UPDATE contact SET crmId = NULL, mergedIntoCrmId = NULL, crmLastModified = NULL,
                        crmArchivedAt = NULL WHERE id = ?
                        """,
                    arguments: [id])
                try db.execute(sql: "DELETE FROM syncBase WHERE contactId = ?", arguments: [id])
                try SyncVersion.bump(id, in: db)
            }
        }
    }

    /// Every contact's id, address and CRM links: what the erasure journal matches its tombstones against after a
    /// restore.
    func allContactLinks() throws -> [(id: String, email: EmailAddress, crmId: String?, mergedIntoCrmId: String?)] {
        try database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT id, email, crmId, mergedIntoCrmId FROM contact ORDER BY id").compactMap
            {
                row in
                (try? EmailAddress(row[1] as String)).map { (row[0] as String, $0, row[2], row[3]) }
            }
        }
    }

    /// The contact an erasure of `email` is about: the one holding the address now, else the one that held it
    /// before a change of address.
    func subjectContact(email: EmailAddress, in db: any SQLSession) throws -> Contact? {
        if let contact = try ContactRow.fetch(email: email, in: db) { return contact }
        guard
            let id = try String.fetchOne(
                db, sql: "SELECT contactId FROM formerAddress WHERE addressHash = ?",
                arguments: [subjectHash(of: email)])
        else { return nil }
        return try ContactRow.fetch(id: id, in: db)
    }

    /// The CRM records the subject with `email` is linked to: its own and, after a merge into a record another
    /// local contact holds, the survivor (which holds the subject's data too).
    func linkedCRMIds(email: EmailAddress, in db: any SQLSession) throws -> [String] {
        guard let contact = try subjectContact(email: email, in: db),
            let row = try SQLRow.fetchOne(
                db, sql: "SELECT crmId, mergedIntoCrmId FROM contact WHERE id = ?", arguments: [contact.id])
        else { return [] }
        return [row[0] as String?, row[1] as String?].compactMap { $0 }
    }

    /// Keeps the keyed hash of the address a contact had before `contact` changed it, so an erasure request
    /// naming the old address still finds the subject.
    func noteAddressChange(from previous: Contact?, to contact: Contact, at now: Date, in db: any SQLSession) throws {
        guard let previous, previous.email != contact.email else { return }
        try db.execute(
            sql: """
                INSERT INTO formerAddress (addressHash, contactId, changedAt) VALUES (?, ?, ?)
                ON CONFLICT (addressHash) DO UPDATE SET contactId = excluded.contactId, changedAt = excluded.changedAt
                """,
            arguments: [subjectHash(of: previous.email), contact.id, now.millisecondsSince1970])
    }
}
