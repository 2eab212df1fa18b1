import Foundation
import SyncCore
import SyncModel
import SyncTesting
import Testing

@testable import SyncStore

/// Erasure outlives the store: a restored backup cannot undo an erasure (issue 19, finding 1).
@Suite struct ErasureJournalTests {
    /// The store file as an administrator's backup would copy it (the database, checkpointed whole).
    static func backUp(_ store: SyncStore, to path: String) throws {
        let copy = try SyncStore(path: path, erasureJournal: path + ".unused-journal")
        try store.sqliteWriter!.backup(to: copy.sqliteWriter!)
    }

    /// Puts `backup` back in the place of the store at `path` (its write-ahead files removed, as a restore does).
    static func restore(_ backup: String, over path: String) throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        try FileManager.default.copyItem(atPath: backup, toPath: path)
    }

    @Test func anErasureMadeAfterTheBackupIsAppliedAgainWhenTheBackupIsPutBack() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV(
            "email,firstName,newsletter\nerased@example.fi,Zebulon,granted\nkept@example.fi,K,granted\n")
        let backup = fixture.folder.appendingPathComponent("nightly.sqlite").path
        do {
            let store = try fixture.reopen()
            try Self.backUp(store, to: backup)
        }
        _ = try fixture.store.recordErasureRequest(email: email("erased@example.fi"), requestId: "req-1", reason: nil)
        try fixture.store.eraseLocally(requestId: "req-1")
        #expect(try fixture.store.contact(email: email("erased@example.fi")) == nil)

        try Self.restore(backup, over: fixture.path)
        let restored = try fixture.reopen()
        // Before anything else: the contact is erased again, its request and tombstone are back.
        #expect(try restored.contact(email: email("erased@example.fi")) == nil)
        #expect(try restored.isErased(email("erased@example.fi")))
        #expect(try restored.erasureRequests().map(\.id) == ["req-1"])
        #expect(try restored.contact(email: email("kept@example.fi")) != nil)
        #expect(restored.journalRestored > 0)
        // The CRM side is the next run's: the request waits in the outbox with the subject's address.
        #expect(try restored.pendingErasures().map(\.email) == [email("erased@example.fi")])
        // A second open finds nothing missing.
        #expect(try fixture.reopen().journalRestored == 0)
    }

    @Test func anErasureOfASubjectTheBackupNeverHeldComesBackAsTombstonesAndItsRequest() throws {
        let fixture = try StoreFixture()
        let backup = fixture.folder.appendingPathComponent("nightly.sqlite").path
        try Self.backUp(fixture.reopen(), to: backup)
        _ = try fixture.importCSV("email,firstName\nlater@example.fi,L\n")
        _ = try fixture.store.recordErasureRequest(email: email("later@example.fi"), requestId: "req-2", reason: nil)
        try fixture.store.eraseLocally(requestId: "req-2")
        try fixture.store.updateErasure("req-2", state: .verified)
        try fixture.store.addCRMRecords(["crm-77"], toErasureOf: email("later@example.fi"), requestId: "req-2")
        try fixture.store.tombstoneStaleCopy(crmId: "crm-78")
        try Self.restore(backup, over: fixture.path)
        let restored = try fixture.reopen()
        #expect(try restored.isErased(email("later@example.fi")))
        #expect(try restored.erasedCRMIds(among: ["crm-78", "crm-1"]) == ["crm-78"])
        let requests = try restored.erasureRequests()
        #expect(requests.map(\.id) == ["req-2"])
        #expect(requests.first?.note?.contains("erasure journal") == true)
        // An import cannot bring the subject back.
        let summary = try restored.importContacts(
            ImportFileReader(purposes: Purpose.standard).read(Data("email\nlater@example.fi\n".utf8), format: .csv))
        #expect(summary.created == 0)
    }

    @Test func aMissingJournalIsRefusedUntilAnAdministratorStartsANewOne() throws {
        let fixture = try StoreFixture()
        let journal = SyncStore.defaultErasureJournal(forStore: fixture.path)
        #expect(FileManager.default.fileExists(atPath: journal))
        #expect(PrivateFiles.mode(ofPath: journal) == 0o600)
        try FileManager.default.removeItem(atPath: journal)
        #expect(throws: StoreError.self) { try fixture.reopen() }
        #expect(throws: StoreError.self) { try SyncStore(path: fixture.path, existingOnly: true) }
        #expect(try SyncStore(path: fixture.path, startNewJournal: true).journalRestored == 0)
        #expect(FileManager.default.fileExists(atPath: journal))
        _ = try fixture.reopen()
    }

    @Test func anotherRegistersJournalIsRefused() throws {
        let one = try StoreFixture()
        let other = try StoreFixture()
        #expect(throws: StoreError.self) {
            try SyncStore(path: one.path, erasureJournal: SyncStore.defaultErasureJournal(forStore: other.path))
        }
    }

    @Test func theJournalHoldsNoPersonalData() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV("email,firstName\nvery.unique.subject@example.fi,Zebulon\n")
        let contact = try #require(try fixture.store.contact(email: email("very.unique.subject@example.fi")))
        _ = try fixture.store.recordErasureRequest(
            email: email("very.unique.subject@example.fi"), requestId: "req-3", reason: "asked by Zebulon")
        try fixture.store.eraseLocally(requestId: "req-3")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: SyncStore.defaultErasureJournal(forStore: fixture.path)))
        for secret in ["very.unique.subject", "Zebulon", contact.id] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret)")
        }
        #expect(bytes.range(of: Data("req-3".utf8)) != nil)
    }

    /// A journal whose last line was torn by a crash mid-append still opens, and the next append goes on.
    @Test func aTornLastLineIsIgnored() throws {
        let fixture = try StoreFixture()
        let journal = SyncStore.defaultErasureJournal(forStore: fixture.path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: journal))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"kind":"tombstone","ha"#.utf8))
        try handle.close()
        let reopened = try fixture.reopen()
        _ = try reopened.recordErasureRequest(email: email("x@example.fi"), requestId: "req-4", reason: nil)
        try reopened.eraseLocally(requestId: "req-4")
        let lines = try ErasureJournal.read(journal)
        #expect(lines.contains { $0.kind == "request" && $0.id == "req-4" })
    }
}

extension ErasureJournalTests {
    /// A CRM user gave B's record A's address; erasing A (never linked) found that record by address and took it.
    /// Putting back a backup from before: A, holding the erased address with no link, is the subject, not B, whose
    /// own record it was (adversarial review; failed before: the journal erased B).
    @Test func aRestoreErasesTheUnlinkedContactHoldingTheAddressNotTheOwnerOfTheRecordFoundByIt() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV("email,firstName\na1@example.fi,A\nb1@example.fi,B\n")
        let b = try #require(try fixture.store.contact(email: email("b1@example.fi")))
        var link = LocalSyncUpdate(contactId: b.id)
        link.crmId = .some("rb")
        _ = try fixture.store.applySyncUpdates([link], actor: "sync")
        let backup = fixture.folder.appendingPathComponent("nightly.sqlite").path
        try Self.backUp(fixture.reopen(), to: backup)
        _ = try fixture.store.recordErasureRequest(email: email("a1@example.fi"), requestId: "r-a", reason: nil)
        try fixture.store.eraseLocally(requestId: "r-a")
        try fixture.store.addCRMRecords(["rb"], toErasureOf: email("a1@example.fi"), requestId: "r-a")

        try Self.restore(backup, over: fixture.path)
        let restored = try fixture.reopen()
        #expect(try restored.contact(email: email("a1@example.fi")) == nil)
        #expect(try restored.contact(email: email("b1@example.fi"))?.id == b.id)
        #expect(try restored.erasureRequests().map(\.subjectHash) == [restored.subjectHash(of: email("a1@example.fi"))])
    }

    /// Seed 10409676: a CRM user merged q's record into p's, so in the backup q's contact is linked to p's record as
    /// its survivor. p was erased (its record tombstoned, q released), then the backup put back: the journal took
    /// whichever contact linked to p's record came first, so it erased q under p's request (and a second erasure of
    /// p on the same day was refused: the request id named another subject). The contact holding p's address, whose
    /// own record it is, is p. Contact ids are random: the fixture is made until q's sorts first, as it did there.
    @Test func aRestoreErasesTheSubjectNotAnotherPersonMergedIntoItsRecord() throws {
        for _ in 0..<64 {
            let fixture = try StoreFixture()
            _ = try fixture.importCSV("email,firstName\np@example.fi,P\nq@example.fi,Q\n")
            let p = try #require(try fixture.store.contact(email: email("p@example.fi")))
            let q = try #require(try fixture.store.contact(email: email("q@example.fi")))
            guard q.id < p.id else { continue }
            var linkP = LocalSyncUpdate(contactId: p.id)
            linkP.crmId = .some("crm-p")
            var mergeQ = LocalSyncUpdate(contactId: q.id)
            mergeQ.crmId = .some("crm-q")
            mergeQ.mergedIntoCrmId = .some("crm-p")
            _ = try fixture.store.applySyncUpdates([linkP, mergeQ], actor: "sync")
            let backup = fixture.folder.appendingPathComponent("nightly.sqlite").path
            try Self.backUp(fixture.reopen(), to: backup)
            _ = try fixture.store.recordErasureRequest(email: email("p@example.fi"), requestId: "r-p", reason: nil)
            try fixture.store.eraseLocally(requestId: "r-p")
            try fixture.store.addCRMRecords(["crm-p"], toErasureOf: email("p@example.fi"), requestId: "r-p")
            #expect(try fixture.store.contact(email: email("q@example.fi"))?.id == q.id)

            try Self.restore(backup, over: fixture.path)
            let restored = try fixture.reopen()
            #expect(try restored.contact(email: email("p@example.fi")) == nil)
            #expect(try restored.contact(email: email("q@example.fi"))?.id == q.id)
            #expect(
                try restored.erasureRequests().map(\.subjectHash) == [restored.subjectHash(of: email("p@example.fi"))])
            return
        }
        Issue.record("no fixture in 64 had q's contact id sort before p's")
    }

    /// Review finding: after the backup, q's record moved to another address and p took q's address; q's erasure
    /// (of the address p then held) is p's. Putting the backup back erases p again, never q, who holds the address
    /// in the backup and whose record the erasure never touched.
    /// The backup held X, linked, under an address the CRM later moved X off; a new person S then came in under that
    /// address, moved on too, and was erased (the address tombstoned as S's former one). Putting the backup back must
    /// not erase X, linked to a record the erasure never named, for holding that address then.
    @Test func aRestoreDoesNotEraseALinkedContactForHoldingAFormerAddressOfTheSubject() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV("email,firstName\njane@example.fi,X\n")
        func link(_ address: String, _ crmId: String, movingTo moved: String? = nil) throws {
            var contact = try #require(try fixture.store.contact(email: email(address)))
            var update = LocalSyncUpdate(contactId: contact.id)
            update.crmId = .some(crmId)
            if let moved {
                contact.email = email(moved)
                update.contact = contact
            }
            _ = try fixture.store.applySyncUpdates([update], actor: "sync")
        }
        try link("jane@example.fi", "crm-x")
        let x = try #require(try fixture.store.contact(email: email("jane@example.fi")))
        let backup = fixture.folder.appendingPathComponent("nightly.sqlite").path
        try Self.backUp(fixture.reopen(), to: backup)
        try link("jane@example.fi", "crm-x", movingTo: "jane.old@example.fi")
        _ = try fixture.importCSV("email,firstName\njane@example.fi,S\n")
        try link("jane@example.fi", "crm-s", movingTo: "jane.new@example.fi")
        _ = try fixture.store.recordErasureRequest(email: email("jane.new@example.fi"), requestId: "r-s", reason: nil)
        try fixture.store.eraseLocally(requestId: "r-s")
        #expect(try fixture.store.isErased(email("jane@example.fi")))

        try Self.restore(backup, over: fixture.path)
        let restored = try fixture.reopen()
        #expect(try restored.contact(email: email("jane@example.fi"))?.id == x.id)
        #expect(try restored.erasedCRMIds(among: ["crm-x", "crm-s"]) == ["crm-s"])
    }

    @Test func aRestoreErasesTheSubjectTheErasureWasAboutNotWhoeverHeldTheAddressBefore() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV("email,firstName\np@example.fi,P\nq@example.fi,Q\n")
        let p = try #require(try fixture.store.contact(email: email("p@example.fi")))
        let q = try #require(try fixture.store.contact(email: email("q@example.fi")))
        func link(_ contact: Contact, _ crmId: String, email address: String? = nil) throws {
            var update = LocalSyncUpdate(contactId: contact.id)
            update.crmId = .some(crmId)
            if let address {
                var moved = try #require(try fixture.store.contact(email: email(contact.email.normalized)))
                moved.email = email(address)
                update.contact = moved
            }
            _ = try fixture.store.applySyncUpdates([update], actor: "sync")
        }
        try link(p, "crm-2")
        try link(q, "crm-1")
        let backup = fixture.folder.appendingPathComponent("nightly.sqlite").path
        try Self.backUp(fixture.reopen(), to: backup)
        try link(q, "crm-1", email: "q2@example.fi")
        try link(p, "crm-2", email: "q@example.fi")
        _ = try fixture.store.recordErasureRequest(email: email("q@example.fi"), requestId: "r-1", reason: nil)
        try fixture.store.eraseLocally(requestId: "r-1")
        #expect(try fixture.store.contact(email: email("q2@example.fi"))?.id == q.id)

        try Self.restore(backup, over: fixture.path)
        let restored = try fixture.reopen()
        #expect(try restored.contact(email: email("p@example.fi")) == nil)
        #expect(try restored.contact(email: email("q@example.fi"))?.id == q.id)
        #expect(try restored.erasedCRMIds(among: ["crm-1", "crm-2"]) == ["crm-2"])
        #expect(try restored.pendingErasures().count == 1)
        #expect(try fixture.reopen().journalRestored == 0)
    }
}

extension ErasureJournalTests {
    @Test func aDamagedLineInsideTheJournalIsRefusedByLineNumber() throws {
        let fixture = try StoreFixture()
        _ = try fixture.store.recordErasureRequest(email: email("x@example.fi"), requestId: "req-5", reason: nil)
        let journal = SyncStore.defaultErasureJournal(forStore: fixture.path)
        var text = try String(contentsOfFile: journal, encoding: .utf8)
        text = text.replacingOccurrences(of: #""kind":"request""#, with: #""kind":"request"#)
        try Data(text.utf8).write(to: URL(fileURLWithPath: journal))
        #expect {
            try fixture.reopen()
        } throws: { error in
            (error as? StoreError)?.detail.contains("damaged at line 2") == true
        }
    }
}
