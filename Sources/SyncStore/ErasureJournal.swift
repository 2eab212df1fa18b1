import Foundation
import SyncModel
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The register's erasures, kept outside the store file so that they outlive it: a restored backup of the store
/// cannot undo an erasure made after the backup.
///
/// One JSON object a line, appended and flushed to disk in the transaction that writes them to the store: the
/// erasure requests (id, keyed subject hash, times) and the tombstones (keyed hashes of addresses and CRM record
/// ids). No address, name, id or reason: only what the store's tombstones already hold. The first line names the
/// register by a keyed hash of its subject key, so a journal is never applied to another register's store.
///
/// At open, the store is brought up to the journal before anything else runs: tombstones and requests the journal
/// has and the store lacks (a restored backup) are written again, and a contact of the restored store whose
/// address such a tombstone names is erased again (locally at once, in the CRM by the next `erase` or sync, which
/// finish unfinished erasures first). What the store has and the journal lacks (a journal restored from an older
/// copy, or a store from before journals) is appended. A journal missing once the store has had one is refused:
/// the store may be a restored backup whose later erasures only the journal knew.
final class ErasureJournal: Sendable {
    let path: String
    /// The last row number (``SQLDialect/insertionOrder``) of each journalled table already in the journal (or found there at open).
    private let watermarks: Mutex<[String: Int64]>

    /// The tables the journal mirrors, and how a row becomes a line.
    static let tables = ["erasureRequest", "tombstone", "crmTombstone"]

    private init(path: String, watermarks: [String: Int64]) {
        self.path = path
        self.watermarks = Mutex(watermarks)
    }

    /// One line of the journal.
    struct Entry: Codable, Hashable {
        var kind: String
        var keyId: String?
        var id: String?
        var hash: String?
        var requestId: String?
        var at: Int64?
        var deadline: Int64?

        /// The key of the store row the entry stands for (a request's id, a tombstone's hash).
        var rowKey: String { "\(kind):\(id ?? hash ?? "")" }
    }

    /// What opening the journal did to the store.
    struct Reconciliation: Sendable, Equatable {
        /// Erasure requests and tombstones the journal had and the store lacked, written again.
        var restored = 0
        /// Contacts of the store erased again because a restored tombstone names them.
        var reErased = 0
        /// Lines appended to the journal from the store (a new journal, or one older than the store).
        var appended = 0
    }

    /// Opens the journal at `path` for `store`, bringing each up to the other (see the type's description).
    /// `startNew` starts a journal from the store where one was expected and is missing (an administrator's
    /// explicit decision, `crmsync init --new-erasure-journal`). A read-only store is only checked.
    static func open(
        path: String, store: SyncStore, keyId: String, readOnly: Bool, startNew: Bool
    ) throws -> (ErasureJournal, Reconciliation) {
        var reconciliation = Reconciliation()
        let database = store.database
        let exists = FileManager.default.fileExists(atPath: path)
        let established = try database.read { db in
            try Int.fetchOne(db, sql: "SELECT 1 FROM metadata WHERE key = 'erasureJournal'") != nil
        }
        var lines: [Entry] = []
        if exists {
            lines = try read(path)
            guard let header = lines.first, header.kind == "register" else {
                throw StoreError.cannotOpen("the erasure journal at \(path) is not a crmsync erasure journal")
            }
            guard header.keyId == keyId else {
                throw StoreError.cannotOpen(
                    "the erasure journal at \(path) belongs to another register (another store's key): "
                        + "name this store's journal in store.erasureJournal")
            }
        } else if established && !startNew {
            throw StoreError.cannotOpen(
                "the erasure journal at \(path) is missing; this store has had one, and may be a restored backup "
                    + "whose later erasures only the journal knows: put the journal back (keep it apart from the "
                    + "store's backups), or, having checked, start a new one with crmsync init --new-erasure-journal")
        }
        let journalled = Set(lines.dropFirst().map(\.rowKey))
        let stored = try database.read { db in try storeEntries(after: [:], in: db) }
        let storedKeys = Set(stored.entries.map(\.rowKey))
        let missing = lines.dropFirst().filter { !storedKeys.contains($0.rowKey) }
        if !missing.isEmpty {
            if readOnly {
                throw StoreError.cannotOpen(
                    "the store lacks \(Set(missing.map(\.rowKey)).count) erasure record(s) its erasure journal holds "
                        + "(a restored backup?): run crmsync init or a sync to apply them first")
            }
            reconciliation = try restore(missing, all: Array(lines.dropFirst()), into: store)
        }
        let journal = ErasureJournal(path: path, watermarks: [:])
        if readOnly { return (journal, reconciliation) }
        if !exists {
            try PrivateFiles.write(Data(), toPath: path)
            try journal.append([Entry(kind: "register", keyId: keyId)])
        }
        // What the store holds now: as read above, unless the restore wrote to it. An open that finds the two in
        // step writes nothing (rows another process adds meanwhile are journalled by that process's own capture).
        let current = missing.isEmpty ? stored : try database.read { db in try storeEntries(after: [:], in: db) }
        let toAppend = current.entries.filter { !journalled.contains($0.rowKey) }
        try journal.append(toAppend)
        reconciliation.appended = toAppend.count
        journal.watermarks.withLock { $0 = current.watermarks }
        if !established {
            try database.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO metadata (key, value) VALUES ('erasureJournal', ?)
                        ON CONFLICT (key) DO UPDATE SET value = excluded.value
                        """, arguments: [Data("kept".utf8)])
            }
        }
        return (journal, reconciliation)
    }

    /// Appends to the journal what the store's journalled tables gained since the last capture, in the store's
    /// transaction `db` (before it commits: a failure fails the transaction; a crash after the append and before
    /// the commit leaves an erasure in the journal that the next open applies, which is what was asked).
    func capture(_ db: any SQLSession) throws {
        let marks = watermarks.withLock { $0 }
        let found = try Self.storeEntries(after: marks, in: db)
        guard !found.entries.isEmpty else { return }
        try append(found.entries)
        watermarks.withLock { current in
            for (table, mark) in found.watermarks { current[table] = max(current[table] ?? 0, mark) }
        }
    }

    /// The store's journalled rows numbered above each table's mark, as journal entries, and the new marks.
    private static func storeEntries(after marks: [String: Int64], in db: any SQLSession) throws
        -> (entries: [Entry], watermarks: [String: Int64])
    {
        var entries: [Entry] = []
        var newMarks = marks
        let order = db.dialect.insertionOrder
        for row in try SQLRow.fetchAll(
            db,
            sql:
                "SELECT \(order), id, subjectHash, receivedAt, deadline FROM erasureRequest WHERE \(order) > ? ORDER BY \(order)",
            arguments: [marks["erasureRequest"] ?? 0])
        {
            entries.append(
                Entry(kind: "request", id: row[1], hash: row[2], at: row[3], deadline: row[4]))
            newMarks["erasureRequest"] = max(newMarks["erasureRequest"] ?? 0, row[0])
        }
        for (table, kind, column) in [
            ("tombstone", "tombstone", "subjectHash"), ("crmTombstone", "crmTombstone", "idHash"),
        ] {
            for row in try SQLRow.fetchAll(
                db,
                sql:
                    "SELECT \(order), \(column), requestId, erasedAt FROM \(table) WHERE \(order) > ? ORDER BY \(order)",
                arguments: [marks[table] ?? 0])
            {
                entries.append(Entry(kind: kind, hash: row[1], requestId: row[2], at: row[3]))
                newMarks[table] = max(newMarks[table] ?? 0, row[0])
            }
        }
        return (entries, newMarks)
    }

    /// Writes again what the journal has and the store lacks, and erases again the contacts it names.
    private static func restore(_ missing: [Entry], all: [Entry], into store: SyncStore) throws -> Reconciliation {
        var reconciliation = Reconciliation()
        let unique = Array(Dictionary(missing.map { ($0.rowKey, $0) }, uniquingKeysWith: { a, _ in a }).values)
        let toErase = try subjects(of: unique, all: all, in: store)
        let reErasedRequests = Set(toErase.map(\.requestId))
        try store.database.write { db in
            for entry in unique {
                switch entry.kind {
                case "request":
                    guard let id = entry.id, !reErasedRequests.contains(id) else { continue }
                    // The store holds no copy of the subject: its CRM copies are refused and GDPR-deleted by their
                    // tombstones when a sync meets them.
                    try db.execute(
                        sql: """
                            INSERT INTO erasureRequest (id, subjectHash, reason, receivedAt, deadline, state,
                            verifiedAt, note) VALUES (?, ?, NULL, ?, ?, 'verified', ?, ?) ON CONFLICT DO NOTHING
                            """,
                        arguments: [
                            id, entry.hash, entry.at, entry.deadline ?? entry.at, entry.at,
                            "re-applied from the erasure journal after the store was restored",
                        ])
                case "tombstone":
                    try db.execute(
                        sql:
                            "INSERT INTO tombstone (subjectHash, erasedAt, requestId) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        arguments: [entry.hash, entry.at, entry.requestId])
                case "crmTombstone":
                    try db.execute(
                        sql:
                            "INSERT INTO crmTombstone (idHash, erasedAt, requestId) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        arguments: [entry.hash, entry.at, entry.requestId])
                default: continue
                }
                reconciliation.restored += 1
            }
            try AuditLog.append(
                action: "erasure.journalRestored", actor: "erasure journal", contactId: nil,
                detail: "restored=\(reconciliation.restored)", at: store.now, in: db)
        }
        // A subject the restored store still holds is erased again through the usual path: the request (with its
        // id, so `erasures` shows one request), the local erasure, and the CRM deletes on the next run.
        for (email, requestId) in toErase {
            do {
                _ = try store.recordErasureRequest(
                    email: email, requestId: requestId, reason: "re-applied from the erasure journal")
                try store.eraseLocally(requestId: requestId)
                reconciliation.reErased += 1
            } catch let error as StoreError {
                // The restored store names the request for another address (a backup taken between the request
                // and its local erasure, after an address change): its tombstones hold; a person decides.
                store.logger.warning(
                    "erasure journal: a request could not be applied again; its tombstones hold",
                    metadata: ["erasure.request": "\(requestId)", "store.error": "\(error.detail)"])
            }
        }
        return reconciliation
    }

    /// A contact of the restored store and the records it is linked to.
    typealias ContactLinks = (id: String, email: EmailAddress, crmId: String?, mergedIntoCrmId: String?)

    /// The contact of the restored store each missing erasure request is about, at most one a request, in this order:
    /// 1. the contact holding the request's address, not linked to a record the erasure did not take (no link, or a
    ///    link to a record it tombstoned): the address is the person;
    /// 2. the contact whose own record the request tombstoned, then one linked to it as a merge survivor (after a CRM
    ///    merge another person's contact is linked to the subject's record too, and the erasure released it), never
    ///    one holding the address of another request being applied again;
    /// 3. the contact holding the request's address although linked to another record (a CRM merge re-pointed the
    ///    link after the backup; erasure wins);
    /// 4. a contact with no link holding a former address of the subject's that the erasure tombstoned (it tombstones
    ///    none another contact held): a backup taken before the CRM moved the subject's record holds it under it.
    /// A contact linked to a record the erasure did not take that holds such a former address is someone the CRM
    /// moved off it since: not erased (its tombstone holds), and logged for a person to decide.
    private static func subjects(of missing: [Entry], all: [Entry], in store: SyncStore) throws
        -> [(email: EmailAddress, requestId: String)]
    {
        var requestIds = Set(missing.filter { $0.kind != "request" }.compactMap(\.requestId))
        requestIds.formUnion(missing.filter { $0.kind == "request" }.compactMap(\.id))
        guard !requestIds.isEmpty else { return [] }
        // Each contact's keyed hashes, once: every request is matched against all of them.
        let contacts = try store.allContactLinks().map { contact in
            (
                links: contact, address: store.subjectHash(of: contact.email),
                own: contact.crmId.map(store.crmIdHash), merged: contact.mergedIntoCrmId.map(store.crmIdHash)
            )
        }
        let requestSubjects = Set(
            all.filter { $0.kind == "request" && requestIds.contains($0.id ?? "") }.compactMap(\.hash))
        var taken: Set<String> = []
        var result: [(email: EmailAddress, requestId: String)] = []
        for requestId in requestIds.sorted() {
            let idHashes = Set(all.filter { $0.kind == "crmTombstone" && $0.requestId == requestId }.compactMap(\.hash))
            let subjectHash = all.first { $0.kind == "request" && $0.id == requestId }?.hash
            let addressHashes = Set(
                all.filter { $0.kind == "tombstone" && $0.requestId == requestId }.compactMap(\.hash))
            func rank(_ contact: (links: ContactLinks, address: String, own: String?, merged: String?)) -> Int? {
                guard !taken.contains(contact.links.id) else { return nil }
                let hash = contact.address
                let holdsAddress = hash == subjectHash || (subjectHash == nil && addressHashes.contains(hash))
                let own = contact.own.map(idHashes.contains) ?? false
                let merged = contact.merged.map(idHashes.contains) ?? false
                let unlinked = contact.own == nil && contact.merged == nil
                if holdsAddress && (unlinked || own || merged) { return 0 }
                if (own || merged) && !requestSubjects.contains(hash) { return own ? 1 : 2 }
                if holdsAddress { return 3 }
                if unlinked && addressHashes.contains(hash) { return 4 }
                return nil
            }
            let ranked = contacts.compactMap { contact in rank(contact).map { (contact.links, $0) } }
            guard let subject = ranked.min(by: { $0.1 < $1.1 })?.0 else {
                if contacts.contains(where: { addressHashes.contains($0.address) }) {
                    store.logger.warning(
                        "erasure journal: a contact linked to a record the erasure did not take holds an address it tombstoned; not erased again, a person decides",
                        metadata: ["erasure.request": "\(requestId)"])
                }
                continue
            }
            taken.insert(subject.id)
            result.append((subject.email, requestId))
        }
        return result
    }

    /// The journal's lines. A torn last line (a crash mid-append, without its line break) is ignored; any other
    /// line that cannot be read is damage, refused by line number: a lost tombstone must never pass unnoticed.
    static func read(_ path: String) throws -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError.cannotOpen("the erasure journal at \(path) cannot be read")
        }
        let decoder = JSONDecoder()
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var entries: [Entry] = []
        for (index, line) in lines.enumerated() where !line.isEmpty {
            if let entry = try? decoder.decode(Entry.self, from: line) {
                entries.append(entry)
            } else if index < lines.count - 1 {
                throw StoreError.cannotOpen(
                    "the erasure journal at \(path) is damaged at line \(index + 1): restore it from its own backup")
            }
        }
        return entries
    }

    /// Appends `entries` in one write under an exclusive lock, and flushes them to disk.
    private func append(_ entries: [Entry]) throws {
        guard !entries.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        for entry in entries {
            data.append(try encoder.encode(entry))
            data.append(UInt8(ascii: "\n"))
        }
        let descriptor = Glibc.open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, PrivateFiles.fileMode)
        guard descriptor >= 0 else { throw StoreError.cannotOpen("the erasure journal at \(path) cannot be written") }
        defer { close(descriptor) }
        flock(descriptor, LOCK_EX)
        defer { flock(descriptor, LOCK_UN) }
        // A line torn by a crash mid-append is cut off first: its transaction never committed, and it must never
        // swallow the next line.
        let size = lseek(descriptor, 0, SEEK_END)
        var end = size
        var byte: UInt8 = 0
        while end > 0, pread(descriptor, &byte, 1, end - 1) == 1, byte != UInt8(ascii: "\n") { end -= 1 }
        if end < size { ftruncate(descriptor, end) }
        let written = data.withUnsafeBytes { buffer in Glibc.write(descriptor, buffer.baseAddress, buffer.count) }
        guard written == data.count, fsync(descriptor) == 0 else {
            throw StoreError.cannotOpen("the erasure journal at \(path) cannot be written")
        }
    }
}
