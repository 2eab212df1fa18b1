import Foundation
import SyncCore

extension HubSpotClient {
    /// One contact by id (following merges: the answer's id may differ) or nil when HubSpot says 404.
    public func contact(id: String, properties: [String] = [], withHistory: [String] = []) async throws -> CRMContact? {
        try await readOne(key: id, byEmail: false, properties: properties, withHistory: withHistory)
    }

    /// One contact by email, or nil when HubSpot says 404.
    public func contact(email: String, properties: [String] = [], withHistory: [String] = []) async throws
        -> CRMContact?
    {
        try await readOne(key: email, byEmail: true, properties: properties, withHistory: withHistory)
    }

    private func readOne(key: String, byEmail: Bool, properties: [String], withHistory: [String]) async throws
        -> CRMContact?
    {
        var call = Call(method: "GET", to: .contact(Self.pathSegment(key)))
        if byEmail { call.query.append(("idProperty", "email")) }
        call.query.append(("properties", HubSpotContact.asked(properties).joined(separator: ",")))
        if !withHistory.isEmpty { call.query.append(("propertiesWithHistory", withHistory.joined(separator: ","))) }
        do {
            return try await perform(call, as: HubSpotContact.self).contact
        } catch let error as HubSpotError where error.isNotFound {
            return nil
        }
    }

    static func pathSegment(_ key: String) -> String {
        key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/@")))
            ?? key
    }

    /// Reads contacts by id (or email) in batches of 100 (50 with history). Returns the record for each key
    /// that HubSpot found — merged ids map to their survivor — and the keys it did not find.
    public func batchRead(
        _ keys: [String], byEmail: Bool = false, properties: [String], withHistory: [String] = []
    ) async throws -> (found: [String: CRMContact], missing: [String]) {
        struct Input: Encodable { var id: String }
        struct Body: Encodable {
            var inputs: [Input]
            var properties: [String]
            var propertiesWithHistory: [String]?
            var idProperty: String?
        }
        var found: [String: CRMContact] = [:]
        var missing: [String] = []
        let size = withHistory.isEmpty ? 100 : 50
        for chunk in keys.chunked(into: size) {
            try Task.checkCancellation()
            let body = Body(
                inputs: chunk.map(Input.init), properties: HubSpotContact.asked(properties),
                propertiesWithHistory: withHistory.isEmpty ? nil : withHistory, idProperty: byEmail ? "email" : nil)
            let envelope = try await perform(
                Call(method: "POST", to: .contactsBatch(.read), body: try Self.body(body)),
                as: BatchEnvelope<HubSpotContact>.self)
            var byId: [String: CRMContact] = [:]
            var byMail: [String: CRMContact] = [:]
            for record in envelope.results.map(\.contact) {
                byId[record.id] = record
                for merged in record.mergedIds { byId[merged] = record }
                if let email = record.email?.lowercased() { byMail[email] = record }
            }
            for key in chunk {
                if let record = byEmail ? byMail[key.lowercased()] : byId[key] {
                    found[key] = record
                } else {
                    missing.append(key)
                }
            }
        }
        return (found, missing)
    }

    /// Every contact, page by page in HubSpot's cursor order; `archived: true` lists archived ones only.
    public func allContacts(
        properties: [String], withHistory: [String] = [], archived: Bool = false, pageSize: Int = 100,
        startingAfter cursor: String? = nil
    ) -> ContactListing {
        ContactListing(
            client: self, properties: properties, withHistory: withHistory, archived: archived,
            pageSize: min(pageSize, withHistory.isEmpty ? 100 : 50), cursor: cursor)
    }
}

/// The full listing by cursor, as an AsyncSequence of pages: bounded memory for any number of records.
public struct ContactListing: AsyncSequence, Sendable {
    public typealias Element = ContactPage
    let client: HubSpotClient
    let properties: [String]
    let withHistory: [String]
    let archived: Bool
    let pageSize: Int
    let cursor: String?

    public struct AsyncIterator: AsyncIteratorProtocol {
        let listing: ContactListing
        var cursor: String?
        var finished = false

        public mutating func next() async throws -> ContactPage? {
            guard !finished else { return nil }
            try Task.checkCancellation()
            struct Page: Decodable, Sendable {
                struct Paging: Decodable, Sendable {
                    struct Next: Decodable, Sendable { var after: String }
                    var next: Next?
                }
                var results: [HubSpotContact]
                var paging: Paging?
            }
            var call = HubSpotClient.Call(method: "GET", to: .contacts)
            call.query.append(("limit", String(listing.pageSize)))
            call.query.append(("properties", HubSpotContact.asked(listing.properties).joined(separator: ",")))
            if !listing.withHistory.isEmpty {
                call.query.append(("propertiesWithHistory", listing.withHistory.joined(separator: ",")))
            }
            if listing.archived { call.query.append(("archived", "true")) }
            if let cursor { call.query.append(("after", cursor)) }
            let page = try await listing.client.perform(call, as: Page.self)
            cursor = page.paging?.next?.after
            finished = cursor == nil
            return ContactPage(contacts: page.results.map(\.contact), nextCursor: cursor)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listing: self, cursor: cursor) }
}

extension Array {
    func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}

extension ArraySlice {
    func map<T>(_ transform: (Element) -> T) -> [T] { Array(self).map(transform) }
}
