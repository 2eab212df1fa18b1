import Foundation
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

@Test func consentChangesKeepHistoryAndWriteAudit() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email,newsletter\naino@example.fi,granted\n")
    let aino = email("aino@example.fi")
    fixture.clock.advance(by: .seconds(10))
    #expect(
        try fixture.store.recordConsent(
            email: aino, purpose: .newsletter, state: .withdrawn, source: "email",
            legalBasis: .consentWithNotice, explanation: "replied STOP", actor: "cli:tanja") == .changed)
    #expect(
        try fixture.store.recordConsent(
            email: aino, purpose: .newsletter, state: .withdrawn, source: "email",
            actor: "cli:tanja") == .unchanged)
    let contact = try #require(try fixture.store.contact(email: aino))
    let history = try fixture.store.consentHistory(contactId: contact.id)
    #expect(history.map(\.state) == [.granted, .withdrawn])
    #expect(history.last?.explanation == "replied STOP")
    #expect(history.last?.legalBasis == .consentWithNotice)
    let audit = try fixture.store.auditEntries(contactId: contact.id)
    #expect(audit.map(\.action) == ["contact.created", "consent.granted", "consent.withdrawn"])
    #expect(audit.last?.actor == "cli:tanja")
    #expect(audit.last?.purpose == "newsletter")
    #expect(audit.last?.at == fixture.clock.now)
}

@Test func sameInstantGrantAndWithdrawalLeavesWithdrawn() throws {
    let fixture = try StoreFixture()
    let at = "2025-06-02T10:11:12Z"
    _ = try fixture.importCSV("email,newsletter,consentedAt\naino@example.fi,withdrawn,\(at)\n")
    _ = try fixture.importCSV("email,newsletter,consentedAt,consentSource\naino@example.fi,granted,\(at),event\n")
    let contact = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    #expect(try fixture.store.consents(contactId: contact.id).first?.state == .withdrawn)
}

@Test func optOutIsLiftedOnlyByExplicitReConsent() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email\naino@example.fi\n")
    let aino = email("aino@example.fi")
    #expect(
        try fixture.store.setSuppression(.optedOutOfAll, active: true, email: aino, reason: "asked", actor: "t")
            == .changed)
    #expect(throws: StoreError.self) {
        try fixture.store.setSuppression(.optedOutOfAll, active: false, email: aino, reason: nil, actor: "t")
    }
    #expect(throws: StoreError.self) {
        try fixture.store.recordConsent(
            email: aino, purpose: .newsletter, state: .granted, source: "web form", actor: "t")
    }
    fixture.clock.advance(by: .seconds(5))
    #expect(
        try fixture.store.recordConsent(
            email: aino, purpose: .newsletter, state: .granted, source: "web form",
            liftingOptOut: true, actor: "t") == .changed)
    let contact = try #require(try fixture.store.contact(email: aino))
    let optOut = try #require(try fixture.store.suppressions(contactId: contact.id).first)
    #expect(!optOut.isActive)
    #expect(optOut.reason == "re-consent: web form")
    #expect(
        try fixture.store.auditEntries(contactId: contact.id).map(\.action).contains("suppression.optedOutOfAll.lifted")
    )
}

@Test func restrictionCanBeSetAndLifted() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email\naino@example.fi\n")
    let aino = email("aino@example.fi")
    #expect(
        try fixture.store.setSuppression(
            .processingRestricted, active: true, email: aino, reason: "disputed accuracy", actor: "t") == .changed)
    #expect(
        try fixture.store.setSuppression(.processingRestricted, active: true, email: aino, reason: "again", actor: "t")
            == .unchanged)
    #expect(
        try fixture.store.setSuppression(
            .processingRestricted, active: false, email: aino, reason: "resolved", actor: "t") == .changed)
}

@Test func editsOfUnknownOrErasedSubjectsSaySo() throws {
    let fixture = try StoreFixture()
    let nobody = email("nobody@example.fi")
    #expect(throws: StoreError.subjectNotFound()) {
        try fixture.store.recordConsent(email: nobody, purpose: .blog, state: .granted, source: "x", actor: "t")
    }
    try fixture.store.eraseLocally(email: nobody, requestId: "r", actor: "t")
    #expect(throws: StoreError.subjectErased()) {
        try fixture.store.setSuppression(.processingRestricted, active: true, email: nobody, reason: nil, actor: "t")
    }
    #expect(throws: StoreError.subjectErased()) {
        try fixture.store.saveContact(Contact(email: nobody, createdAt: fixture.clock.now), actor: "t")
    }
}

@Test func exportHoldsEverythingAboutTheSubject() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV(
        "email,firstName,city,newsletter,blog,optedOutOfAll\naino@example.fi,Aino,Oulu,granted,withdrawn,false\n")
    let aino = email("aino@example.fi")
    _ = try fixture.store.setSuppression(.processingRestricted, active: true, email: aino, reason: "asked", actor: "t")
    let export = try fixture.store.export(email: aino)
    #expect(
        export.contact.fields == ["email": "aino@example.fi", "firstName": "Aino", "city": "Oulu", "source": "import"])
    #expect(Set(export.contact.fieldStamps.keys) == ["email", "firstName", "city", "source"])
    #expect(export.consents.map(\.purpose) == [.blog, .newsletter])
    #expect(export.consentHistory.count == 2)
    #expect(export.suppressions.map(\.kind) == [.processingRestricted])
    #expect(export.auditLog.count == 4)
    let json = try JSONSerialization.jsonObject(with: export.jsonData()) as? [String: Any]
    #expect(
        Set(json?.keys.map { $0 } ?? []) == [
            "exportedAt", "contact", "consents", "consentHistory", "suppressions", "auditLog", "pendingCRMChanges",
        ])
}

@Test func localErasureLeavesNoPersonalDataInTheStore() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email,firstName,newsletter\nvery.unique.person@example.fi,Zebulon,granted\n")
    let subject = email("very.unique.person@example.fi")
    _ = try fixture.store.recordConsent(
        email: subject, purpose: .newsletter, state: .withdrawn, source: "email", actor: "t")
    let id = try #require(try fixture.store.contact(email: subject)).id
    #expect(try fixture.store.eraseLocally(email: subject, requestId: "req-9", actor: "t"))
    #expect(try fixture.store.contact(email: subject) == nil)
    #expect(try fixture.store.auditEntries(contactId: id).isEmpty)
    #expect(try fixture.store.tombstones().map(\.requestId) == ["req-9"])
}
