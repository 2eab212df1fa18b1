import Foundation
import GRDB
import SyncModel

/// Who holds the writer lease, and until when.
public struct LeaseHolder: Sendable, Equatable {
    public var holder: String
    public var acquiredAt: Date
    public var expiresAt: Date

    public init(holder: String, acquiredAt: Date, expiresAt: Date) {
        self.holder = holder
        self.acquiredAt = acquiredAt
        self.expiresAt = expiresAt
    }
}

extension SyncStore {
    /// Records that `holder` holds the lease `name` from now on, replacing any row a dead holder left; the
    /// caller holds the lease's OS lock, which is what makes it exclusive. `expiresAt` is informational.
    public func recordLease(_ name: String, holder: String) throws {
        let now = self.now
        try database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO lease (name, holder, acquiredAt, expiresAt) VALUES (?, ?, ?, ?)",
                arguments: [name, holder, now.millisecondsSince1970, Int64.max])
        }
    }

    public func releaseLease(_ name: String, holder: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM lease WHERE name = ? AND holder = ?", arguments: [name, holder])
        }
    }

    public func currentLease(_ name: String) throws -> LeaseHolder? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM lease WHERE name = ?", arguments: [name]).map { row in
                LeaseHolder(
                    holder: row["holder"], acquiredAt: Date(millisecondsSince1970: row["acquiredAt"]),
                    expiresAt: Date(millisecondsSince1970: row["expiresAt"]))
            }
        }
    }
}
