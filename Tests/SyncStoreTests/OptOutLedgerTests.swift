import Foundation
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

@Test func optOutWithdrawsEveryPurposeAndALiftGrantsOnlyTheNamedOne() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email,newsletter,marketingEmail,blog\naino@example.fi,granted,granted,withdrawn\n")
    let aino = email("aino@example.fi")
    let id = try #require(try fixture.store.contact(email: aino)).id
    fixture.clock.advance(by: .seconds(60))
    #expect(
        try fixture.store.setSuppression(.optedOutOfAll, active: true, email: aino, reason: "asked", actor: "t")
            == .changed)
    // Granted, withdrawn before or never decided: each is withdrawn by the opt-out, as of the opt-out.
    let optedOutAt = fixture.clock.now
    let afterOptOut = try fixture.store.consents(contactId: id)
    #expect(Set(afterOptOut.map(\.purpose)) == Set(Purpose.standard))
    #expect(afterOptOut.allSatisfy { $0.state == .withdrawn && $0.occurredAt == optedOutAt })
    fixture.clock.advance(by: .seconds(60))
    let outcome = try fixture.store.recordConsent(
        email: aino, purpose: .marketingEmail, state: .granted, source: "web form", liftingOptOut: true, actor: "t")
    #expect(outcome == .changed)
    let states = Dictionary(
        uniqueKeysWithValues: try fixture.store.consents(contactId: id).map { ($0.purpose, $0.state) })
    #expect(
        states == [
            .newsletter: .withdrawn, .marketingEmail: .granted, .eventInvitations: .withdrawn, .blog: .withdrawn,
        ])
}

@Test func liftingGrantOverAPurposeAlreadyGrantedRecordsItsOwnEvent() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email,newsletter,consentSource\naino@example.fi,granted,web form\n")
    let aino = email("aino@example.fi")
    let id = try #require(try fixture.store.contact(email: aino)).id
    fixture.clock.advance(by: .seconds(60))
    // An opt-out from the CRM, then a grant that reached the store during it (as earlier versions let one):
    // the purpose is current granted, from the same source, while opted out.
    var optOut = LocalSyncUpdate(contactId: id)
    optOut.suppressionChanges = [(.optedOutOfAll, true, "opted out in the CRM", fixture.clock.now)]
    try fixture.store.applySyncUpdates([optOut], actor: "sync")
    fixture.clock.advance(by: .seconds(60))
    var grant = LocalSyncUpdate(contactId: id)
    grant.consentEvents = [
        ConsentEvent(
            contactId: id, purpose: .newsletter, state: .granted, source: "web form", occurredAt: fixture.clock.now,
            origin: .crm)
    ]
    try fixture.store.applySyncUpdates([grant], actor: "sync")
    #expect(try fixture.store.consents(contactId: id).first { $0.purpose == .newsletter }?.state == .granted)
    fixture.clock.advance(by: .seconds(60))
    let liftedAt = fixture.clock.now
    let outcome = try fixture.store.recordConsent(
        email: aino, purpose: .newsletter, state: .granted, source: "web form", liftingOptOut: true, actor: "t")
    #expect(outcome == .changed)
    let current = try #require(try fixture.store.consents(contactId: id).first { $0.purpose == .newsletter })
    #expect(current.state == .granted && current.occurredAt == liftedAt && current.origin == .local)
}

@Test func importedGrantForAnOptedOutContactIsNotRecordedAndReImportChangesNothing() throws {
    let fixture = try StoreFixture()
    let csv = "email,newsletter,optedOutOfAll\naino@example.fi,granted,true\n"
    _ = try fixture.importCSV(csv)
    let aino = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    #expect(try fixture.store.consents(contactId: aino.id).allSatisfy { $0.state != .granted })
    fixture.clock.advance(by: .seconds(60))
    let again = try fixture.importCSV(csv)
    #expect(again.rejections.isEmpty && again.unchanged == 1 && again.consentEvents == 0)
}
