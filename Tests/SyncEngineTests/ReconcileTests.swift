import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

@Test func reconcileFindsDriftPlantedBehindTheChangeFeed() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    fixture.configuration.sync.consistencyHorizon = .seconds(0)
    try fixture.importCSV(
        "email,firstName,city\ntampered@example.fi,T,Oulu\ndeleted@example.fi,D,Oulu\narchived@example.fi,A,Oulu\nfine@example.fi,F,Oulu\n"
    )
    try await fixture.sync()
    fixture.tick()
    // Setup: sync until the checkpoint lies after the record's last modification (normally one run), reading
    // the modification time after each run.
    var stamp: Int64 = .max
    var checkpoint: Int64 = 0
    for _ in 0..<4 where checkpoint <= stamp {
        let again = try await fixture.sync()
        #expect(again.summary.failures == 0, "\(again.failures)")
        checkpoint = try fixture.store.checkpoint("contacts.modifiedSince").flatMap(Int64.init) ?? 0
        let modified = try #require(
            try await fixture.crmContact(email: "tampered@example.fi", properties: "lastmodifieddate"))
        let text = try #require((modified["properties"] as? [String: Any])?["lastmodifieddate"] as? String)
        stamp = try #require(HubSpotTime.parse(text)).millisecondsSince1970
    }
    #expect(stamp < checkpoint, "the precondition: the record lies behind the checkpoint")
    let tampered = try #require(try fixture.local("tampered@example.fi")?.crmId)
    let archived = try #require(try fixture.local("archived@example.fi")?.crmId)
    try await fixture.mock.tamper(MockTampering(id: tampered, properties: ["city": "Nowhere"]))
    try await fixture.crm(
        "POST", "/crm/v3/objects/contacts/gdpr-delete", ["objectId": "deleted@example.fi", "idProperty": "email"])
    try await fixture.crm("DELETE", "/crm/v3/objects/contacts/\(archived)")
    _ = try await fixture.seedCRM([["email": "crm.only@example.fi"]])

    let report = try await Reconciler(
        store: fixture.store, client: fixture.client(), settings: SyncSettings(fixture.configuration)
    )
    .run()
    #expect(report.complete)
    #expect(report.fieldDrift == ["city": 1])
    #expect(report.examples["fieldDrift.city"] == ["t***@example.fi"])
    #expect(report.missingInCRM.deleted == 1)
    #expect(report.missingInCRM.archived == 1)
    #expect(report.onlyInCRM == 1)
    #expect(report.hasDrift)
    let limited = try await Reconciler(
        store: fixture.store, client: fixture.client(), settings: SyncSettings(fixture.configuration)
    )
    .run(requestBudget: 1)
    #expect(!limited.complete)
}

@Test func twelveThousandContactsChangedInOneMillisecondAreAllSynced() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    fixture.configuration.sync.consistencyHorizon = .seconds(0)
    try await fixture.sync()  // empty: sets the checkpoint, so the next run reads the change feed
    // A moment after the first run and before the next (the feed reads up to the run's start, not HubSpot's future).
    let seeded = try await fixture.mock.seed(.generated(12_000, lastModified: fixture.time.now))
    #expect(seeded.count == 12_000)
    let report = try await fixture.sync()
    #expect(report.summary.toLocal.creates == 12_000)
    #expect(try fixture.store.contactCount() == 12_000)
    let searches = try await fixture.journal().filter { $0.path.hasSuffix("/search") }
    #expect(searches.allSatisfy { $0.status == 200 })
}

/// Reconcile matches as the sync does: contacts linked to records since merged count as merges, and the
/// survivor (a new id in the mock, as in HubSpot) is neither "only in the CRM" nor deleted, which the old
/// matching, by the record's own id alone, reported.
@Test func reconcileCountsAMergeInTheCRMOnce() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    let primaryId = try await fixture.importAndLink(
        "email,firstName\nprimary@example.fi,P\nsecondary@example.fi,S\n", "primary@example.fi")
    let secondaryId = try #require(try fixture.local("secondary@example.fi")?.crmId)
    // Both links now point at merged-away ids.
    try await fixture.crm(
        "POST", "/crm/v3/objects/contacts/merge", ["primaryObjectId": secondaryId, "objectIdToMerge": primaryId])
    let report = try await Reconciler(
        store: fixture.store, client: fixture.client(), settings: SyncSettings(fixture.configuration)
    )
    .run()
    #expect(report.missingInCRM.merged == 2)
    #expect(report.missingInCRM.deleted == 0)
    #expect(report.onlyInCRM == 0)
    #expect(report.notLinked == 0)
}
