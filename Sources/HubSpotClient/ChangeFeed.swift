import Foundation
import SyncCore

extension HubSpotClient {
    /// Contacts whose `lastmodifieddate` is at or after `since` (and before `until`, when given), oldest
    /// first, through search.
    ///
    /// The feed pages by key, never by offset: each query starts at the last timestamp returned and drops
    /// the records it already returned at that timestamp. A write between two pages moves the record it
    /// touches to the end of the result set, which would make an offset jump over as many unread records;
    /// a key cannot be jumped over. No query pages past the first page, so none meets the 10,000-result
    /// cap. When a full page shares one timestamp, the feed reads that timestamp by id, so no record is
    /// missed however many share a millisecond.
    public func changedContacts(since: Date, until: Date? = nil, properties: [String] = ["email"]) -> ContactChanges {
        ContactChanges(
            client: self, since: since.millisecondsSince1970, until: until?.millisecondsSince1970,
            properties: properties)
    }
}

/// The incremental pull as an AsyncSequence of pages.
public struct ContactChanges: AsyncSequence, Sendable {
    public typealias Element = ChangePage
    let client: HubSpotClient
    let since: Int64
    let until: Int64?
    let properties: [String]

    /// Records per search page (HubSpot's maximum).
    public static let searchPageSize = 200

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(feed: self, lowerBound: since) }

    /// The filters of a window: `lastmodifieddate` at or after `lowerBound`, and before `until` when given.
    static func window(from lowerBound: Int64, until: Int64?) -> [SearchFilter] {
        var filters = [SearchFilter(propertyName: "lastmodifieddate", operator: "GTE", value: String(lowerBound))]
        if let until {
            filters.append(SearchFilter(propertyName: "lastmodifieddate", operator: "LT", value: String(until)))
        }
        return filters
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let feed: ContactChanges
        /// The next query's inclusive lower bound on `lastmodifieddate` (epoch ms): every record before it
        /// has been returned.
        var lowerBound: Int64
        /// Ids already returned whose timestamp equals `lowerBound`: dropped when the next query repeats them.
        var seenAtBound: Set<String> = []
        /// Set while one timestamp is read by id: the timestamp and the last id read.
        var tie: (timestamp: Int64, afterId: String)?
        var newest: Int64 = .min
        var finished = false
        /// The first query's `total`.
        var total: Int?

        init(feed: ContactChanges, lowerBound: Int64) {
            self.feed = feed
            self.lowerBound = lowerBound
        }

        public mutating func next() async throws -> ChangePage? {
            while !finished {
                try Task.checkCancellation()
                let page = try await fetch()
                if total == nil { total = page.total ?? page.results.count }
                let hasMore = page.paging?.next?.after != nil && !page.results.isEmpty
                var returned: [CRMContact] = []
                if let current = tie {
                    returned = page.results.filter { !seenAtBound.contains($0.id) }
                    if let last = page.results.last?.id { tie = (current.timestamp, last) }
                    if !hasMore {
                        // The timestamp is exhausted: continue strictly after it.
                        tie = nil
                        lowerBound = current.timestamp + 1
                        seenAtBound = []
                    }
                } else {
                    let stamps = page.results.map { $0.lastModifiedMilliseconds ?? lowerBound }
                    for (record, stamp) in zip(page.results, stamps)
                    where !(stamp == lowerBound && seenAtBound.contains(record.id)) {
                        returned.append(record)
                    }
                    newest = Swift.max(newest, stamps.max() ?? .min)
                    if !hasMore {
                        finished = true
                    } else if let top = stamps.max(), let bottom = stamps.min(), top == bottom {
                        // A full page of one timestamp: read that timestamp by id.
                        if top != lowerBound { seenAtBound = [] }
                        seenAtBound.formUnion(page.results.map(\.id))
                        tie = (top, "0")
                    } else if let top = stamps.max() {
                        // The next query starts at the newest timestamp of this page, dropping what it returned there.
                        seenAtBound = Set(zip(page.results, stamps).filter { $0.1 == top }.map(\.0.id))
                        lowerBound = top
                    }
                }
                let end = feed.until ?? (newest == .min ? lowerBound : Swift.max(lowerBound, newest + 1))
                let watermark = Date(millisecondsSince1970: tie?.timestamp ?? (finished ? end : lowerBound))
                if !returned.isEmpty || finished {
                    return ChangePage(contacts: returned, watermark: watermark, total: total ?? 0)
                }
            }
            return nil
        }

        private func fetch() async throws -> SearchPage {
            let filters: [SearchFilter]
            let sort: SearchSort
            if let tie {
                filters = [
                    SearchFilter(propertyName: "lastmodifieddate", operator: "EQ", value: String(tie.timestamp)),
                    SearchFilter(propertyName: "hs_object_id", operator: "GT", value: tie.afterId),
                ]
                sort = SearchSort(propertyName: "hs_object_id", direction: "ASCENDING")
            } else {
                filters = ContactChanges.window(from: lowerBound, until: feed.until)
                sort = SearchSort(propertyName: "lastmodifieddate", direction: "ASCENDING")
            }
            let properties = HubSpotContact.asked(feed.properties + ["hs_object_id"])
            let body = SearchBody(
                filterGroups: [SearchGroup(filters: filters)], sorts: [sort], properties: properties,
                limit: ContactChanges.searchPageSize, after: "0")
            return try await feed.client.perform(
                HubSpotClient.Call(
                    method: "POST", to: .contactsSearch, body: try HubSpotClient.body(body),
                    bucket: .search),
                as: SearchPage.self)
        }
    }
}

struct SearchFilter: Encodable, Sendable {
    var propertyName: String
    var `operator`: String
    var value: String
}

struct SearchGroup: Encodable, Sendable { var filters: [SearchFilter] }

struct SearchSort: Encodable, Sendable {
    var propertyName: String
    var direction: String
}

struct SearchBody: Encodable, Sendable {
    var filterGroups: [SearchGroup]
    var sorts: [SearchSort]
    var properties: [String]
    var limit: Int
    var after: String
}

struct SearchPage: Decodable, Sendable {
    struct Paging: Decodable, Sendable {
        struct Next: Decodable, Sendable { var after: String }
        var next: Next?
    }
    var total: Int?
    var results: [CRMContact]
    var paging: Paging?

    enum CodingKeys: String, CodingKey { case total, results, paging }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        total = try container.decodeIfPresent(Int.self, forKey: .total)
        results = try container.decode([HubSpotContact].self, forKey: .results).map(\.contact)
        paging = try container.decodeIfPresent(Paging.self, forKey: .paging)
    }
}

extension CRMContact {
    /// `lastmodifieddate` in epoch milliseconds, as search compares it. Rounded, not truncated: a parsed
    /// `.345` may be held as `.34499…`, which truncation would make the millisecond before.
    var lastModifiedMilliseconds: Int64? { lastModified.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } }
}
