import Foundation
import SyncCore
import SyncModel

extension SyncStore {
    // MARK: Reading state for planning

    static let stateColumns =
        "\(ContactRow.selectColumns), localVersion, syncedVersion, crmLastModified, crmArchivedAt, mergedIntoCrmId"

    /// The states of the contacts `rows` (selected with ``stateColumns``) hold, in their order: their consents,
    /// suppressions and agreed base read for all of them at once (three queries a page, not three a contact).
    private static func states(from rows: [SQLRow], in db: any SQLSession) throws -> [LocalContactState] {
        let contacts = try rows.map(ContactRow.contact(from:))
        let ids = contacts.map(\.id)
        let consents = try ConsentLedger.current(contactIds: ids, in: db)
        let suppressions = try Suppressions.all(contactIds: ids, in: db)
        var bases: [String: [SyncKey: String?]] = [:]
        try forEachRow({ "SELECT contactId, key, value FROM syncBase WHERE contactId IN (\($0))" }, in: ids, db) {
            entry in
            // A key a newer build wrote is not this build's to read (nor to drop).
            guard let key = SyncKey(rawValue: entry[1]) else { return }
            bases[entry[0] as String, default: [:]][key] = entry[2] as String?
        }
        let offset = ContactRow.columnCount
        return zip(contacts, rows).map { contact, row in
            LocalContactState(
                contact: contact, consents: consents[contact.id] ?? [:], suppressions: suppressions[contact.id] ?? [:],
                base: bases[contact.id] ?? [:], localVersion: row[offset], syncedVersion: row[offset + 1],
                crmLastModified: (row[offset + 2] as Int64?).map(Date.init(millisecondsSince1970:)),
                crmArchivedAt: (row[offset + 3] as Int64?).map(Date.init(millisecondsSince1970:)),
                mergedIntoCrmId: row[offset + 4])
        }
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
        var rows: [SQLRow] = []
        try forEachRow({ "SELECT \(stateColumns) FROM contact WHERE \(column) IN (\($0))" }, in: values, db) {
            rows.append($0)
        }
        return try states(from: rows, in: db)
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
            try Self.states(
                from: SQLRow.fetchAll(
                    db,
                    sql: "SELECT \(Self.stateColumns) FROM contact WHERE \(condition) AND id > ? ORDER BY id LIMIT ?",
                    arguments: [afterId, limit]),
                in: db)
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
            try db.forEachRowInPages(sql: "SELECT crmId, id FROM contact WHERE crmId IS NOT NULL", arguments: []) {
                row in
                ids[row[0]] = row[1]
            }
            return ids
        }
    }

    // MARK: Applying

    /// Applies the engine's local changes, each contact's on its own: a contact edited since it was planned
    /// (``LocalSyncUpdate/expectedLocalVersion``) or erased meanwhile is left untouched, and never holds back the
    /// others. `apply` decides a contact's outcome before it writes anything of it, so a contact left untouched needs
    /// no savepoint to undo; a failure rolls the whole batch back. An update that carries only an expected version
    /// just checks it.
    @discardableResult
    public func applySyncUpdates(_ updates: [LocalSyncUpdate], actor: String) throws -> SyncApplyResult {
        let updates = updates.filter { !$0.isEmpty || $0.expectedLocalVersion != nil }
        guard !updates.isEmpty else { return SyncApplyResult() }
        let now = self.now
        return try write { db in
            // What the batch's decisions read, read for all of it at once (and kept current by its writes).
            let prefetch = try SyncApplyPrefetch(updates, store: self, in: db)
            // On PostgreSQL its writes are sent together, as multi-row statements where they can be (each statement
            // is a round trip to the server). SQLite runs a statement in-process, where joining buys nothing
            // measurable and would fill GRDB's cache of prepared statements with one per row count.
            let batch = db.dialect == .postgres ? WriteBatch(db) : nil
            var result = SyncApplyResult()
            for update in updates {
                result.outcomes[update.contactId] = try apply(update, now: now, actor: actor, prefetch, in: batch ?? db)
            }
            try batch?.flush()
            return result
        }
    }

    /// For contacts about to be written to the CRM, read immediately before the write: those erased since they
    /// were planned (a tombstone of the address or of the CRM id, or the contact gone) and those edited since
    /// (the local version moved). Contacts not in the answer may be written. Three queries for the whole batch.
    public func holds(for subjects: [PlannedSubject]) throws -> [String: SyncApplyResult.Outcome] {
        guard !subjects.isEmpty else { return [:] }
        // Each subject's own hashes, so two subjects of one contact are each checked by their own address and record.
        let addressHashes = subjects.map { $0.email.map(subjectHash(of:)) }
        let idHashes = subjects.map { $0.crmId.map(crmIdHash(of:)) }
        return try readBeforeCRMWrite { db in
            var versions: [String: Int64] = [:]
            try Self.forEachRow(
                { "SELECT id, localVersion FROM contact WHERE id IN (\($0))" }, in: subjects.map(\.contactId), db
            ) { versions[$0[0]] = $0[1] }
            let erasedAddresses = try Tombstones.present(Array(Set(addressHashes.compactMap { $0 })), in: db)
            let erasedIds = try Tombstones.presentCRMIds(Array(Set(idHashes.compactMap { $0 })), in: db)
            var holds: [String: SyncApplyResult.Outcome] = [:]
            for (index, subject) in subjects.enumerated() {
                let version = versions[subject.contactId]
                let erased =
                    version == nil || addressHashes[index].map(erasedAddresses.contains) == true
                    || idHashes[index].map(erasedIds.contains) == true
                if erased {
                    holds[subject.contactId] = .erased
                } else if holds[subject.contactId] == nil, let expected = subject.localVersion, version != expected {
                    holds[subject.contactId] = .edited
                }
            }
            return holds
        }
    }

    private func apply(
        _ update: LocalSyncUpdate, now: Date, actor: String, _ prefetch: SyncApplyPrefetch, in db: any SQLSession
    ) throws -> SyncApplyResult.Outcome {
        // The contact as stored, and whether another holds the address the update gives it.
        let stored = prefetch.rows[update.contactId]
        let version = stored?.version
        let previous = stored?.contact
        var inserted = false
        let addressHeldByAnother =
            update.contact.map { contact in
                prefetch.holders[contact.email.normalized].map { $0 != contact.id } ?? false
            } ?? false
        if let expected = update.expectedLocalVersion {
            guard let version else { return .erased }
            if version != expected { return .edited }
        } else if version == nil && update.contact == nil {
            // Nothing to create and no contact to update: it was erased meanwhile.
            return .erased
        }
        if let contact = update.contact {
            if prefetch.erased.contains(contact.email.normalized) { return .erased }
            // A contact created from the CRM whose address an edit command took meanwhile: the next run matches them.
            if previous == nil && addressHeldByAnother { return .edited }
            prefetch.wrote(contact, previous: previous, version: version ?? 0)
            if previous == nil {
                // What the CRM said of the record goes in with the new row (one statement, not two).
                var extra: [(String, (any SQLValueConvertible)?)] = []
                if let modified = update.crmLastModified {
                    extra.append(("crmLastModified", modified.millisecondsSince1970))
                }
                if case .some(.some(let archived)) = update.crmArchivedAt {
                    extra.append(("crmArchivedAt", archived.millisecondsSince1970))
                }
                if case .some(.some(let merged)) = update.mergedIntoCrmId { extra.append(("mergedIntoCrmId", merged)) }
                if let version = update.syncedVersion, version > 0 { extra.append(("syncedVersion", version)) }
                try ContactRow.insert(contact, localVersion: 0, extra: extra, in: db)
                inserted = true
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
            try ConsentLedger.record(
                event, actor: actor, recordedAt: now, in: db, bumpsVersion: false, cache: prefetch.ledger)
        }
        for change in update.suppressionChanges {
            try Suppressions.set(
                change.kind, active: change.active, contactId: update.contactId, reason: change.reason, origin: .crm,
                at: change.at, actor: actor, in: db, bumpsVersion: false, recordedAt: now, cache: prefetch.ledger)
        }
        if update.replacesBase {
            try db.execute(sql: "DELETE FROM syncBase WHERE contactId = ?", arguments: [update.contactId])
        }
        try Self.writeBase(update.base, contactId: update.contactId, in: db)
        if case .some(.some(let crmId)) = update.crmId, prefetch.link(crmId, to: update.contactId) {
            // A merge can move a CRM id from one local contact to another: the old holder lets go.
            try db.execute(
                sql: "UPDATE contact SET crmId = NULL WHERE crmId = ? AND id != ?",
                arguments: [crmId, update.contactId])
        }
        // The link and what the CRM said of it, in one statement (for a row just inserted, only the link is left).
        var assignments: [String] = []
        var values: [(any SQLValueConvertible)?] = []
        if let crmId = update.crmId {
            assignments.append("crmId = ?")
            values.append(crmId)
        }
        if !inserted, let modified = update.crmLastModified {
            assignments.append("crmLastModified = ?")
            values.append(modified.millisecondsSince1970)
        }
        if !inserted, let archived = update.crmArchivedAt {
            assignments.append("crmArchivedAt = ?")
            values.append(archived?.millisecondsSince1970)
        }
        if !inserted, let merged = update.mergedIntoCrmId {
            assignments.append("mergedIntoCrmId = ?")
            values.append(merged)
        }
        if !inserted, let version = update.syncedVersion {
            // Never back.
            assignments.append("syncedVersion = CASE WHEN syncedVersion < ? THEN ? ELSE syncedVersion END")
            values += [version, version]
        }
        if !assignments.isEmpty {
            try db.execute(
                sql: "UPDATE contact SET \(assignments.joined(separator: ", ")) WHERE id = ?",
                arguments: SQLArguments(values + [update.contactId]))
        }
        if case .some(.some) = update.crmArchivedAt {
            try AuditLog.append(
                action: "contact.crmArchived", actor: actor, contactId: update.contactId, at: now, in: db)
        }
        return .applied
    }

    /// Writes the agreed base values of one contact in one statement (upserts of up to 100 keys).
    private static func writeBase(_ base: [SyncKey: String?], contactId: String, in db: any SQLSession) throws {
        let entries = base.sorted { $0.key.rawValue < $1.key.rawValue }
        for start in stride(from: 0, to: entries.count, by: 100) {
            let chunk = entries[start..<min(start + 100, entries.count)]
            var values: [(any SQLValueConvertible)?] = []
            for (key, value) in chunk { values += [contactId, key.rawValue, value] }
            try db.execute(
                sql: """
                    INSERT INTO syncBase (contactId, key, value) VALUES \(Array(repeating: "(?, ?, ?)", count: chunk.count).joined(separator: ", "))
                    ON CONFLICT (contactId, key) DO UPDATE SET value = excluded.value
                    """, arguments: SQLArguments(values))
        }
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

/// What a batch of sync updates reads before it decides, read for the whole batch at once: the stored contacts (by
/// id, and the holders of the addresses and CRM ids the batch gives), the tombstones of those addresses, and the
/// ledger and suppressions of the contacts it records decisions for (``LedgerCache``). The batch's own writes keep it
/// current; its writer lock keeps every other writer out while it is used.
final class SyncApplyPrefetch {
    private(set) var rows: [String: (contact: Contact, version: Int64)] = [:]
    /// Normalized address → the id of the contact holding it.
    private(set) var holders: [String: String] = [:]
    /// CRM id → the id of the contact linked to it, for every CRM id the batch links (and those its writes give).
    private var linkHolders: [String: String] = [:]
    /// The batch's addresses (normalized) whose subject is erased.
    let erased: Set<String>
    let ledger: LedgerCache?

    init(_ updates: [LocalSyncUpdate], store: SyncStore, in db: any SQLSession) throws {
        let emails = updates.compactMap { $0.contact?.email }
        var rows: [String: (contact: Contact, version: Int64)] = [:]
        var holders: [String: String] = [:]
        func read(_ row: SQLRow) throws {
            let contact = try ContactRow.contact(from: row)
            rows[contact.id] = (contact, row[ContactRow.columnCount])
            holders[contact.email.normalized] = contact.id
        }
        let columns = "\(ContactRow.selectColumns), localVersion"
        try SyncStore.forEachRow(
            { "SELECT \(columns) FROM contact WHERE id IN (\($0))" }, in: updates.map(\.contactId), db, read)
        try SyncStore.forEachRow(
            { "SELECT \(columns) FROM contact WHERE email IN (\($0))" }, in: emails.map(\.normalized), db, read)
        self.rows = rows
        self.holders = holders
        var linkHolders: [String: String] = [:]
        let linked = updates.compactMap { $0.crmId ?? nil }
        try SyncStore.forEachRow({ "SELECT crmId, id FROM contact WHERE crmId IN (\($0))" }, in: linked, db) {
            linkHolders[$0[0]] = $0[1]
        }
        self.linkHolders = linkHolders
        let hashes = Dictionary(
            emails.map { ($0.normalized, store.subjectHash(of: $0)) }, uniquingKeysWith: { a, _ in a })
        let present = try Tombstones.present(Array(Set(hashes.values)), in: db)
        erased = Set(hashes.filter { present.contains($0.value) }.keys)
        let deciding = updates.filter { !$0.consentEvents.isEmpty || !$0.suppressionChanges.isEmpty }.map(\.contactId)
        ledger = deciding.isEmpty ? nil : try LedgerCache(contactIds: deciding, in: db)
    }

    /// Records that the batch wrote `contact` (inserted when `previous` is nil, else updated from it).
    func wrote(_ contact: Contact, previous: Contact?, version: Int64) {
        if let previous, previous.email != contact.email, holders[previous.email.normalized] == contact.id {
            holders[previous.email.normalized] = nil
        }
        rows[contact.id] = (contact, version)
        holders[contact.email.normalized] = contact.id
        // The row's own CRM id is written with it.
        if let crmId = previous?.crmId, crmId != contact.crmId, linkHolders[crmId] == contact.id {
            linkHolders[crmId] = nil
        }
        if let crmId = contact.crmId { linkHolders[crmId] = contact.id }
    }

    /// Records that the batch links `crmId` to `contactId`; answers whether another contact held it until now (and
    /// must let go first).
    func link(_ crmId: String, to contactId: String) -> Bool {
        defer { linkHolders[crmId] = contactId }
        return linkHolders[crmId].map { $0 != contactId } ?? false
    }
}
