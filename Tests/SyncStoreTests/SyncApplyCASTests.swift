import Foundation
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

/// A sync's local writes are compare-and-set on each contact's version: an edit command that ran since the
/// plan (edit commands never wait for a sync) is never overwritten, and one edited or erased contact never
/// rolls back the others of the batch.
@Test func syncUpdatesLeaveAContactEditedOrErasedSincePlanningUntouchedAndApplyTheOthers() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV(
        "email,city,newsletter\naino@example.fi,Oulu,granted\nbo@example.fi,Oulu,granted\ncid@example.fi,Oulu,granted\n"
    )
    let planned = Dictionary(
        uniqueKeysWithValues: try fixture.store.localStates(
            crmIds: [], emails: ["aino@example.fi", "bo@example.fi", "cid@example.fi"].map(email)
        ).map { ($0.contact.email.normalized, $0) })
    // The sync planned all three; then an operator edits aino and erases cid.
    fixture.clock.advance(by: .seconds(60))
    _ = try fixture.importCSV("email,city\naino@example.fi,Espoo\n")
    try fixture.store.eraseLocally(email: email("cid@example.fi"), requestId: "r1", actor: "t")

    func update(_ address: String) throws -> LocalSyncUpdate {
        let state = try #require(planned[address])
        var update = LocalSyncUpdate(contactId: state.contact.id)
        var contact = state.contact
        try contact.set(.city, to: "Turku", stamp: FieldStamp(at: fixture.clock.now, origin: .crm))
        update.contact = contact
        update.consentEvents = [
            ConsentEvent(
                contactId: state.contact.id, purpose: .newsletter, state: .withdrawn, source: "crm",
                occurredAt: fixture.clock.now, origin: .crm)
        ]
        update.suppressionChanges = [(.optedOutOfAll, true, "opted out in the CRM", fixture.clock.now)]
        update.base = [.field(.city): "Turku", .consent(.newsletter): "withdrawn", .optedOutOfAll: "true"]
        update.syncedVersion = state.localVersion
        update.expectedLocalVersion = state.localVersion
        return update
    }
    let result = try fixture.store.applySyncUpdates(
        [try update("aino@example.fi"), try update("bo@example.fi"), try update("cid@example.fi")], actor: "sync")

    let aino = try #require(planned["aino@example.fi"]).contact.id
    let bo = try #require(planned["bo@example.fi"]).contact.id
    #expect(result.outcome(of: aino) == .edited)
    #expect(result.outcome(of: bo) == .applied)
    #expect(result.outcome(of: try #require(planned["cid@example.fi"]).contact.id) == .erased)
    let states = Dictionary(
        uniqueKeysWithValues: try fixture.store.localStates(
            crmIds: [], emails: ["aino@example.fi", "bo@example.fi", "cid@example.fi"].map(email)
        ).map { ($0.contact.id, $0) })
    // Aino: her edit stands; nothing of the update (values, consent, opt-out, base, synced version) was written.
    let ainoState = try #require(states[aino])
    #expect(ainoState.contact.city == "Espoo")
    #expect(ainoState.consents[.newsletter]?.state == .granted)
    #expect(!ainoState.isOptedOut)
    #expect(ainoState.base.isEmpty)
    #expect(ainoState.isDirty)
    // Bo: applied in full.
    let boState = try #require(states[bo])
    #expect(boState.contact.city == "Turku")
    #expect(boState.consents[.newsletter]?.state == .withdrawn)
    #expect(boState.isOptedOut)
    #expect(boState.base[.field(.city)] == .some("Turku"))
    #expect(!boState.isDirty)
    // Cid stays erased: not re-created by the update.
    #expect(states.count == 2)
    #expect(try fixture.store.contact(email: email("cid@example.fi")) == nil)
}

/// Immediately before a CRM write the sync asks which of its contacts were erased or edited since planning.
@Test func holdsNameTheContactsErasedOrEditedSincePlanning() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email,city\naino@example.fi,Oulu\nbo@example.fi,Oulu\ncid@example.fi,Oulu\n")
    let states = try fixture.store.localStates(
        crmIds: [], emails: ["aino@example.fi", "bo@example.fi", "cid@example.fi"].map(email))
    let subjects = states.map {
        PlannedSubject(contactId: $0.contact.id, email: $0.contact.email, crmId: nil, localVersion: $0.localVersion)
    }
    _ = try fixture.importCSV("email,city\naino@example.fi,Espoo\n")
    try fixture.store.eraseLocally(email: email("cid@example.fi"), requestId: "r1", actor: "t")
    let holds = try fixture.store.holds(for: subjects)
    let byEmail = Dictionary(uniqueKeysWithValues: states.map { ($0.contact.email.normalized, $0.contact.id) })
    #expect(holds[byEmail["aino@example.fi"]!] == .edited)
    #expect(holds[byEmail["bo@example.fi"]!] == nil)
    #expect(holds[byEmail["cid@example.fi"]!] == .erased)
}
