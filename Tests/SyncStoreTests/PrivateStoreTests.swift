import Foundation
import GRDB
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

/// The register's files are owner-only, and a store opened for a dry run cannot be written.
@Suite struct PrivateStoreTests {
    @Test func theStoreAndItsWriteAheadFilesAreOwnerOnlyWhateverTheUmask() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
        for suffix in ["", "-wal", "-shm"] {
            var info = stat()
            #expect(stat(fixture.path + suffix, &info) == 0, "no \(suffix) file")
            #expect(info.st_mode & 0o777 == 0o600, "\(suffix): \(String(info.st_mode & 0o777, radix: 8))")
        }
    }

    @Test func aStoreOpenedForADryRunRefusesEveryWrite() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
        let readOnly = try SyncStore(path: fixture.path, existingOnly: true)
        #expect(try readOnly.contact(email: email("aino@example.fi"))?.firstName == "Aino")
        let batch = try ImportFileReader(purposes: Purpose.standard).read(
            Data("email,firstName\neino@example.fi,Eino\n".utf8), format: .csv)
        #expect(throws: (any Error).self) { try readOnly.importContacts(batch) }
        #expect(throws: (any Error).self) {
            try readOnly.recordConsent(
                email: email("aino@example.fi"), purpose: .newsletter, state: .granted, source: "t", actor: "t")
        }
        #expect(try fixture.store.contact(email: email("eino@example.fi")) == nil)
    }

    @Test func aDryRunGivesAStoreWithoutASubjectKeyNone() throws {
        let fixture = try StoreFixture()
        try fixture.store.database.write { db in try db.execute(sql: "DELETE FROM metadata WHERE key = 'subjectKey'") }
        _ = try SyncStore(path: fixture.path, existingOnly: true)
        let key = try fixture.store.database.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM metadata WHERE key = 'subjectKey'")
        }
        #expect(key == nil)
    }
}
