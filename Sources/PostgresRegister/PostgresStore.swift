import Foundation
import Logging
import SyncModel
import SyncStore

extension SyncStore {
    /// Opens the register in the PostgreSQL database at `location`, bringing its schema up to date (with
    /// `existingOnly`, a dry run: the session is read-only, nothing is created or migrated, and an out-of-date
    /// schema is an error). With `erasureJournal`, its erasures are journalled to that file as a SQLite store's are
    /// (`startNewJournal`: start one where the register has had one and it is missing). A register that has had a
    /// journal is not opened without one: a restored backup of it could undo erasures only the journal knows.
    public static func postgres(
        _ location: PostgresLocation, clock: any SyncClock = SystemClock(),
        logger: Logger = Logger(label: "crmsync.store", factory: { _ in SwiftLogNoOpLogHandler() }),
        existingOnly: Bool = false, erasureJournal: String? = nil, startNewJournal: Bool = false
    ) throws -> SyncStore {
        let database = try PostgresRegisterDatabase(location: location, readOnly: existingOnly, logger: logger)
        let store = try SyncStore(
            database: database, path: nil, place: location.description, clock: clock, logger: logger,
            migrates: !existingOnly)
        if let erasureJournal {
            try store.attachJournal(path: erasureJournal, readOnly: existingOnly, startNew: startNewJournal)
        } else if try store.hasHadErasureJournal() {
            try? store.close()
            throw StoreError.cannotOpen(
                "the register at \(location.description) has had an erasure journal: name it in store.erasureJournal "
                    + "(a restored backup could otherwise undo erasures only the journal knows)")
        }
        return store
    }
}
