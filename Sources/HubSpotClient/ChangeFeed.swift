import Foundation

extension HubSpotClient {
    /// Contacts whose `lastmodifieddate` is at or after `since` (and before `until`, when given), oldest
    /// first, through search.
    ///
    /// A search can never page past 10,000 results, so the feed starts a new query from the last
    /// timestamp seen and drops the records it already returned at that timestamp (the seam). When one
    /// timestamp alone holds 10,000 records or more, it reads that timestamp by id instead, so no record is
    /// missed however many share a millisecond.
    public func changedContacts(since: Date, until: Date? = nil, properties: [String] = ["email"]) -> ContactChanges {
        ContactChanges(
            client: self, since: since.millisecondsSinceEpoch, until: until?.millisecondsSinceEpoch,
            properties: properties)
    }
}

/// One page of changes, with the watermark to resume from: every record modified before it was returned.
public struct ChangePage: Sendable {
    public var contacts: [CRMContact]
    /// All records with `lastmodifieddate` strictly before this were returned by this page or earlier ones.
    public var watermark: Date
}

/// The incremental pull as an AsyncSequence of pages.
public struct ContactChanges: AsyncSequence, Sendable {
    public typealias Element = ChangePage
    let client: HubSpotClient
    let since: Int64
    let until: Int64?
    let properties: [String]

    static let searchPageSize = 200
    static let searchCap = 10_000

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(feed: self, lowerBound: since) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let feed: ContactChanges
        /// The query's inclusive lower bound on `lastmodifieddate` (epoch ms).
        var lowerBound: Int64
        /// Ids already returned whose timestamp equals `lowerBound`: dropped when a new window repeats them.
        var seenAtBound: Set<String> = []
        var offset = 0
        /// Set while one timestamp is read by id: the timestamp and the last id read.
        var tie: (timestamp: Int64, afterId: String)?
        var newest: Int64 = .min
        var idsAtNewest: Set<String> = []
        var finished = false

        init(feed: ContactChanges, lowerBound: Int64) {
            self.feed = feed
            self.lowerBound = lowerBound
        }

        public mutating func next() async throws -> ChangePage? {
            while !finished {
                try Task.checkCancellation()
                let page = try await fetch()
                var returned: [CRMContact] = []
                if let current = tie, let lastId = page.results.last?.id {
                    // Advance the id cursor past every record of the page, returned or already seen.
                    tie = (current.timestamp, lastId)
                }
                for record in page.results {
                    let stamp = record.lastModified?.millisecondsSinceEpoch ?? lowerBound
                    if tie != nil {
                        if !seenAtBound.contains(record.id) { returned.append(record) }
                        continue
                    }
                    if stamp == lowerBound && seenAtBound.contains(record.id) { continue }
                    returned.append(record)
                    if stamp > newest {
                        newest = stamp
                        idsAtNewest = [record.id]
                    } else if stamp == newest {
                        idsAtNewest.insert(record.id)
                    }
                }
                let hasMore = page.paging?.next?.after != nil
                offset += page.results.count
                advance(hasMore: hasMore)
                let end = feed.until ?? (newest == .min ? lowerBound : Swift.max(lowerBound, newest + 1))
                let watermark = Date(millisecondsSince1970: tie?.timestamp ?? (finished ? end : lowerBound))
                if !returned.isEmpty || finished { return ChangePage(contacts: returned, watermark: watermark) }
            }
            return nil
        }

        /// Decides the next query: the next page, a new window, a read of one timestamp by id, or the end.
        private mutating func advance(hasMore: Bool) {
            if let current = tie {
                // Each tie query starts after the last id read, so it never meets the 10,000 cap.
                offset = 0
                if hasMore { return }
                // The timestamp is exhausted: continue strictly after it.
                tie = nil
                lowerBound = current.timestamp + 1
                seenAtBound = []
                newest = .min
                idsAtNewest = []
                offset = 0
                return
            }
            if hasMore && offset < ContactChanges.searchCap { return }
            guard hasMore || offset >= ContactChanges.searchCap else {
                finished = true
                return
            }
            offset = 0
            if newest > lowerBound {
                // A new window from the newest timestamp seen, dropping what was already returned there.
                lowerBound = newest
                seenAtBound = idsAtNewest
            } else {
                // 10,000 or more records share `lowerBound`: read that timestamp by id.
                seenAtBound.formUnion(idsAtNewest)
                tie = (lowerBound, "0")
            }
        }

        private func fetch() async throws -> SearchPage {
            var filters: [SearchFilter]
            let sort: SearchSort
            if let tie {
                filters = [
                    SearchFilter(propertyName: "lastmodifieddate", operator: "EQ", value: String(tie.timestamp)),
                    SearchFilter(propertyName: "hs_object_id", operator: "GT", value: tie.afterId),
                ]
                sort = SearchSort(propertyName: "hs_object_id", direction: "ASCENDING")
            } else {
                filters = [SearchFilter(propertyName: "lastmodifieddate", operator: "GTE", value: String(lowerBound))]
                if let until = feed.until {
                    filters.append(SearchFilter(propertyName: "lastmodifieddate", operator: "LT", value: String(until)))
                }
                sort = SearchSort(propertyName: "lastmodifieddate", direction: "ASCENDING")
            }
            let properties = Array(Set(feed.properties + ["lastmodifieddate", "hs_object_id"])).sorted()
            let body = SearchBody(
                filterGroups: [SearchGroup(filters: filters)], sorts: [sort], properties: properties,
                limit: ContactChanges.searchPageSize, after: String(tie == nil ? offset : 0))
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
}

extension Date {
    var millisecondsSinceEpoch: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
}
