import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import Testing

@Test func fullPullOf25000ReturnsEachOnceThroughServerErrorsStormsAndBrokenConnections() async throws {
    var mock = MockedClient.unlimitedMock()
    mock.faults.seed = 11
    mock.faults.serverErrorRate = 0.10
    mock.faults.stormRate = 0.03
    mock.faults.stormLength = 5
    mock.faults.dropRate = 0.02
    mock.faults.truncateRate = 0.02
    let fixture = try await MockedClient.start(seed: 25_000, mock: mock)
    var ids: [String] = []
    var pages = 0
    for try await page in fixture.client.allContacts(properties: ["email", "firstname"]) {
        ids += page.contacts.map(\.id)
        pages += 1
    }
    let metrics = fixture.client.metrics
    let journal = try await fixture.journal()
    await fixture.stop()
    #expect(ids.count == 25_000)
    #expect(Set(ids).count == 25_000)
    #expect(pages == 250)
    #expect(metrics.serverErrors > 0 && metrics.rateLimited > 0 && metrics.transportErrors > 0, "\(metrics)")
    #expect(metrics.requests == journal.count)
    #expect(metrics.requests == 250 + metrics.retries)
}

@Test func incrementalPullAcrossMoreThanTenThousandChangesReturnsThemAll() async throws {
    let fixture = try await MockedClient.start(seed: 12_500)
    var ids: [String] = []
    var watermarks: [Date] = []
    for try await page in fixture.client.changedContacts(since: Date(millisecondsSince1970: 0)) {
        ids += page.contacts.map(\.id)
        watermarks.append(page.watermark)
    }
    let searches = try await fixture.journal().filter { $0.path.hasSuffix("/search") }
    await fixture.stop()
    #expect(ids.count == 12_500)
    #expect(Set(ids).count == 12_500)
    #expect(watermarks == watermarks.sorted())
    #expect(searches.allSatisfy { $0.status == 200 })  // never asked past the cap
}

@Test func twelveThousandChangesInOneMillisecondAreAllPulled() async throws {
    let fixture = try await MockedClient.start()
    try await fixture.mock.seed(.generated(12_000, lastModified: try time("2026-03-01T12:00:00.000Z")))
    try await fixture.mock.seed(.generated(30))
    var ids: [String] = []
    for try await page in fixture.client.changedContacts(since: Date(millisecondsSince1970: 1_700_000_000_000)) {
        ids += page.contacts.map(\.id)
    }
    let journal = try await fixture.journal()
    await fixture.stop()
    #expect(ids.count == 12_030)
    #expect(Set(ids).count == 12_030)
    #expect(journal.allSatisfy { $0.status == 200 })
}

@Test func changeFeedHonoursItsUpperBound() async throws {
    let fixture = try await MockedClient.start()
    try await fixture.mock.seed(.generated(10, lastModified: try time("2026-03-01T12:00:00.000Z")))
    try await fixture.mock.seed(.generated(5, lastModified: try time("2026-03-02T12:00:00.000Z")))
    let until = try #require(HubSpotTime.parse("2026-03-02T00:00:00.000Z"))
    var ids: [String] = []
    var last: Date?
    for try await page in fixture.client.changedContacts(since: Date(millisecondsSince1970: 0), until: until) {
        ids += page.contacts.map(\.id)
        last = page.watermark
    }
    await fixture.stop()
    #expect(ids.count == 10)
    #expect(last == until)
}

@Test func archivedListingAndBatchReadFollowMerges() async throws {
    let fixture = try await MockedClient.start(seed: 3)
    try await fixture.mock.seed(.contacts([]))
    try await fixture.client.archive(ids: ["10000000003"])
    var archived: [String] = []
    for try await page in fixture.client.allContacts(properties: ["email"], archived: true) {
        archived += page.contacts.map(\.id)
    }
    #expect(archived == ["10000000003"])
    let (found, missing) = try await fixture.client.batchRead(["10000000001", "99999999999"], properties: ["email"])
    #expect(found["10000000001"]?.id == "10000000001")
    #expect(missing == ["99999999999"])
    #expect(try await fixture.client.contact(id: "99999999999") == nil)
    await fixture.stop()
}

@Test func cancellationStopsBetweenPages() async throws {
    let fixture = try await MockedClient.start(seed: 1_000)
    let task = Task {
        var pages = 0
        for try await _ in fixture.client.allContacts(properties: ["email"], pageSize: 10) {
            pages += 1
            if pages == 3 { withUnsafeCurrentTask { $0?.cancel() } }
        }
        return pages
    }
    await #expect(throws: CancellationError.self) { try await task.value }
    #expect(fixture.client.metrics.requests == 3)
    await fixture.stop()
}

/// Records in groups sharing one `lastmodifieddate`, a second apart: single records, groups at a page's
/// seam, more than a page in one millisecond.
@Test(arguments: [[450], [1, 199, 200, 201, 3], [90, 90, 90, 90, 90], [120, 500, 7]])
func changeFeedSkipsNoRecordWhileTheCallerRewritesEachPageItReads(groups: [Int]) async throws {
    let fixture = try await MockedClient.start()
    let start = try #require(HubSpotTime.parse("2026-03-01T12:00:00.000Z"))
    var seeded: Set<String> = []
    for (index, size) in groups.enumerated() {
        let ids = try await fixture.mock.seed(.generated(size, lastModified: start.addingTimeInterval(Double(index))))
        seeded.formUnion(ids)
    }
    let until = Date()
    var ids: [String] = []
    for try await page in fixture.client.changedContacts(since: start, until: until) {
        ids += page.contacts.map(\.id)
        // As a sync pushing what it read: each write moves its record past the end of the result set.
        _ = try await fixture.client.update(
            page.contacts.map { ContactUpdate(id: $0.id, properties: ["city": "Oulu"]) })
    }
    let searches = try await fixture.journal().filter { $0.path.hasSuffix("/search") }
    await fixture.stop()
    #expect(ids.count == seeded.count)
    #expect(Set(ids) == seeded)
    #expect(searches.allSatisfy { $0.status == 200 })
}

/// Every page of the change feed carries the first query's `total`: a run's budget estimate, with no search of
/// its own.
@Test func everyPageOfTheFeedCarriesTheSizeItStartedWith() async throws {
    let fixture = try await MockedClient.start(seed: 450)
    var totals: [Int] = []
    for try await page in fixture.client.changedContacts(since: Date(millisecondsSince1970: 0)) {
        totals.append(page.total)
    }
    let searches = try await fixture.journal().filter { $0.path.hasSuffix("/search") }.count
    await fixture.stop()
    #expect(totals.count == searches && totals.count >= 3)
    #expect(totals.allSatisfy { $0 == 450 })
}

/// A HubSpot time (`2026-03-01T12:00:00.000Z`) as a date.
func time(_ text: String) throws -> Date { try #require(HubSpotTime.parse(text)) }
