import Foundation
import MockHubSpot
import SyncCore
import SyncModel
import SyncStore
import Testing

@testable import SyncEngine

@Suite struct MergeReviewTests {
    /// Two synced contacts whose records a CRM user then merged (the secondary's into the primary's).
    static func mergedInTheCRM() async throws -> EngineFixture {
        let fixture = try await EngineFixture()
        let primaryId = try await fixture.importAndLink(
            "email,firstName\nprimary@example.fi,P\nsecondary@example.fi,S\n", "primary@example.fi")
        let secondaryId = try #require(try fixture.local("secondary@example.fi")?.crmId)
        try await fixture.crm(
            "POST", "/crm/v3/objects/contacts/merge", ["primaryObjectId": primaryId, "objectIdToMerge": secondaryId])
        return fixture
    }

    /// Seed 10609879: two people entered here before any sync, whose records a CRM user had merged. The survivor's
    /// own address's contact follows it; the other one was pushed, HubSpot's upsert by its address took the survivor,
    /// and two contacts held one record, each writing its own values (the record's address flipped between them, and
    /// a restriction spread under one address was planned again every run). The merged-in one is kept for review.
    @Test func aContactNotYetLinkedWhoseAddressAMergeBroughtOntoASurvivorIsKeptForReview() async throws {
        let fixture = try await EngineFixture()
        let ids = try await fixture.seedCRM([
            MockSeedContact(["email": "primary@example.fi", "firstname": "P"]),
            MockSeedContact(["email": "secondary@example.fi", "firstname": "S"]),
        ])
        let reply = try await fixture.crm(
            "POST", "/crm/v3/objects/contacts/merge", ["primaryObjectId": ids[0], "objectIdToMerge": ids[1]])
        let survivor = try #require(reply["id"] as? String)
        try fixture.importCSV("email,firstName,city\nprimary@example.fi,P,Oulu\nsecondary@example.fi,S,Turku\n")
        for _ in 1...3 {
            fixture.tick()
            let report = try await fixture.sync()
            #expect(report.summary.failures == 0)
            #expect(try fixture.local("primary@example.fi")?.crmId == survivor)
            #expect(try fixture.local("secondary@example.fi")?.crmId == nil)
            #expect(try await fixture.crmProperty("primary@example.fi", "city") == "Oulu")
            #expect((try await fixture.crmContact(email: "primary@example.fi")?["id"] as? String) == survivor)
        }
        #expect(try await fixture.crmCount() == 1)
        let plan = try await fixture.sync(dryRun: true)
        #expect(plan.summary.toCRM.updates == 0)
    }

    /// A contact kept for review after a CRM merge, edited locally: its edit is never pushed, and every run lists it
    /// while it is kept for review (it used to be listed once, then marked synced and forgotten).
    @Test func aLocalEditOfAContactKeptForReviewStaysListedInEveryRun() async throws {
        let fixture = try await Self.mergedInTheCRM()
        let merge = try await fixture.sync()
        #expect(merge.summary.merged > 0)
        #expect(try fixture.local("secondary@example.fi")?.crmId == nil)
        // Before any local edit, a contact kept for review is quiet.
        #expect(try await fixture.sync().notes.isEmpty)
        fixture.tick()
        try fixture.importCSV("email,city\nsecondary@example.fi,Kuopio\n")
        for run in 1...3 {
            fixture.tick()
            let journal = try await fixture.journal().count
            let report = try await fixture.sync()
            let notes = report.notes.filter { $0.note == SyncPlanner.mergedForReview }
            #expect(notes.count == 1, "run \(run): \(report.notes)")
            #expect(try await fixture.mutatingRequests(since: journal).isEmpty, "run \(run) wrote to the CRM")
        }
        #expect(try await fixture.crmCount() == 1)
        #expect(try fixture.local("secondary@example.fi")?.city == "Kuopio")
    }

    /// The same when the edit was made before the run that found the merge.
    @Test func anEditMadeBeforeTheMergeWasFoundStaysListedToo() async throws {
        let fixture = try await Self.mergedInTheCRM()
        fixture.tick()
        try fixture.importCSV("email,city\nsecondary@example.fi,Kuopio\n")
        for run in 1...3 {
            fixture.tick()
            let report = try await fixture.sync()
            let notes = report.notes.filter { $0.note == SyncPlanner.mergedForReview }
            #expect(
                notes.count == 1,
                "run \(run): \(report.notes) \(report.changes.map { "\($0.contact) \($0.field) \($0.rule)" })")
        }
        #expect(try fixture.store.dirtyCount() == 1)
    }
}

extension MergeReviewTests {
    /// Found by the checker (seeds 5000066, 5005508, 5005860, 5005907): a CRM user merged two people's records;
    /// erasing one deletes the survivor, which held the other's data too. The other contact stayed linked to the
    /// deleted, tombstoned record, so every run skipped it as "erased while the sync ran": its objection never
    /// reached HubSpot again and it never settled. Now the erasure releases it, and the next sync creates its own
    /// record from the register, opted out, once.
    @Test func erasingOneOfTwoMergedPeopleGivesTheOtherTheirOwnRecordBack() async throws {
        for erased in ["secondary@example.fi", "primary@example.fi"] {
            let fixture = try await Self.mergedInTheCRM()
            _ = try await fixture.sync()
            let other = erased == "primary@example.fi" ? "secondary@example.fi" : "primary@example.fi"
            fixture.tick()
            _ = try fixture.store.setSuppression(
                .optedOutOfAll, active: true, email: email(other), reason: "x", actor: "t")
            fixture.tick()
            let request = try await fixture.propagator().erase(email: email(erased), requestId: "r1", reason: nil)
            #expect(request.state == .verified)
            fixture.tick()
            let report = try await fixture.sync()
            #expect(report.summary.toCRM.creates == 1, "\(erased): \(report.notes.map(\.note))")
            #expect(try await fixture.crmContact(email: other) != nil)
            #expect(try await fixture.crmContact(email: erased) == nil)
            #expect(try await AddressFollowsPersonTests.isOptedOutInHubSpot(fixture, other))
            #expect(try fixture.local(other)?.crmId != nil)
            fixture.tick()
            try await fixture.expectSettled()
            await fixture.close()
        }
    }
}

extension MergeReviewTests {
    /// Found by the checker (seeds 5004717, 5005921, 5006758, 5009611): the register had not seen the merge yet
    /// when the primary was erased with `--no-wait`. The dry run met the survivor (which carries the erased id among
    /// its merged ids) and planned its delete again, while the real run, deleting the merged id first, never met it:
    /// the dry run promised one erasure more than the real run did.
    @Test func aDryRunCountsTheSurvivorOfAnErasedMergedIdOnceAsTheRealRunDoes() async throws {
        let fixture = try await Self.mergedInTheCRM()
        fixture.tick()
        _ = try await fixture.propagator().erase(
            email: email("primary@example.fi"), requestId: "r1", reason: nil, propagate: false)
        let dry = try await fixture.sync(dryRun: true)
        let real = try await fixture.sync()
        #expect(dry.summary.toCRM == real.summary.toCRM, "dry \(dry.summary) real \(real.summary)")
        #expect(dry.summary.toLocal == real.summary.toLocal)
        await fixture.close()
    }
}

extension MergeReviewTests {
    /// Found by the checker (seed 6002… `localCreate, localOptOut, crmCreate, sync, crmMerge, erase(--no-wait)`): the
    /// same before any sync saw the merge. The register's contacts are linked to the two old ids; the erasure finds
    /// the survivor under the erased address and deletes it, and the other contact, linked to an id merged into it,
    /// stayed linked to a record that no longer existed, never examined again, its opt-out gone from HubSpot.
    @Test func erasingOneOfTwoMergedPeopleBeforeAnySyncSawTheMergeGivesTheOtherTheirOwnRecordBack() async throws {
        let fixture = try await Self.mergedInTheCRM()
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .optedOutOfAll, active: true, email: email("primary@example.fi"), reason: "x", actor: "t")
        fixture.tick()
        let request = try await fixture.propagator().erase(
            email: email("secondary@example.fi"), requestId: "r1", reason: nil)
        #expect(request.state == .verified)
        fixture.tick()
        let dry = try await fixture.sync(dryRun: true)
        let report = try await fixture.sync()
        #expect(dry.summary.toCRM == report.summary.toCRM)
        #expect(report.summary.toCRM.creates == 1, "\(report.notes.map(\.note))")
        #expect(try await AddressFollowsPersonTests.isOptedOutInHubSpot(fixture, "primary@example.fi"))
        #expect(try await fixture.crmContact(email: "secondary@example.fi") == nil)
        fixture.tick()
        try await fixture.expectSettled()
        await fixture.close()
    }
}
