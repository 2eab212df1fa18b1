import Foundation
import HubSpotClient
import MockHubSpot
import SyncChecking
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Synchronization
import Testing

@Suite struct TrapTests {
    @Test func runKilledBetweenTheCRMWriteAndTheCheckpointConvergesWithoutDuplicates() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV(
            "email,firstName,newsletter\naino@example.fi,Aino,granted\neino@example.fi,Eino,withdrawn\n")
        // The upsert lands, then the process "dies".
        fixture.transport = DyingTransport(afterMutations: 1, inner: fixture.crmTransport)
        await #expect(throws: DyingTransport.Killed.self) { try await fixture.sync() }
        #expect(try await fixture.crmCount() == 2)
        #expect(try fixture.store.checkpoint("contacts.modifiedSince") == nil)
        // Not confirmed: both stay dirty, which is all the next run needs (no outbox entry for pushes).
        #expect(try fixture.store.dirtyCount() == 2)

        fixture.transport = fixture.crmTransport
        let report = try await fixture.sync()
        #expect(report.summary.failures == 0, "\(report.failures)")
        #expect(try await fixture.crmCount() == 2)
        #expect(try fixture.store.contactCount() == 2)
        #expect(try fixture.store.outboxCount() == 0)
        #expect(try fixture.store.dirtyCount() == 0)
        #expect(try await fixture.crmStatuses("aino@example.fi")[7] == "SUBSCRIBED")
        #expect(try await fixture.crmStatuses("eino@example.fi")[7] == "UNSUBSCRIBED")
        let journal = try await fixture.journal().count
        try await fixture.sync()
        #expect(try await fixture.mutatingRequests(since: journal).isEmpty)
    }

    @Test func erasedSubjectStillInTheCRMIsDeletedThereAndNeverComesBack() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\ngone@example.fi,Gone\nstays@example.fi,Stays\n")
        try await fixture.sync()
        try fixture.store.eraseLocally(email: email("gone@example.fi"), requestId: "req-1", actor: "test")
        // Touch the CRM record so the change feed offers it again, like a stale copy would be.
        let id = try #require(try await fixture.crmContact(email: "gone@example.fi")?["id"] as? String)
        try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["city": "Somewhere"]])
        let report = try await fixture.sync()
        #expect(report.summary.toCRM.erasures == 1)
        #expect(try await fixture.crmContact(email: "gone@example.fi") == nil)
        #expect(try fixture.local("gone@example.fi") == nil)
        #expect(try fixture.store.outboxCount() == 0)
        // A stale copy seeded back into the CRM is deleted again, not imported.
        _ = try await fixture.seedCRM([["email": "gone@example.fi", "firstname": "Ghost"]])
        try await fixture.sync()
        #expect(try fixture.local("gone@example.fi") == nil)
        #expect(try await fixture.crmContact(email: "gone@example.fi") == nil)
    }

    @Test func optOutIsStickyBothWaysAndNeverCarriedByAnUpsert() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV(
            "email,firstName,newsletter\nlocal.out@example.fi,L,granted\ncrm.out@example.fi,C,granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .optedOutOfAll, active: true, email: email("local.out@example.fi"), reason: "asked", actor: "t")
        try await fixture.crm(
            "POST", "/communication-preferences/v4/statuses/crm.out@example.fi/unsubscribe-all?channel=EMAIL")
        try await fixture.sync()
        #expect(try await fixture.crmProperty("local.out@example.fi", "hs_email_optout") == "true")
        #expect(try fixture.isOptedOut("crm.out@example.fi"))
        #expect(try fixture.consent("crm.out@example.fi", .newsletter) == .withdrawn)

        // A push that changes the name of an opted-out contact leaves the opt-out alone.
        let journal = try await fixture.journal().count
        try fixture.importCSV("email,firstName\nlocal.out@example.fi,Renamed\n")
        try await fixture.sync()
        #expect(try await fixture.crmProperty("local.out@example.fi", "firstname") == "Renamed")
        #expect(try await fixture.crmProperty("local.out@example.fi", "hs_email_optout") == "true")
        let writes = try await fixture.mutatingRequests(since: journal).map { $0.path }
        #expect(writes == ["/crm/objects/2026-09/contacts/batch/update"])
        // A CRM-side re-subscription does not lift the local opt-out: it is pushed again.
        try await fixture.crm(
            "POST", "/communication-preferences/v4/statuses/batch/write",
            [
                "inputs": [
                    [
                        "subscriberIdString": "local.out@example.fi", "subscriptionId": 7, "channel": "EMAIL",
                        "statusState": "SUBSCRIBED", "legalBasis": "CONSENT_WITH_NOTICE",
                    ]
                ]
            ])
        try await fixture.sync()
        #expect(try await fixture.crmProperty("local.out@example.fi", "hs_email_optout") == "true")
        #expect(try fixture.isOptedOut("local.out@example.fi"))
    }

    @Test func explicitLocalReConsentAfterTheOptOutLiftsItInTheCRM() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,newsletter\naino@example.fi,granted\n")
        try await fixture.sync()
        try await fixture.crm(
            "POST", "/communication-preferences/v4/statuses/aino@example.fi/unsubscribe-all?channel=EMAIL")
        try await fixture.sync()
        #expect(try fixture.isOptedOut("aino@example.fi"))
        fixture.tick()
        _ = try fixture.store.recordConsent(
            email: email("aino@example.fi"), purpose: .newsletter, state: .granted, source: "web form",
            liftingOptOut: true, actor: "t")
        try await fixture.sync()
        #expect(try await fixture.crmProperty("aino@example.fi", "hs_email_optout") == "false")
        #expect(try await fixture.crmStatuses("aino@example.fi")[7] == "SUBSCRIBED")
        #expect(try !fixture.isOptedOut("aino@example.fi"))
    }

    @Test func consentNewestWinsAndACRMGrantNeverOverridesANewerLocalWithdrawal() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,newsletter,blog\naino@example.fi,withdrawn,withdrawn\n")
        try await fixture.sync()
        // The CRM grants the newsletter; later the register withdraws it again; the CRM grants the blog.
        try await fixture.crm(
            "POST", "/communication-preferences/v4/statuses/batch/write",
            [
                "inputs": [
                    [
                        "subscriberIdString": "aino@example.fi", "subscriptionId": 7, "channel": "EMAIL",
                        "statusState": "SUBSCRIBED", "legalBasis": "CONSENT_WITH_NOTICE",
                    ],
                    [
                        "subscriberIdString": "aino@example.fi", "subscriptionId": 10, "channel": "EMAIL",
                        "statusState": "SUBSCRIBED", "legalBasis": "CONSENT_WITH_NOTICE",
                    ],
                ]
            ])
        fixture.tick()
        _ = try fixture.store.recordConsent(
            email: email("aino@example.fi"), purpose: .newsletter, state: .withdrawn, source: "phone", actor: "t")
        let report = try await fixture.sync()
        #expect(try fixture.consent("aino@example.fi", .newsletter) == .withdrawn)
        #expect(try await fixture.crmStatuses("aino@example.fi")[7] == "UNSUBSCRIBED")
        #expect(try fixture.consent("aino@example.fi", .blog) == .granted)  // the CRM's grant is the newest there
        #expect(report.changes.first { $0.field == "consent.newsletter" }?.rule == "consent: newest (local)")
    }

    @Test func restrictedContactIsNotPushedExceptItsRestriction() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV(
            "email,firstName,newsletter\nkept@example.fi,Kept,granted\nnew.restricted@example.fi,New,granted\n")
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email("new.restricted@example.fi"), reason: "asked", actor: "t")
        try await fixture.sync()
        #expect(try await fixture.crmContact(email: "new.restricted@example.fi") == nil)
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email("kept@example.fi"), reason: "asked", actor: "t")
        try fixture.importCSV("email,firstName\nkept@example.fi,Changed\n")
        try await fixture.sync()
        #expect(try await fixture.crmProperty("kept@example.fi", "firstname") == "Kept")
        #expect(try await fixture.crmProperty("kept@example.fi", "hs_email_optout") == "true")
    }

    @Test func ownWritesAreNotTakenForCRMEditsWhileTheSearchIndexLags() async throws {
        var mock = EngineFixture.unlimited()
        mock.searchLagMs = 3_000
        let fixture = try await EngineFixture(mock: mock)
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName,city\naino@example.fi,Aino,Oulu\n")
        try await fixture.sync()
        try fixture.importCSV("email,city\naino@example.fi,Kuopio\n")
        try await fixture.sync()
        let journal = try await fixture.journal().count
        let audit = try fixture.auditCount()
        let report = try await fixture.sync()  // the index still shows the old version
        #expect(try fixture.local("aino@example.fi")?.city == "Kuopio")
        #expect(try await fixture.crmProperty("aino@example.fi", "city") == "Kuopio")
        #expect(report.changes.isEmpty, "\(report.changes)")
        #expect(try await fixture.mutatingRequests(since: journal).isEmpty)
        #expect(try fixture.auditCount() == audit)
    }

    @Test func archiveAndMergeInTheCRMAreReflectedWithoutDuplicates() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let archivedId = try await fixture.importAndLink(
            "email,firstName\narchived@example.fi,A\nprimary@example.fi,P\nsecondary@example.fi,S\n",
            "archived@example.fi")
        let primaryId = try #require(try fixture.local("primary@example.fi")?.crmId)
        let secondaryId = try #require(try fixture.local("secondary@example.fi")?.crmId)
        try await fixture.crm("DELETE", "/crm/v3/objects/contacts/\(archivedId)")
        let merged = try await fixture.crm(
            "POST", "/crm/v3/objects/contacts/merge", ["primaryObjectId": primaryId, "objectIdToMerge": secondaryId])
        let survivor = try #require(merged["id"] as? String)
        let report = try await fixture.sync()
        #expect(report.summary.archived == 1)
        #expect(try fixture.local("primary@example.fi")?.crmId == survivor)
        #expect(try fixture.local("secondary@example.fi")?.crmId == nil)
        #expect(try fixture.store.contactCount() == 3)
        #expect(try await fixture.crmCount() == 1)
        // Nothing is re-created: the archived record stays archived, the merged one stays merged.
        try fixture.importCSV("email,firstName\narchived@example.fi,A2\nsecondary@example.fi,S2\n")
        try await fixture.sync()
        #expect(try await fixture.crmCount() == 1)
    }

    @Test func aRunThatWouldExceedTheBudgetIsRefusedBeforeItStarts() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let rows = (0..<450).map { "p\($0)@example.fi,P\($0)" }.joined(separator: "\n")
        try fixture.importCSV("email,firstName\n" + rows + "\n")
        fixture.dailyBudget = 20
        do {
            try await fixture.sync()
            Issue.record("the run started")
        } catch let error as SyncError {
            #expect(error.kind == .budgetExceeded)
            #expect(error.errorDescription?.contains("--ignore-budget") == true)
        }
        #expect(try await fixture.journal().isEmpty)
        let dry = try await fixture.sync(dryRun: true)
        #expect(dry.cost.plannedWriteRequests == 5)
    }
}
