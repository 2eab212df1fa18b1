import Foundation
import PostgresRegister
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// `crmsync store copy`: a SQLite register moved to PostgreSQL whole, and the sync carrying on from the copy as if
/// nothing had moved (issue 20, "Moving an existing register").
@Suite(
    .disabled(
        if: !TestPostgres.isConfigured,
        "PostgreSQL is not configured (CRMSYNC_TEST_POSTGRES_URL, PGPASSWORD): copying a register to it is not tested")
)
struct RegisterCopyTests {
    @Test func aCopiedRegisterKeepsItsLedgerTombstonesErasuresAndCheckpointsAndSyncsOnFromThem() async throws {
        let fixture = try await EngineFixture()
        let source = try SyncStore.inMemory(clock: fixture.time)
        let csv =
            "email,firstName,newsletter\naino@example.fi,Aino,granted\nbo@example.fi,Bo,granted\ncai@example.fi,Cai,granted\n"
        _ = try source.importContacts(
            try ImportFileReader(purposes: Purpose.standard).read(Data(csv.utf8), format: .csv))
        try await fixture.engine(store: source).run(SyncRunOptions())
        fixture.tick()
        // Unsynced at the copy: a withdrawal, and an erasure carried out locally whose CRM delete is still to send.
        _ = try source.recordConsent(
            email: email("bo@example.fi"), purpose: .newsletter, state: .withdrawn, source: "form", actor: "test")
        _ = try source.recordErasureRequest(email: email("cai@example.fi"), requestId: "r1", reason: "asked")
        try source.eraseLocally(requestId: "r1")
        let before = try await fixture.crmCount()

        let location = try TestPostgres.newDatabase()
        defer { try? TestPostgres.drop(location.database) }
        let target = try PostgresRegisterDatabase(location: location, logger: TestPostgres.logger)
        defer { try? target.close() }
        let planned = try RegisterCopy.plan(from: source, to: target)
        #expect(try target.appliedMigrations().isEmpty, "a dry run creates nothing")
        try target.migrate()
        let copied = try RegisterCopy.copy(from: source, to: target)
        #expect(copied == planned)
        #expect(copied.count("contact") == 2 && copied.count("tombstone") == 1 && copied.count("erasureRequest") == 1)
        #expect(throws: StoreError.self) { try RegisterCopy.copy(from: source, to: target) }

        let copy = try SyncStore.postgres(location, clock: fixture.time)
        defer { try? copy.close() }
        for address in ["aino@example.fi", "bo@example.fi"] {
            let original = try #require(try source.contact(email: email(address)))
            #expect(try copy.contact(email: email(address)) == original)
            #expect(try copy.consentHistory(contactId: original.id) == source.consentHistory(contactId: original.id))
            #expect(try copy.auditEntries(contactId: original.id) == source.auditEntries(contactId: original.id))
        }
        // The subject key came along: the tombstone still names the erased subject.
        #expect(try copy.isErased(email("cai@example.fi")))
        #expect(try copy.pendingErasures().map(\.request.id) == ["r1"])
        #expect(try copy.checkpoint("contacts.modifiedSince") == source.checkpoint("contacts.modifiedSince"))
        #expect(try copy.dirtyCount() == source.dirtyCount())
        #expect(try copy.recentRuns() == source.recentRuns())

        // The next sync, from the copy: the withdrawal goes to the CRM, the erasure is finished; nothing created twice.
        fixture.tick()
        try await fixture.engine(store: copy).run(SyncRunOptions())
        #expect(try await fixture.crmCount() == before - 1)
        #expect(try await fixture.crmStatuses("bo@example.fi").values.contains("UNSUBSCRIBED"))
        #expect(try copy.pendingErasures().isEmpty)
        #expect(try copy.dirtyCount() == 0)
        // New rows are numbered after the copied ones.
        #expect(try copy.recentRuns(limit: 1).first!.id > source.recentRuns(limit: 1).first!.id)
    }
}
