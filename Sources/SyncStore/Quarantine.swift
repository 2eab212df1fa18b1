import Foundation
import SyncModel

/// A contact whose push the CRM refused for good, waiting to be tried again.
public struct QuarantineEntry: Sendable, Equatable, Codable {
    public var contactId: String
    /// What to fix, without personal data (`required property missing: lastname`).
    public var reason: String
    public var attempts: Int
    public var firstRefusedAt: Date
    public var lastRefusedAt: Date
    public var nextAttemptAt: Date
}

extension SyncStore {
    /// How long a contact refused `attempts` times waits before the next try: the next run after the first
    /// refusal, then 1 h, 2 h, 4 h, … up to a day. A local edit makes it due at once.
    public static func quarantineDelay(afterAttempts attempts: Int) -> TimeInterval {
        guard attempts > 1 else { return 0 }
        return min(3600 * pow(2, Double(attempts - 2)), 86_400)
    }

    /// Records that the CRM refused `contactId` at `localVersion`; a later refusal counts another attempt.
    public func quarantine(contactId: String, localVersion: Int64, reason: String) throws {
        let now = self.now
        try write { db in
            let attempts =
                (try Int.fetchOne(
                    db, sql: "SELECT attempts FROM quarantine WHERE contactId = ?", arguments: [contactId])
                    ?? 0) + 1
            let next = now.addingTimeInterval(Self.quarantineDelay(afterAttempts: attempts))
            try db.execute(
                sql: """
                    INSERT INTO quarantine (contactId, reason, localVersion, attempts, firstRefusedAt, lastRefusedAt, nextAttemptAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(contactId) DO UPDATE SET reason = excluded.reason, localVersion = excluded.localVersion,
                        attempts = excluded.attempts, lastRefusedAt = excluded.lastRefusedAt,
                        nextAttemptAt = excluded.nextAttemptAt
                    """,
                arguments: [
                    contactId, reason, localVersion, attempts, now.millisecondsSince1970, now.millisecondsSince1970,
                    next.millisecondsSince1970,
                ])
        }
    }

    /// Takes contacts out of quarantine (the CRM accepted them).
    public func releaseFromQuarantine(_ contactIds: [String]) throws {
        guard !contactIds.isEmpty else { return }
        try write { db in
            for chunk in stride(from: 0, to: contactIds.count, by: 500) {
                let part = Array(contactIds[chunk..<min(chunk + 500, contactIds.count)])
                try db.execute(
                    sql: "DELETE FROM quarantine WHERE contactId IN (\(questionMarks(count: part.count)))",
                    arguments: SQLArguments(part))
            }
        }
    }

    /// Quarantined contacts not due yet: refused, not edited locally since, and their wait not over.
    public func quarantinedNotDue() throws -> Set<String> {
        let now = self.now.millisecondsSince1970
        return try database.read { db in
            Set(
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT q.contactId FROM quarantine q JOIN contact c ON c.id = q.contactId
                        WHERE q.nextAttemptAt > ? AND c.localVersion <= q.localVersion
                        """,
                    arguments: [now]))
        }
    }

    /// Every quarantined contact, longest waiting first.
    public func quarantined() throws -> [QuarantineEntry] {
        try database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM quarantine ORDER BY firstRefusedAt, contactId").map { row in
                QuarantineEntry(
                    contactId: row["contactId"], reason: row["reason"], attempts: row["attempts"],
                    firstRefusedAt: Date(millisecondsSince1970: row["firstRefusedAt"]),
                    lastRefusedAt: Date(millisecondsSince1970: row["lastRefusedAt"]),
                    nextAttemptAt: Date(millisecondsSince1970: row["nextAttemptAt"]))
            }
        }
    }
}
