import Crypto
import Foundation
import GRDB
import Logging
import SyncModel

/// The canonical store: the register as crmsync holds it, in one SQLite file (GRDB, WAL mode).
///
/// Every logical change is one transaction: a contact and its consent evidence, a suppression and its
/// audit entry, an erasure and its tombstone are written together or not at all.
public final class SyncStore: Sendable {
    let database: DatabasePool
    /// The SQLite file's path; the writer lease's lock file sits beside it.
    public let path: String
    let clock: any SyncClock
    let logger: Logger
    private let subjectKey: SymmetricKey

    /// Opens (creating if needed) the store at `path` and brings its schema up to date. With `existingOnly`
    /// (a dry run) it creates and migrates nothing: a missing or out-of-date store is an error.
    public init(
        path: String, clock: any SyncClock = SystemClock(), logger: Logger = .silent("crmsync.store"),
        existingOnly: Bool = false
    ) throws {
        if existingOnly && !FileManager.default.fileExists(atPath: path) {
            throw StoreError.cannotOpen("there is no store at \(path) (a dry run creates none: run crmsync init first)")
        }
        self.path = path
        self.clock = clock
        self.logger = logger
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        // Erased subjects must not linger in free pages of the file.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        do {
            database = try DatabasePool(path: path, configuration: configuration)
            if existingOnly {
                guard try database.read({ try Schema.migrator.hasCompletedMigrations($0) }) else {
                    throw StoreError.cannotOpen(
                        "the store at \(path) needs a newer schema (a dry run migrates nothing: run crmsync init first)"
                    )
                }
            } else {
                try Schema.migrator.migrate(database)
            }
            subjectKey = try Self.loadOrCreateSubjectKey(in: database)
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(
                "cannot open the store at \(path): \(error.message ?? "SQLite error \(error.resultCode)")")
        }
        logger.debug("store opened", metadata: ["store.path": "\(path)"])
    }

    /// Whether every migration this build knows has been applied.
    public func isUpToDate() throws -> Bool {
        try database.read { db in try Schema.migrator.hasCompletedMigrations(db) }
    }

    /// The applied migrations, oldest first.
    public func appliedMigrations() throws -> [String] {
        try database.read { db in try Schema.migrator.appliedMigrations(db) }
    }

    /// HMAC-SHA256 of the normalised email under this store's secret, as hex: how tombstones name a subject.
    public func subjectHash(of email: EmailAddress) -> String { keyedHash(email.normalized) }

    /// HMAC-SHA256 of a CRM record id under the same secret, as hex: how tombstones name an erased subject's
    /// CRM record without keeping its id.
    public func crmIdHash(of crmId: String) -> String { keyedHash(crmId) }

    private func keyedHash(_ text: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: subjectKey)
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for byte in mac {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    private static func loadOrCreateSubjectKey(in database: DatabasePool) throws -> SymmetricKey {
        try database.write { db in
            if let data = try Data.fetchOne(db, sql: "SELECT value FROM metadata WHERE key = 'subjectKey'") {
                return SymmetricKey(data: data)
            }
            let key = SymmetricKey(size: .bits256)
            let data = key.withUnsafeBytes { Data($0) }
            try db.execute(sql: "INSERT INTO metadata (key, value) VALUES ('subjectKey', ?)", arguments: [data])
            return key
        }
    }

    var now: Date { clock.now }
}
