import Foundation
import PostgresRegister
import SyncCore
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// What only the PostgreSQL register has to keep: its sessions' settings, its journal rule, and a database restored
/// under a running process.
@Suite(
    .disabled(
        if: !TestPostgres.isConfigured,
        "PostgreSQL is not configured (CRMSYNC_TEST_POSTGRES_URL, PGPASSWORD): the PostgreSQL register is not tested")
)
struct PostgresRegisterTests {
    /// A host cut off from the server loses its session (its locks, the lease, an open transaction) within seconds,
    /// and a write never waits for ever: every session asks for keepalive probes and time limits.
    @Test func everySessionAsksForKeepalivesAndTimeLimits() throws {
        let location = try TestPostgres.newDatabase()
        defer { try? TestPostgres.drop(location.database) }
        let store = try SyncStore.postgres(location)
        defer { try? store.close() }
        let settings = try store.registerDatabase.read { db in
            try SQLRow.fetchOne(
                db,
                sql: """
                    SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),
                    current_setting('tcp_keepalives_count'), current_setting('idle_in_transaction_session_timeout'),
                    current_setting('lock_timeout')
                    """)
        }
        let row = try #require(settings)
        let values: [String?] = (0..<5).map { row[$0] }
        #expect(values == ["5", "5", "3", "5min", "1min"])
    }

    /// A register that has had an erasure journal is not opened without one, unless a new one is started on purpose.
    @Test func aRegisterThatHasHadAJournalIsNotOpenedWithoutOne() throws {
        let location = try TestPostgres.newDatabase()
        defer { try? TestPostgres.drop(location.database) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let journal = folder.appendingPathComponent("erasure-journal").path
        try SyncStore.postgres(location, erasureJournal: journal).close()

        #expect(throws: StoreError.self) { try SyncStore.postgres(location) }
        try FileManager.default.removeItem(atPath: journal)
        #expect(throws: StoreError.self) { try SyncStore.postgres(location, erasureJournal: journal) }
        try SyncStore.postgres(location, erasureJournal: journal, startNewJournal: true).close()
        try SyncStore.postgres(location, erasureJournal: journal).close()
    }

    /// An administrator restores the register's database from a backup while a daemon keeps it open: before its next
    /// run the daemon applies the erasure journal again, so the subject erased after the backup is erased again.
    @Test func aDatabaseRestoredUnderARunningProcessIsBroughtUpToTheJournal() throws {
        let server = try TestPostgres.server()
        let location = try TestPostgres.newDatabase()
        let backup = try TestPostgres.newDatabase()
        defer {
            try? TestPostgres.drop(location.database)
            try? TestPostgres.drop(backup.database)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SyncStore.postgres(location, erasureJournal: folder.appendingPathComponent("journal").path)
        defer { try? store.close() }
        let csv = "email,firstName\naino@example.fi,Aino\nbo@example.fi,Bo\n"
        _ = try store.importContacts(
            try ImportFileReader(purposes: Purpose.standard).read(Data(csv.utf8), format: .csv))
        // The backup, taken before the erasure.
        let copy = try PostgresRegisterDatabase(location: backup, logger: TestPostgres.logger)
        try copy.migrate()
        try RegisterCopy.copy(from: store, to: copy)
        try copy.close()
        let aino = try EmailAddress("aino@example.fi")
        _ = try store.recordErasureRequest(email: aino, requestId: "r1", reason: nil)
        try store.eraseLocally(requestId: "r1")

        // Restored in place, under the open store: its connection is cut and the old rows are back.
        try PostgresAdministration.dropDatabase(location.database, on: server, logger: TestPostgres.logger)
        try PostgresAdministration.createDatabase(
            location.database, on: server, template: backup.database, logger: TestPostgres.logger)
        // The first use after the cut may fail (the connection is gone); the next one opens a new one.
        _ = try? store.contactCount()
        #expect(try store.contact(email: aino) != nil, "the restored database holds the erased subject again")

        #expect(try store.reconcileErasureJournal() > 0)
        #expect(try store.contact(email: aino) == nil)
        #expect(try store.isErased(aino))
        #expect(try store.contact(email: EmailAddress("bo@example.fi")) != nil)
    }

    /// Transactions waiting for the server (here, for the writer lock another host holds) wait on threads of their
    /// own: more of them than the process has cooperative threads still leave those free, so a timer, the metrics
    /// listener or a signal handler of the process still runs meanwhile.
    @Test func transactionsWaitingForTheServerHoldUpNoOtherTask() async throws {
        let location = try TestPostgres.newDatabase()
        defer { try? TestPostgres.drop(location.database) }
        let holder = try SyncStore.postgres(location)
        let store = try SyncStore.postgres(location)
        defer {
            try? holder.close()
            try? store.close()
        }
        // Another host holds the writer lock, on a thread of its own, until released.
        let locked = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let released = ReleaseFlag()
        Thread {
            try? holder.registerDatabase.write { _ in
                locked.signal()
                release.wait()
            }
        }.start()
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                locked.wait()
                continuation.resume()
            }
        }
        // Late enough that other tests keeping the cooperative threads busy for a while do not fail this one.
        DispatchQueue.global().asyncAfter(deadline: .now() + 8) {
            released.set()
            release.signal()
        }
        let register = ThreadedRegister(store)
        // More than the cooperative threads: Swift makes one per configured processor (not per processor a quota leaves);
        // fewer than the register's threads, which the other tests' engines use meanwhile.
        let waiting = ProcessInfo.processInfo.processorCount + 2
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<waiting {
                group.addTask { try await register.setCheckpoint("waiting-\(index)", to: "1") }
            }
            // Needs a cooperative thread to wake: before the release only if the waiting writes left one free.
            try await Task.sleep(for: .milliseconds(300))
            #expect(!released.isSet)
            try await group.waitForAll()
        }
        #expect(released.isSet)
        #expect(try store.checkpoint("waiting-0") == "1")
    }
}

/// Set once, read from any thread.
final class ReleaseFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
