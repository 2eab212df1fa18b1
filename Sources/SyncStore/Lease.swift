import Foundation
import SyncCore
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
    /// Records that `holder` holds the lease `name` from now on, replacing any row a dead holder left, and bumps
    /// the lease's epoch: the returned token fences the holder's writes (``fenced(by:)``). The caller holds the
    /// lease's OS lock, which is what makes it exclusive. `expiresAt` is informational.
    @discardableResult
    public func recordLease(_ name: String, holder: String) throws -> LeaseToken {
        let now = self.now
        let nonce = UUID().uuidString.lowercased()
        return try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO lease (name, holder, acquiredAt, expiresAt) VALUES (?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquiredAt = excluded.acquiredAt,
                        expiresAt = excluded.expiresAt
                    """,
                arguments: [name, holder, now.millisecondsSince1970, Int64.max])
            try db.execute(
                sql: """
                    INSERT INTO leaseEpoch (name, epoch, nonce) VALUES (?, 1, ?)
                    ON CONFLICT (name) DO UPDATE SET epoch = leaseEpoch.epoch + 1, nonce = excluded.nonce
                    """,
                arguments: [name, nonce])
            let epoch = try Int64.fetchOne(db, sql: "SELECT epoch FROM leaseEpoch WHERE name = ?", arguments: [name])
            return LeaseToken(name: name, epoch: epoch ?? 1, nonce: nonce)
        }
    }

    /// Throws ``StaleLease`` unless `token` is the lease's latest acquisition: checked in the transaction of every
    /// write of a fenced store, so a write either lands under the lease or not at all.
    static func check(_ token: LeaseToken, in db: any SQLSession) throws {
        let row = try SQLRow.fetchOne(
            db, sql: "SELECT epoch, nonce FROM leaseEpoch WHERE name = ?", arguments: [token.name])
        let epoch: Int64? = row?["epoch"]
        let nonce: String? = row?["nonce"]
        guard epoch == token.epoch, nonce == token.nonce else { throw StaleLease(token: token, current: epoch) }
    }

    public func releaseLease(_ name: String, holder: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM lease WHERE name = ? AND holder = ?", arguments: [name, holder])
        }
    }

    public func currentLease(_ name: String) throws -> LeaseHolder? {
        try database.read { db in
            try SQLRow.fetchOne(db, sql: "SELECT * FROM lease WHERE name = ?", arguments: [name]).map { row in
                LeaseHolder(
                    holder: row["holder"], acquiredAt: Date(millisecondsSince1970: row["acquiredAt"]),
                    expiresAt: Date(millisecondsSince1970: row["expiresAt"]))
            }
        }
    }
}
