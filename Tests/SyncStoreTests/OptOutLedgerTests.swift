import Foundation
import SyncModel
import Testing

@testable import SyncStore

@Test func optOutWithdrawsEveryGrantedPurposeAndALiftGrantsOnlyTheNamedOne() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV(
        "email,newsletter,marketingEmail,eventInvitations,blog\naino@example.fi,granted,granted,granted,withdrawn\n")
    let aino = email("aino@example.fi")
    let id = try #require(try fixture.store.contact(email: aino)).id
    fixture.clock.advance(by: .seconds(60))
    #expect(
        try fixture.store.setSuppression(.optedOutOfAll, active: true, email: aino, reason: "asked", actor: "t")
            == .changed)
    #expect(try fixture.store.consents(contactId: id).allSatisfy { $0.state == .withdrawn })
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
    // The opt-out as the CRM reports it: the grant is still the purpose's current state.
    try fixture.store.applySyncUpdates(
        [
            {
                var update = LocalSyncUpdate(contactId: id)
                update.suppressionChanges = [(.optedOutOfAll, true, "opted out in the CRM", fixture.clock.now)]
                return update
            }()
        ], actor: "sync")
    fixture.clock.advance(by: .seconds(60))
    let liftedAt = fixture.clock.now
    let outcome = try fixture.store.recordConsent(
        email: aino, purpose: .newsletter, state: .granted, source: "web form", liftingOptOut: true, actor: "t")
    #expect(outcome == .changed)
    let current = try #require(try fixture.store.consents(contactId: id).first)
    #expect(current.state == .granted && current.occurredAt == liftedAt)
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
