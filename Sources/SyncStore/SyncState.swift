import Foundation
import SyncCore
import SyncModel

extension SyncStore {
    // MARK: Reading state for planning

    static let stateColumns =
        "\(ContactRow.selectColumns), localVersion, syncedVersion, crmLastModified, crmArchivedAt, mergedIntoCrmId"

    private static func state(from row: SQLRow, in db: any SQLSession) throws -> LocalContactState {
        let contact = try ContactRow.contact(from: row)
        let offset = ContactRow.columnCount
        let consents = try ConsentLedger.current(contactId: contact.id, in: db)
        let suppressions = try Suppressions.all(contactId: contact.id, in: db)
        var base: [SyncKey: String?] = [:]
        for entry in try SQLRow.fetchAll(
            db.cachedStatement(sql: "SELECT key, value FROM syncBase WHERE contactId = ?"), arguments: [contact.id])
        {
            // A key a newer build wrote is not this build's to read (nor to drop).
            guard let key = SyncKey(rawValue: entry[0]) else { continue }
            base[key] = entry[1] as String?
        }
        return LocalContactState(
            contact: contact, consents: Dictionary(consents.map { ($0.purpose, $0) }, uniquingKeysWith: { a, _ in a }),
            suppressions: Dictionary(suppressions.map { ($0.kind, $0) }, uniquingKeysWith: { a, _ in a }), base: base,
            localVersion: row[offset], syncedVersion: row[offset + 1],
            crmLastModified: (row[offset + 2] as Int64?).map(Date.init(millisecondsSince1970:)),
            crmArchivedAt: (row[offset + 3] as Int64?).map(Date.init(millisecondsSince1970:)),
            mergedIntoCrmId: row[offset + 4])
    }

    /// Local states for CRM ids and emails (either may match), each contact once.
    public func localStates(crmIds: [String], emails: [EmailAddress]) throws -> [LocalContactState] {
        try database.read { db in
            var found: [String: LocalContactState] = [:]
            for state in try Self.states(where: "crmId", in: crmIds, db)
                + Self.states(where: "email", in: emails.map(\.normalized), db)
            {
                found[state.contact.id] = state
            }
            return Array(found.values)
        }
    }

    /// States of the contacts whose `column` is one of `values`, 500 values per query.
    private static func states(where column: String, in values: [String], _ db: any SQLSession) throws
        -> [LocalContactState]
    {
        var states: [LocalContactState] = []
        try forEachRow({ "SELECT \(stateColumns) FROM contact WHERE \(column) IN (\($0))" }, in: values, db) {
            states.append(try state(from: $0, in: db))
        }
        return states
    }

    /// Contacts with local edits not yet synced, in local-id order after `afterId`, at most `limit`.
    public func dirtyStates(after afterId: String = "", limit: Int) throws -> [LocalContactState] {
        try states(where: "localVersion > syncedVersion", after: afterId, limit: limit)
    }

    /// Contacts with no live CRM record to sync with, in id order after `afterId`: kept for review after a merge,
    /// archived in the CRM, or restricted and never created there. HubSpot still keeps decisions for their addresses.
    public func statesWithoutLiveRecord(after afterId: String = "", limit: Int) throws -> [LocalContactState] {
        try states(
            where: """
                (mergedIntoCrmId IS NOT NULL OR crmArchivedAt IS NOT NULL
                    OR (crmId IS NULL AND EXISTS (SELECT 1 FROM suppression WHERE suppression.contactId = contact.id
                        AND suppression.kind = 'processingRestricted' AND suppression.isActive = 1)))
                """, after: afterId, limit: limit)
    }

    /// One page, in local-id order after `afterId`, of the contacts `condition` (SQL over `contact`) selects.
    private func states(where condition: String, after afterId: String, limit: Int) throws -> [LocalContactState] {
        try database.read { db in
            try SQLRow.fetchAll(
                db,
                sql: "SELECT \(Self.stateColumns) FROM contact WHERE \(condition) AND id > ? ORDER BY id LIMIT ?",
                arguments: [afterId, limit]
            ).map { try Self.state(from: $0, in: db) }
        }
    }

    /// How many contacts have local edits not yet synced.
    public func dirtyCount() throws -> Int {
        try database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact WHERE localVersion > syncedVersion") ?? 0
        }
    }

    /// How many contacts are linked to a CRM record.
    public func linkedCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact WHERE crmId IS NOT NULL") ?? 0
        }
    }

    /// All contacts linked to the CRM, by CRM id, for reconciliation (ids only: bounded memory).
    public func linkedCRMIds() throws -> [String: String] {
        try database.read { db in
            // A cursor, not an array of rows: a million rows fetched whole cost hundreds of MiB on their own.
            var ids: [String: String] = [:]
            try db.forEachRow(sql: "SELECT crmId, id FROM contact WHERE crmId IS NOT NULL", arguments: []) { row in
                ids[row[0]] = row[1]
            }
            return ids
        }
    }

    // MARK: Applying

    /// Applies the engine's local changes, each contact's on its own (a savepoint): a contact edited since it
    /// was planned (``LocalSyncUpdate/expectedLocalVersion``) or erased meanwhile is left untouched, and never
    /// rolls back the others. An update that carries only an expected version just checks it.
    @discardableResult
    public func applySyncUpdates(_ updates: [LocalSyncUpdate], actor: String) throws -> SyncApplyResult {
        let updates = updates.filter { !$0.isEmpty || $0.expectedLocalVersion != nil }
        guard !updates.isEmpty else { return SyncApplyResult() }
        let now = self.now
        return try write { db in
            var result = SyncApplyResult()
            for update in updates {
                var outcome = SyncApplyResult.Outcome.applied
                try db.inSavepoint {
                    outcome = try apply(update, now: now, actor: actor, in: db)
                    return outcome == .applied ? .commit : .rollback
                }
                result.outcomes[update.contactId] = outcome
            }
            return result
        }
    }

    /// For contacts about to be written to the CRM, read immediately before the write: those erased since they
    /// were planned (a tombstone of the address or of the CRM id, or the contact gone) and those edited since
    /// (the local version moved). Contacts not in the answer may be written.
    public func holds(for subjects: [PlannedSubject]) throws -> [String: SyncApplyResult.Outcome] {
        guard !subjects.isEmpty else { return [:] }
        return try readBeforeCRMWrite { db in
            var holds: [String: SyncApplyResult.Outcome] = [:]
            for subject in subjects {
                let version = try SyncVersion.current(subject.contactId, in: db)
                var erased = version == nil
                if !erased, let email = subject.email {
                    erased = try Tombstones.isErased(subjectHash(of: email), in: db)
                }
                if !erased, let crmId = subject.crmId {
                    erased = try Tombstones.isErased(crmIdHash: crmIdHash(of: crmId), in: db)
                }
                if erased {
                    holds[subject.contactId] = .erased
                } else if let expected = subject.localVersion, version != expected {
                    holds[subject.contactId] = .edited
                }
            }
            return holds
        }
    }

    private func apply(_ update: LocalSyncUpdate, now: Date, actor: String, in db: any SQLSession) throws
        -> SyncApplyResult.Outcome
    {
        let version = try SyncVersion.current(update.contactId, in: db)
        if let expected = update.expectedLocalVersion {
            guard let version else { return .erased }
            if version != expected { return .edited }
        } else if version == nil && update.contact == nil {
            // Nothing to create and no contact to update: it was erased meanwhile.
            return .erased
        }
        if let contact = update.contact {
            if try Tombstones.isErased(subjectHash(of: contact.email), in: db) { return .erased }
            let previous = try ContactRow.fetch(id: contact.id, in: db)
            // A contact created from the CRM whose address an edit command took meanwhile: the next run matches them.
            if previous == nil, try ContactRow.fetch(email: contact.email, in: db) != nil { return .edited }
            if previous == nil {
                try ContactRow.insert(contact, in: db)
                try db.execute(sql: "UPDATE contact SET localVersion = 0 WHERE id = ?", arguments: [contact.id])
                try AuditLog.append(
                    action: "contact.created", actor: actor, contactId: contact.id, detail: "origin=crm", at: now,
                    in: db)
            } else {
                try ContactRow.update(contact, in: db)
                try noteAddressChange(from: previous, to: contact, at: now, in: db)
                try AuditLog.append(
                    action: "contact.updated", actor: actor, contactId: contact.id, detail: "origin=crm", at: now,
                    in: db)
            }
        }
        for event in update.consentEvents {
            try ConsentLedger.record(event, actor: actor, recordedAt: now, in: db, bumpsVersion: false)
        }
        for change in update.suppressionChanges {
            try Suppressions.set(
                change.kind, active: change.active, contactId: update.contactId, reason: change.reason, origin: .crm,
                at: change.at, actor: actor, in: db, bumpsVersion: false, recordedAt: now)
        }
        if update.replacesBase {
            try db.execute(sql: "DELETE FROM syncBase WHERE contactId = ?", arguments: [update.contactId])
        }
        for (key, value) in update.base {
            try db.cachedStatement(
                sql: """
                    INSERT INTO syncBase (contactId, key, value) VALUES (?, ?, ?)
                    ON CONFLICT (contactId, key) DO UPDATE SET value = excluded.value
                    """
            ).execute(arguments: [update.contactId, key.rawValue, value])
        }
        if let crmId = update.crmId {
            if let crmId {
                // A merge can move a CRM id from one local contact to another: the old holder lets go.
                try db.execute(
                    sql: "UPDATE contact SET crmId = NULL WHERE crmId = ? AND id != ?",
                    arguments: [crmId, update.contactId])
            }
            try db.execute(sql: "UPDATE contact SET crmId = ? WHERE id = ?", arguments: [crmId, update.contactId])
        }
        if let modified = update.crmLastModified {
            try db.execute(
                sql: "UPDATE contact SET crmLastModified = ? WHERE id = ?",
                arguments: [modified.millisecondsSince1970, update.contactId])
        }
        if let archived = update.crmArchivedAt {
            try db.execute(
                sql: "UPDATE contact SET crmArchivedAt = ? WHERE id = ?",
                arguments: [archived?.millisecondsSince1970, update.contactId])
            if archived != nil {
                try AuditLog.append(
                    action: "contact.crmArchived", actor: actor, contactId: update.contactId, at: now, in: db)
            }
        }
        if let merged = update.mergedIntoCrmId {
            try db.execute(
                sql: "UPDATE contact SET mergedIntoCrmId = ? WHERE id = ?", arguments: [merged, update.contactId])
        }
        if let version = update.syncedVersion {
            try db.execute(
                sql: "UPDATE contact SET syncedVersion = ? WHERE id = ? AND syncedVersion < ?",
                arguments: [version, update.contactId, version])
        }
        return .applied
    }

    // MARK: Checkpoints

    public func checkpoint(_ name: String) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM checkpoint WHERE name = ?", arguments: [name])
        }
    }

    public func setCheckpoint(_ name: String, to value: String) throws {
        let now = self.now
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO checkpoint (name, value, updatedAt) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET value = excluded.value, updatedAt = excluded.updatedAt
                    """,
                arguments: [name, value, now.millisecondsSince1970])
        }
    }
}

/// The local edit counter the engine compares with what it synced.
enum SyncVersion {
    /// The contact's local version; nil when there is no such contact (erased since it was planned).
    static func current(_ contactId: String, in db: any SQLSession) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT localVersion FROM contact WHERE id = ?"), arguments: [contactId])
    }

    static func bump(_ contactId: String, in db: any SQLSession) throws {
        try db.cachedStatement(sql: "UPDATE contact SET localVersion = localVersion + 1 WHERE id = ?")
            .execute(arguments: [contactId])
    }
}
