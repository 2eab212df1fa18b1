import Foundation
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

private let header = "email,firstName,lastName,city,newsletter,marketingEmail"

@Test func mixedGoodAndBadRowsImportTheGoodOnesWithLineNumbers() throws {
    let fixture = try StoreFixture()
    let summary = try fixture.importCSV(
        """
        \(header)
        aino@example.fi,Aino,Laine,Oulu,granted,withdrawn
        bad@,Bad,Row,,,
        eino@example.fi,Eino,Korhonen,,granted,
        helmi@example.fi,Helmi,,,perhaps,
        """)
    #expect(summary.created == 2)
    #expect(summary.rejections.map(\.line) == [3, 5])
    #expect(summary.consentEvents == 3)
    #expect(try fixture.store.contactCount() == 2)
    let aino = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    #expect(aino.city == "Oulu")
    #expect(aino.source == .import)
    #expect(aino.stamps[.city]?.origin == .local)
    let consents = try fixture.store.consents(contactId: aino.id)
    #expect(consents.map(\.state) == [.withdrawn, .granted])  // marketingEmail, newsletter
}

@Test func reImportingTheSameFileChangesNothing() throws {
    let fixture = try StoreFixture()
    let csv = "\(header)\naino@example.fi,Aino,Laine,Oulu,granted,\neino@example.fi,Eino,,,withdrawn,granted\n"
    _ = try fixture.importCSV(csv)
    let before = try fixture.store.export(email: email("aino@example.fi"))
    let auditBefore = try fixture.store.recentAuditEntries(limit: 1000).count
    fixture.clock.advance(by: .seconds(3600))
    let again = try fixture.importCSV(csv)
    #expect(again.created == 0 && again.updated == 0 && again.unchanged == 2 && again.consentEvents == 0)
    let after = try fixture.store.export(email: email("aino@example.fi"))
    #expect(after.contact == before.contact)
    #expect(after.consentHistory == before.consentHistory)
    #expect(try fixture.store.recentAuditEntries(limit: 1000).count == auditBefore)
}

@Test func changedRowUpdatesOnlyItsChangedFields() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("\(header)\naino@example.fi,Aino,Laine,Oulu,,\n")
    let first = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    fixture.clock.advance(by: .seconds(60))
    let summary = try fixture.importCSV("\(header)\naino@example.fi,Aino,Laine,Tampere,,\n")
    #expect(summary.updated == 1)
    let second = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    #expect(second.city == "Tampere")
    #expect(second.stamps[.city]!.at > first.stamps[.city]!.at)
    #expect(second.stamps[.firstName] == first.stamps[.firstName])
    // An empty cell leaves the stored value alone.
    _ = try fixture.importCSV("\(header)\naino@example.fi,,,,,\n")
    #expect(try fixture.store.contact(email: email("aino@example.fi"))?.lastName == "Laine")
}

@Test func allOrNothingImportsNothingWhenARowIsBad() throws {
    let fixture = try StoreFixture()
    let summary = try fixture.importCSV("\(header)\naino@example.fi,Aino,,,,\nbad,,,,,\n", allOrNothing: true)
    #expect(!summary.committed)
    #expect(summary.created == 0)
    #expect(summary.rejections.map(\.line) == [3])
    #expect(try fixture.store.contactCount() == 0)
}

@Test func allOrNothingRollsBackWhenTheStoreRefusesARow() throws {
    let fixture = try StoreFixture()
    try fixture.store.eraseLocally(email: email("gone@example.fi"), requestId: "r1", actor: "test")
    let summary = try fixture.importCSV(
        "\(header)\naino@example.fi,Aino,,,,\ngone@example.fi,Gone,,,,\n", allOrNothing: true)
    #expect(!summary.committed)
    #expect(summary.rejections.map(\.line) == [3])
    #expect(try fixture.store.contactCount() == 0)
}

@Test func importOfAnErasedSubjectIsRefusedWithoutDetail() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("\(header)\ngone@example.fi,Gone,Person,,granted,\n")
    #expect(try fixture.store.eraseLocally(email: email("gone@example.fi"), requestId: "req-1", actor: "test"))
    let summary = try fixture.importCSV("\(header)\nGONE@example.fi,Gone,Person,,granted,\naino@example.fi,Aino,,,,\n")
    #expect(summary.created == 1)
    #expect(summary.rejections == [ImportRejection(line: 2, reason: "that subject has been erased; import refused")])
    #expect(try fixture.store.contact(email: email("gone@example.fi")) == nil)
    #expect(try fixture.store.isErased(email("gone@example.fi")))
}

@Test func oldFileCannotReGrantAfterALaterWithdrawal() throws {
    let fixture = try StoreFixture()
    let csv = "\(header)\naino@example.fi,Aino,,,granted,\n"
    _ = try fixture.importCSV(csv)
    fixture.clock.advance(by: .seconds(60))
    #expect(
        try fixture.store.recordConsent(
            email: email("aino@example.fi"), purpose: .newsletter, state: .withdrawn, source: "phone", actor: "test")
            == .changed)
    fixture.clock.advance(by: .seconds(60))
    let summary = try fixture.importCSV(csv)
    #expect(summary.rejections.map(\.line) == [2])
    let aino = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    #expect(try fixture.store.consents(contactId: aino.id).first?.state == .withdrawn)
    // A grant dated after the withdrawal is a real re-consent and is recorded.
    let later = fixture.clock.now.addingTimeInterval(10).formatted(.iso8601)
    let regrant = try fixture.importCSV("email,newsletter,consentedAt\naino@example.fi,granted,\(later)\n")
    #expect(regrant.rejections.isEmpty && regrant.consentEvents == 1)
    #expect(try fixture.store.consents(contactId: aino.id).first?.state == .granted)
}

@Test func importedOptOutIsRecordedAndIdempotent() throws {
    let fixture = try StoreFixture()
    let csv = "email,optedOutOfAll\naino@example.fi,true\n"
    _ = try fixture.importCSV(csv)
    let again = try fixture.importCSV(csv)
    #expect(again.unchanged == 1)
    let aino = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    let suppressions = try fixture.store.suppressions(contactId: aino.id)
    #expect(suppressions.map(\.kind) == [.optedOutOfAll])
    #expect(suppressions.first?.isActive == true)
}

@Suite struct FutureTimesImportTests {
    /// A typo such as `2099-01-01` would lock a grant in against every later withdrawal, or exempt a contact from
    /// retention for ever: such a row is refused by line and column, beyond five minutes of clock difference.
    @Test(arguments: ["consentedAt", "lastActivityAt"])
    func aRowDatedInTheFutureIsRefusedNamingTheColumn(column: String) throws {
        let store = try SyncStore.inMemory()
        let soon = Date().addingTimeInterval(60).formatted(.iso8601)
        let csv = "email,newsletter,\(column)\nok@example.fi,granted,\(soon)\ntypo@example.fi,granted,2099-01-01\n"
        let batch = try ImportFileReader(purposes: Purpose.standard).read(Data(csv.utf8), format: .csv)
        let summary = try store.importContacts(batch)
        #expect(summary.created == 1)
        #expect(summary.rejections.map(\.line) == [3])
        #expect(summary.rejections.first?.reason.contains("\(column) is in the future") == true)
        #expect(try store.contact(email: EmailAddress("typo@example.fi")) == nil)
    }
}

/// A streamed import (issue 23) writes one transaction per batch: a run stopped after two batches keeps them, and
/// importing the file again finishes it without duplicating anything.
@Test func aStreamedImportStoppedMidwayKeepsItsBatchesAndARerunFinishesIt() throws {
    struct Stopped: Error {}
    let fixture = try StoreFixture()
    let csv = "email,firstName\n" + (0..<7).map { "p\($0)@example.fi,P\($0)\n" }.joined()
    let reader = ImportFileReader(purposes: Purpose.standard)
    func stream(stopAfter batches: Int?) -> ((ImportBatch) throws -> Void) throws -> Void {
        { each in
            var sent = 0
            var whole: [UInt8]? = Array(csv.utf8)
            try reader.read(
                chunks: {
                    defer { whole = nil }
                    return whole
                }, format: .csv, batchSize: 2
            ) { batch in
                if let batches, sent == batches { throw Stopped() }
                try each(batch)
                sent += 1
            }
        }
    }
    #expect(throws: Stopped.self) { try fixture.store.importContacts(read: stream(stopAfter: 2)) }
    #expect(try fixture.store.contactCount() == 4)
    let rerun = try fixture.store.importContacts(read: stream(stopAfter: nil))
    #expect(rerun.created == 3)
    #expect(rerun.unchanged == 4)
    #expect(try fixture.store.contactCount() == 7)
}

/// With --all-or-nothing a streamed file is one transaction: a row rejected in a later batch leaves nothing.
@Test func aStreamedAllOrNothingImportWritesNothingWhenALaterBatchHasABadRow() throws {
    let fixture = try StoreFixture()
    let csv = "email,firstName\n" + (0..<5).map { "p\($0)@example.fi,P\($0)\n" }.joined() + "bad@,B\n"
    let reader = ImportFileReader(purposes: Purpose.standard)
    let summary = try fixture.store.importContacts(allOrNothing: true) { each in
        var whole: [UInt8]? = Array(csv.utf8)
        try reader.read(
            chunks: {
                defer { whole = nil }
                return whole
            }, format: .csv, batchSize: 2, each: each)
    }
    #expect(!summary.committed)
    #expect(summary.created == 0)
    #expect(summary.rejections.map(\.line) == [7])
    #expect(try fixture.store.contactCount() == 0)
}
