import Foundation
import PropertyBased
import SyncModel
import Testing

@testable import SyncStore

/// A sync batch's writes held and sent together (``WriteBatch``) do what they did sent one by one: the same rows in
/// the end, the same answers to the reads between them, and a failure where one by one failed. The register holds a
/// batch's writes on PostgreSQL only; the batch's SQL is the common subset, so it is checked on every adapter.
@Suite struct WriteBatchTests {
    /// Generated: up to 40 writes of the shapes a sync batch makes (contacts inserted, linked, unlinked, renamed and
    /// deleted; consent decisions upserted and appended; base values upserted, some twice in one statement, and
    /// deleted; audit lines; a checkpoint) with reads between them, over four contacts, four addresses and four CRM
    /// ids, so unique addresses and CRM ids clash, upserts meet their own keys, and a column gets values of two kinds.
    /// A row that refers to a contact is only written while the contact is there, or refers to one never there
    /// (``WriteBatch``'s precondition: its writes to `contact` go first, so a row written before its contact is
    /// inserted would not fail as it did one by one).
    @Test(arguments: Adapter.allCases)
    func heldWritesDoWhatTheyDidOneByOne(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        // c0 and c1 exist before every sequence (linked to crm0 and crm1); c2 and c3 only if a sequence inserts them.
        let database = try #require(scene.register.port as? SyncStore).registerDatabase
        try Self.insertFirstContacts(in: database)
        // Link updates (kind 1) five times as often as the others: runs of them are what gets joined.
        let write = zip(
            Gen.int(in: 0...16).map { $0 > 12 ? 1 : $0 }, Gen.int(in: 0...3), Gen.int(in: 0...3), Gen.int(in: 0...3))
        await propertyCheck(count: 60, input: write.array(of: 1...40)) { input in
            let writes = HeldWrite.sequence(input)
            let oneByOne = Self.outcome(of: writes, in: database, batched: false)
            let batched = Self.outcome(of: writes, in: database, batched: true)
            #expect(batched == oneByOne, "\(writes)")
        }
    }

    /// The clash the batch must not join into one statement: c1 lets crm1 go (for crm2) before c0 takes it. One by one
    /// that succeeds; joined, the database may give c0 crm1 while c1 still holds it.
    @Test(arguments: Adapter.allCases)
    func aUniqueValueLetGoBeforeAnotherRowTakesItIsNotJoined(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let database = try #require(scene.register.port as? SyncStore).registerDatabase
        let writes = HeldWrite.sequence([
            (0, 2, 2, 0), (0, 3, 3, 0), (1, 1, 2, 0), (1, 0, 1, 0), (1, 3, 0, 0), (1, 2, 3, 0),
        ])
        try Self.insertFirstContacts(in: database)
        let oneByOne = Self.outcome(of: writes, in: database, batched: false)
        #expect(oneByOne != nil)
        #expect(Self.outcome(of: writes, in: database, batched: true) == oneByOne)
    }

    /// c0 and c1, linked to crm0 and crm1.
    static func insertFirstContacts(in database: any RegisterDatabase) throws {
        try database.write { db in
            for index in 0..<2 {
                try db.execute(
                    sql:
                        "INSERT INTO contact (id, crmId, email, createdAt, updatedAt, fieldStamps) VALUES (?, ?, ?, 1, 1, '')",
                    arguments: ["c\(index)", "crm\(index)", "e\(index)@example.fi"])
            }
        }
    }

    /// The register after `writes` (and the reads' answers), or nil when a write failed; rolled back either way.
    static func outcome(of writes: [HeldWrite], in database: any RegisterDatabase, batched: Bool) -> [[SQLValue]]? {
        var outcome: [[SQLValue]] = []
        do {
            try database.transaction { db in
                let session: any SQLSession = batched ? WriteBatch(db) : db
                for write in writes {
                    switch write {
                    case .read(let sql): outcome += try SQLRow.fetchAll(session, sql: sql).map(\.values)
                    case .write(let sql, let values): try session.execute(sql: sql, arguments: SQLArguments(values))
                    }
                }
                try (session as? WriteBatch)?.flush()
                for sql in HeldWrite.image { outcome += try SQLRow.fetchAll(db, sql: sql).map(\.values) }
                return .rollback
            }
        } catch {
            return nil
        }
        return outcome
    }
}

/// One write (or read) of a generated sequence.
enum HeldWrite: CustomStringConvertible {
    case write(String, [(any SQLValueConvertible)?])
    case read(String)

    var description: String {
        switch self {
        case .write(let sql, let values): "\(sql) \(values.map { $0.map { "\($0)" } ?? "NULL" })"
        case .read(let sql): sql
        }
    }

    /// Every row the writes can touch, in a fixed order (rows numbered by the database by their order, not number).
    static let image = [
        "SELECT id, crmId, email, firstName, crmLastModified, syncedVersion, mergedIntoCrmId FROM contact ORDER BY id",
        "SELECT contactId, purpose, state FROM consent ORDER BY contactId, purpose",
        "SELECT contactId, purpose, state FROM consentEvent ORDER BY id",
        "SELECT contactId, key, value FROM syncBase ORDER BY contactId, key",
        "SELECT action, contactId FROM auditLog ORDER BY id",
        "SELECT name, value FROM checkpoint ORDER BY name",
    ]

    /// The writes of generated numbers: what to do, and three small numbers it picks its rows and values with.
    static func sequence(_ input: [(Int, Int, Int, Int)]) -> [HeldWrite] {
        var present: Set<Int> = [0, 1]
        return input.map { kind, a, b, c in
            // A row that refers to a contact not there refers to c9, never there.
            let referred = present.contains(a) ? a : 9
            switch kind {
            case 0:
                present.insert(a)
                return .write(
                    "INSERT INTO contact (id, crmId, email, createdAt, updatedAt, fieldStamps) VALUES (?, ?, ?, ?, ?, ?)",
                    ["c\(a)", c == 0 ? nil : "crm\(c)", "e\(b)@example.fi", 1, 1, ""])
            case 1:
                return .write(
                    """
                    UPDATE contact SET crmId = ?, crmLastModified = ?, syncedVersion = CASE WHEN syncedVersion < ? \
                    THEN ? ELSE syncedVersion END WHERE id = ?
                    """, [b == 0 ? nil : "crm\(b)", c == 0 ? nil : c * 1000, c, c, "c\(a)"])
            case 2:
                return .write(
                    "UPDATE contact SET email = ?, firstName = ? WHERE id = ?",
                    ["e\(b)@example.fi", c == 0 ? nil : "n\(c)", "c\(a)"])
            case 3:
                return .write("UPDATE contact SET crmId = NULL WHERE crmId = ? AND id != ?", ["crm\(b)", "c\(a)"])
            case 4:
                return .write(
                    """
                    INSERT INTO consent (contactId, purpose, state, source, occurredAt, origin)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (contactId, purpose) DO UPDATE SET state = excluded.state
                    """, ["c\(referred)", "p\(b % 2)", "s\(c)", "s", 1, "crm"])
            case 5:
                return .write(
                    """
                    INSERT INTO consentEvent (contactId, purpose, state, source, occurredAt, recordedAt, origin)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, ["c\(referred)", "p\(b % 2)", "s\(c)", "s", 1, 1, "crm"])
            case 6:
                // One or two rows; two with one key when b == c (a statement of its own, as made).
                return .write(
                    """
                    INSERT INTO syncBase (contactId, key, value) VALUES (?, ?, ?), (?, ?, ?)
                    ON CONFLICT (contactId, key) DO UPDATE SET value = excluded.value
                    """, ["c\(referred)", "k\(b)", "v\(c)", "c\(referred)", "k\(c)", "w\(b)"])
            case 7:
                return .write(
                    """
                    INSERT INTO syncBase (contactId, key, value) VALUES (?, ?, ?)
                    ON CONFLICT (contactId, key) DO UPDATE SET value = excluded.value
                    """, ["c\(referred)", "k\(b)", "v\(c)"])
            case 8:
                return .write("DELETE FROM syncBase WHERE contactId = ?", ["c\(referred)"])
            case 9:
                return .write(
                    "INSERT INTO auditLog (at, actor, action, contactId) VALUES (?, ?, ?, ?)",
                    [1, "test", "a\(b)", "c\(referred)"])
            case 10:
                return .read("SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM syncBase")
            case 11:
                return .write(
                    """
                    INSERT INTO checkpoint (name, value, updatedAt) VALUES (?, ?, 1)
                    ON CONFLICT (name) DO UPDATE SET value = excluded.value
                    """, ["k\(b)", "v\(c)"])
            default:
                // Deleting a contact takes its rows elsewhere with it; a text column given an integer is refused
                // by PostgreSQL (one by one or joined).
                if b == 0 {
                    present.remove(a)
                    return .write("DELETE FROM contact WHERE id = ?", ["c\(a)"])
                }
                return .write("UPDATE contact SET mergedIntoCrmId = ? WHERE id = ?", [b == 1 ? 7 : "m\(c)", "c\(a)"])
            }
        }
    }
}
