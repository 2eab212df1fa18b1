import Foundation
import SyncModel

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
        return try write { db in
            try db.insertReturningId(
                sql: "INSERT INTO run (kind, startedAt, status) VALUES (?, ?, 'running')", arguments: [kind, now])
        }
    }

    public func finishRun(_ id: Int64, status: String, summary: String?) throws {
        let now = self.now.millisecondsSince1970
        // Not fenced: a run stopped by a taken-over lease still closes its own row in the run log.
        try database.write { db in
            try db.execute(
                sql: "UPDATE run SET finishedAt = ?, status = ?, summary = ? WHERE id = ?",
                arguments: [now, status, summary, id])
        }
    }

    public func recentRuns(limit: Int = 10) throws -> [RunRecord] {
        try database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM run ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                RunRecord(
                    id: row["id"], kind: row["kind"], startedAt: Date(millisecondsSince1970: row["startedAt"]),
                    finishedAt: (row["finishedAt"] as Int64?).map(Date.init(millisecondsSince1970:)),
                    status: row["status"],
                    summary: row["summary"])
            }
        }
    }
}
