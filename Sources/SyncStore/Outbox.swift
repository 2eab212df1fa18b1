import Foundation
import GRDB
import SyncModel

/// A CRM mutation recorded before it is sent and removed only when the CRM confirmed it.
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var contactId: String?
    public var dedupeKey: String
    public var payload: Data
    public var attempts: Int
    public var createdAt: Date
    public var lastError: String?
}

extension SyncStore {
    /// Records pending mutations; an entry with the same dedupe key is replaced (a newer plan supersedes it).
    public func enqueue(_ entries: [(kind: String, contactId: String?, dedupeKey: String, payload: Data)]) throws {
        guard !entries.isEmpty else { return }
        let now = self.now.millisecondsSince1970
        try database.write { db in
            for entry in entries {
                try db.execute(
                    sql: """
                        INSERT INTO outbox (kind, contactId, dedupeKey, payload, state, attempts, createdAt)
                        VALUES (?, ?, ?, ?, 'pending', 0, ?)
                        ON CONFLICT(dedupeKey) DO UPDATE SET payload = excluded.payload, kind = excluded.kind,
                        state = 'pending'
                        """,
                    arguments: [entry.kind, entry.contactId, entry.dedupeKey, entry.payload, now])
            }
        }
    }

    /// Pending entries of `kind` (all kinds when nil), oldest first.
    public func pendingOutbox(kind: String? = nil, limit: Int = 1000) throws -> [OutboxEntry] {
        try database.read { db in
            let rows =
                if let kind {
                    try Row.fetchAll(
                        db, sql: "SELECT * FROM outbox WHERE kind = ? ORDER BY id LIMIT ?", arguments: [kind, limit])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY id LIMIT ?", arguments: [limit])
                }
            return rows.map { row in
                OutboxEntry(
                    id: row["id"], kind: row["kind"], contactId: row["contactId"], dedupeKey: row["dedupeKey"],
                    payload: row["payload"], attempts: row["attempts"],
                    createdAt: Date(millisecondsSince1970: row["createdAt"]), lastError: row["lastError"])
            }
        }
    }

    public func outboxCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0 }
    }

    /// Removes confirmed entries.
    public func completeOutbox(dedupeKeys: [String]) throws {
        guard !dedupeKeys.isEmpty else { return }
        try database.write { db in
            for key in dedupeKeys { try db.execute(sql: "DELETE FROM outbox WHERE dedupeKey = ?", arguments: [key]) }
        }
    }

    /// Notes a failed attempt (the error text must hold no personal data).
    public func failOutbox(dedupeKey: String, error: String) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE outbox SET attempts = attempts + 1, lastError = ?, state = 'failed' WHERE dedupeKey = ?",
                arguments: [error, dedupeKey])
        }
    }
}

/// One sync run as the run history keeps it.
public struct RunRecord: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: String
    /// JSON summary (counts, requests, 429s), free of personal data.
    public var summary: String?
}

extension SyncStore {
    public func startRun(kind: String) throws -> Int64 {
        let now = self.now.millisecondsSince1970
        return try database.write { db in
            try db.execute(
                sql: "INSERT INTO run (kind, startedAt, status) VALUES (?, ?, 'running')", arguments: [kind, now])
            return db.lastInsertedRowID
        }
    }

    public func finishRun(_ id: Int64, status: String, summary: String?) throws {
        let now = self.now.millisecondsSince1970
        try database.write { db in
            try db.execute(
                sql: "UPDATE run SET finishedAt = ?, status = ?, summary = ? WHERE id = ?",
                arguments: [now, status, summary, id])
        }
    }

    public func recentRuns(limit: Int = 10) throws -> [RunRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                RunRecord(
                    id: row["id"], kind: row["kind"], startedAt: Date(millisecondsSince1970: row["startedAt"]),
                    finishedAt: (row["finishedAt"] as Int64?).map(Date.init(millisecondsSince1970:)),
                    status: row["status"],
                    summary: row["summary"])
            }
        }
    }
}
