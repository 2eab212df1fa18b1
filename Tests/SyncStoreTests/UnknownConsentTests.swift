import Foundation
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

@Test(arguments: [ConsentState.withdrawn, .granted])
func importSayingUnknownNeverOverridesARecordedDecision(recorded: ConsentState) throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email,newsletter\naino@example.fi,\(recorded.rawValue)\n")
    fixture.clock.advance(by: .seconds(60))
    let summary = try fixture.importCSV("email,newsletter\naino@example.fi,unknown\n")
    #expect(summary.unchanged == 1 && summary.consentEvents == 0)
    let aino = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    #expect(try fixture.store.consents(contactId: aino.id).map(\.state) == [recorded])
    #expect(try fixture.store.consentHistory(contactId: aino.id).map(\.state) == [recorded])
}

@Test func ledgerNeverLetsUnknownSupersedeADecision() {
    let at = Date(timeIntervalSince1970: 1_000)
    for decided in [ConsentState.granted, .withdrawn] {
        let current = ConsentEvent(contactId: "c", purpose: .newsletter, state: decided, source: "form", occurredAt: at)
        let later = ConsentEvent(
            contactId: "c", purpose: .newsletter, state: .unknown, source: "import",
            occurredAt: at.addingTimeInterval(60))
        #expect(!ConsentLedger.supersedes(later, current), "\(decided)")
    }
}

/// A decision always replaces a current `unknown`, also one dated after it: `unknown` is never a decision. Before, an
/// older CRM grant recorded over a newer `unknown` left the purpose unknown, and every sync took the grant again.
@Test func aDecisionOlderThanACurrentUnknownReplacesIt() {
    let at = Date(timeIntervalSince1970: 1_000)
    for decided in [ConsentState.granted, .withdrawn] {
        let current = ConsentEvent(
            contactId: "c", purpose: .newsletter, state: .unknown, source: "import", occurredAt: at)
        let older = ConsentEvent(
            contactId: "c", purpose: .newsletter, state: decided, source: "crm", occurredAt: at.addingTimeInterval(-60),
            origin: .crm)
        #expect(ConsentLedger.supersedes(older, current), "\(decided)")
    }
}

/// A decision already in the history that the current state does not reflect (the current row went missing) is
/// applied when it is recorded again, instead of being ignored as a replay: a sync offering it again every run would
/// never settle (the checker saw such a loop once, seed 9307463, not reproduced).
@Test func aReplayedDecisionTheCurrentStateLostIsAppliedAgain() throws {
    let fixture = try StoreFixture()
    _ = try fixture.importCSV("email\naino@example.fi\n")
    let aino = try #require(try fixture.store.contact(email: email("aino@example.fi")))
    let event = ConsentEvent(
        contactId: aino.id, purpose: .blog, state: .withdrawn, source: "crm",
        occurredAt: Date(timeIntervalSince1970: 1_000),
        origin: .crm)
    try fixture.store.database.write { db in
        #expect(try ConsentLedger.record(event, actor: "t", recordedAt: Date(), in: db))
        try db.execute(sql: "DELETE FROM consent WHERE contactId = ?", arguments: [aino.id])
        #expect(try ConsentLedger.record(event, actor: "t", recordedAt: Date(), in: db))
        // A replay of what the current state already says changes nothing.
        #expect(try !ConsentLedger.record(event, actor: "t", recordedAt: Date(), in: db))
    }
    #expect(try fixture.store.consents(contactId: aino.id).map(\.state) == [.withdrawn])
    #expect(try fixture.store.consentHistory(contactId: aino.id).count == 1)
}
