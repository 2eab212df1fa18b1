import Foundation
import HubSpotClient
import MockHubSpot
import SyncModel
import Synchronization
import Testing

@testable import SyncEngine

/// Fewest requests (issue 23): what a run sends, counted by endpoint on the mock's journal.
@Suite struct RequestCountTests {
    static func count(_ entries: [MockJournalEntry], _ suffix: String) -> Int {
        entries.filter { $0.path.hasSuffix(suffix) }.count
    }

    /// The first sync lists every live record, so it knows which addresses the CRM has: the local contacts it is
    /// about to create are not read by email first (there were 150 of them: 2 batch reads before). A local contact
    /// whose address a record carries only as a merged-in secondary address is still found (kept for review as
    /// merged into it), never created again.
    @Test func theFirstSyncReadsNoLocalContactTheListingDidNotFind() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try await fixture.seedCRM(
            (0..<150).map { MockSeedContact(["email": "crm\($0)@example.fi", "firstname": "C\($0)"]) })
        let kept = try await fixture.seedCRM([MockSeedContact(["email": "kept@example.fi", "firstname": "K"])])[0]
        try await fixture.mergeIntoNewRecord(kept, address: "survivor@example.fi")
        try fixture.importCSV(
            "email,firstName\n" + (0..<150).map { "local\($0)@example.fi,L\($0)\n" }.joined() + "kept@example.fi,K\n")
        let before = try await fixture.journal().count

        let report = try await fixture.sync()
        #expect(report.summary.failures == 0)
        let sent = try await fixture.mock.journal(since: before)
        #expect(Self.count(sent, "/contacts/batch/read") == 0)
        let keptForReview = try #require(try fixture.local("kept@example.fi"))
        #expect(try fixture.store.localStates(crmIds: [], emails: [keptForReview.email]).first?.mergedIntoCrmId != nil)
        #expect(try await fixture.crmCount() == 150 + 1 + 150)
        #expect(try await fixture.crmContact(email: "local149@example.fi") != nil)
    }

    /// A record created in HubSpot for a local contact's address after the listing read past it (a form, while the
    /// sync runs): the upsert takes the existing record; the contact is linked to it, no duplicate.
    @Test func aRecordCreatedAfterTheListingIsTakenByTheUpsertNotDuplicated() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\nlate@example.fi,L\n")
        fixture.transport = BeforeRequestTransport(before: "/contacts/batch/upsert", inner: fixture.crmTransport) {
            [fixture] in
            _ = try await fixture.seedCRM([MockSeedContact(["email": "late@example.fi", "firstname": "Form"])])
        }
        let report = try await fixture.sync()
        #expect(report.summary.failures == 0)
        #expect(try await fixture.crmCount() == 1)
        let record = try #require(try await fixture.crmContact(email: "late@example.fi"))
        #expect(try fixture.local("late@example.fi")?.crmId == record["id"] as? String)
    }

    /// Subscription writes pack into requests of 100 inputs across the contacts of a push, not per 100 contacts:
    /// 300 new contacts with one or two grants each (150 statuses per 100 contacts) take 5 requests, not 6.
    @Test func subscriptionWritesFillTheirRequests() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV(
            "email,firstName,newsletter,blog\n"
                + (0..<300).map { "p\($0)@example.fi,P,granted,\($0 % 2 == 0 ? "granted" : "")\n" }.joined())
        let before = try await fixture.journal().count
        let report = try await fixture.sync()
        #expect(report.summary.failures == 0)
        let sent = try await fixture.mock.journal(since: before)
        #expect(Self.count(sent, "/statuses/batch/write") == 5)
        #expect(Self.count(sent, "/contacts/batch/upsert") == 3)
        #expect(try await fixture.crmStatuses("p298@example.fi")[subscriptionIds[.blog]!] == "SUBSCRIBED")
        #expect(try await fixture.crmStatuses("p299@example.fi")[subscriptionIds[.newsletter]!] == "SUBSCRIBED")
    }
}

/// The run's planned-contact set keeps UUID ids as 16 bytes, and any other id as text (issue 23, memory).
@Test func theSetOfPlannedContactsFindsEveryIdItWasGiven() {
    var set = ContactIdSet()
    let id = UUID().uuidString.lowercased()
    set.insert(id)
    set.insert("contact-7")
    #expect(set.contains(id))
    #expect(set.contains(id.uppercased()))
    #expect(set.contains("contact-7"))
    #expect(!set.contains(UUID().uuidString.lowercased()))
    #expect(!set.contains("contact-8"))
}

extension RequestCountTests {
    /// A push page holds 1,000 contacts, so its status writes take several requests: the holds are read again
    /// before each. Contacts erased while the first request goes out get none of their statuses in the later ones
    /// (adversarial review; before, one check covered every request of the step).
    @Test func aContactErasedWhileStatusWritesGoOutGetsNoneOfTheLaterOnes() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV(
            "email,firstName,newsletter\n" + (0..<250).map { "p\($0)@example.fi,P,granted\n" }.joined())
        let erased = (0..<250).map { "p\($0)@example.fi" }.filter { $0.hasSuffix("7@example.fi") }
        let store = fixture.store
        let recording = RecordingTransport(inner: fixture.crmTransport)
        fixture.transport = BeforeRequestTransport(before: "/statuses/batch/write", inner: recording) {
            for (index, address) in erased.enumerated() {
                _ = try store.recordErasureRequest(email: EmailAddress(address), requestId: "r-\(index)", reason: nil)
                try store.eraseLocally(requestId: "r-\(index)")
            }
        }
        _ = try await fixture.sync()
        let statusWrites = recording.requests.withLock { $0 }.filter { $0.url.path.hasSuffix("/statuses/batch/write") }
        #expect(statusWrites.count >= 3)
        let later = statusWrites.dropFirst().flatMap { request -> [String] in
            let body = request.body.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            return (body?["inputs"] as? [[String: Any]] ?? []).compactMap { $0["subscriberIdString"] as? String }
        }
        #expect(!later.isEmpty)
        #expect(Set(later).isDisjoint(with: erased))
    }
}

extension RequestCountTests {
    /// An incremental run's budget estimate is the change feed's size, which the feed's first search page answers
    /// with (`total`): no search of one result of its own (2 searches before, 1 now).
    @Test func anIncrementalRunTakesItsBudgetEstimateFromTheFeedsFirstPage() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\n" + (0..<3).map { "p\($0)@example.fi,P\n" }.joined())
        try await fixture.sync()
        fixture.time.advance(by: .seconds(3_600))
        for index in 0..<3 {
            let id = try #require(try fixture.local("p\(index)@example.fi")?.crmId)
            try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["firstname": "Edited"]])
        }
        let before = try await fixture.journal().count

        let report = try await fixture.sync()

        #expect(report.summary.failures == 0)
        let sent = try await fixture.mock.journal(since: before)
        #expect(Self.count(sent, "/contacts/search") == 1)
        #expect(try (0..<3).allSatisfy { try fixture.local("p\($0)@example.fi")?.firstName == "Edited" })
    }

    /// The feed's first page is read before the run finishes an unfinished erasure; the subject's record is on it
    /// (edited in the CRM since the last run). The erasure deletes the record before the page is read in full, so
    /// the run never pulls it back: no local contact, no record, the request verified.
    @Test func aRecordOnTheFeedsFirstPageThatAnUnfinishedErasureDeletesIsNotPulledBack() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName\naino@example.fi,Aino\nbea@example.fi,Bea\n")
        try await fixture.sync()
        fixture.time.advance(by: .seconds(3_600))
        for address in ["aino@example.fi", "bea@example.fi"] {
            let id = try #require(try fixture.local(address)?.crmId)
            try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["firstname": "Edited"]])
        }
        try await fixture.erase("aino@example.fi", requestId: "r1", wait: false)
        let before = try await fixture.journal().count

        let report = try await fixture.sync()

        #expect(report.summary.failures == 0, "\(report.failures)")
        let sent = try await fixture.mock.journal(since: before).map(\.path)
        let search = try #require(sent.firstIndex { $0.hasSuffix("/contacts/search") })
        let delete = try #require(sent.firstIndex { $0.hasSuffix("/gdpr-delete") })
        #expect(search < delete)
        #expect(try fixture.local("aino@example.fi") == nil)
        #expect(try await fixture.crmContact(email: "aino@example.fi") == nil)
        #expect(try fixture.local("bea@example.fi")?.firstName == "Edited")
        try await fixture.sync()
        #expect(try fixture.local("aino@example.fi") == nil)
        #expect(try await fixture.crmContact(email: "aino@example.fi") == nil)
        #expect(try fixture.store.erasureRequest(id: "r1")?.state == .verified)
    }
}

extension RequestCountTests {
    /// Adversarial review of the batch's one query for address holders: a conflict under `newest` reads the record
    /// again with field history, and a CRM user gave it, just before, the address of a contact the register holds
    /// (not yet in the CRM). The planner asks whether that address is taken: it is, so the change is not taken and
    /// the run goes on (before the fix, the address was not in the query, the planner took it, and the register's
    /// unique address refused the batch: the run failed).
    @Test func anAddressARecordReadWithHistoryBringsIsSeenTakenByTheContactHoldingIt() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName,city\naino@example.fi,Aino,Helsinki\n")
        try await fixture.sync()
        try fixture.importCSV("email,firstName\nbea@example.fi,Bea\n")
        fixture.time.advance(by: .seconds(60))
        try fixture.importCSV("email,city\naino@example.fi,Turku\n")
        let id = try #require(try fixture.local("aino@example.fi")?.crmId)
        try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["city": "Oulu"]])
        let historyRead: @Sendable (HTTPRequest) -> Bool = { request in
            request.body.map { String(decoding: $0, as: UTF8.self).contains("propertiesWithHistory") } ?? false
        }
        fixture.transport = BeforeRequestTransport(matching: historyRead, inner: fixture.crmTransport) { [fixture] in
            try await fixture.crm(
                "PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["email": "bea@example.fi"]])
        }

        let report = try await fixture.sync()

        #expect(report.summary.failures == 0, "\(report.failures)")
        #expect(try fixture.local("aino@example.fi") != nil)
        #expect(try fixture.local("bea@example.fi") != nil)
        #expect(report.notes.contains { $0.note.contains("held by another contact") })
    }
}
