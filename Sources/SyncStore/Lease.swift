import Foundation
import GRDB
import SyncModel

/// Who holds the writer lease, and until when.
public struct LeaseHolder: Sendable, Equatable {
    public var holder: String
    public var acquiredAt: Date
    public var expiresAt: Date
}

extension SyncStore {
    /// Takes the lease `name` for `holder` until now + `ttl`, unless someone else holds an unexpired one;
    /// returns nil on success, or the current holder. Atomic: SQLite serialises the write transactions.
    public func acquireLease(_ name: String, holder: String, ttl: Duration) throws -> LeaseHolder? {
        let now = self.now
        let expires = now.addingTimeInterval(Double(ttl.components.seconds) + Double(ttl.components.attoseconds) / 1e18)
        return try database.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM lease WHERE name = ?", arguments: [name]) {
                let current = LeaseHolder(
                    holder: row["holder"], acquiredAt: Date(millisecondsSince1970: row["acquiredAt"]),
                    expiresAt: Date(millisecondsSince1970: row["expiresAt"]))
                if current.holder != holder && current.expiresAt > now { return current }
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO lease (name, holder, acquiredAt, expiresAt) VALUES (?, ?, ?, ?)",
                arguments: [name, holder, now.millisecondsSince1970, expires.millisecondsSince1970])
            return nil
        }
    }

    /// Extends a lease this holder has; false when it was lost (expired and taken over).
    public func renewLease(_ name: String, holder: String, ttl: Duration) throws -> Bool {
        let expires = now.addingTimeInterval(Double(ttl.components.seconds))
        return try database.write { db in
            try db.execute(
                sql: "UPDATE lease SET expiresAt = ? WHERE name = ? AND holder = ?",
                arguments: [expires.millisecondsSince1970, name, holder])
            return db.changesCount == 1
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
