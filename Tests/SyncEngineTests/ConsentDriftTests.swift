import Foundation
import SyncCore
import SyncEngine
import SyncModel
import Testing

@testable import SyncStore

/// `reconcile` compares consent per address, as HubSpot keeps it (issue 19).
@Suite struct ConsentDriftTests {
    @Test func aConsentThatDiffersFromTheAddressStatusIsDriftAndAnAgreedOneIsNot() async throws {
        let fixture = try await EngineFixture()
        try fixture.importCSV("email,newsletter,blog\naino@example.fi,granted,withdrawn\neino@example.fi,granted,\n")
        try await fixture.sync()
        // Later runs move the checkpoint past the statuses' times (it stays a consistency horizon behind a run).
        fixture.time.advance(by: .seconds(900))
        try await fixture.sync()
        func reconcile() async throws -> DriftReport {
            try await Reconciler(
                store: fixture.store, client: fixture.client(), settings: SyncSettings(fixture.configuration)
            ).run()
        }
        #expect(try await reconcile().consentDrift.isEmpty)
        // The register's decision changed behind the sync's back (say, a hand edit of the database).
        let id = try #require(try fixture.local("aino@example.fi")?.id)
        try await fixture.store.database.write { db in
            try db.execute(
                sql: "UPDATE consent SET state = 'withdrawn' WHERE contactId = ? AND purpose = 'newsletter'",
                arguments: [id])
        }
        let drift = try await reconcile()
        #expect(drift.consentDrift == ["newsletter": 1])
        #expect(drift.hasDrift)
    }
}
