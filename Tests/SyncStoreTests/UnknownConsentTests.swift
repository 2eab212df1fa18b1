import Foundation
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
