import Foundation

/// What `POST /__mock/seed` inserts: generated people, or given records, optionally all last modified at one time.
public struct MockSeed: Encodable, Sendable {
    enum Records: Sendable {
        case generated(count: Int, seed: UInt64?)
        case contacts([MockSeedContact])
    }

    var records: Records
    /// The `lastmodifieddate` of every seeded record (and the time the search index has them); now when nil.
    public var lastModified: Date?

    /// `count` fictional people, the same for the same `seed` (1 when nil).
    public static func generated(_ count: Int, seed: UInt64? = nil, lastModified: Date? = nil) -> MockSeed {
        MockSeed(records: .generated(count: count, seed: seed), lastModified: lastModified)
    }

    /// The given records, in order.
    public static func contacts(_ contacts: [MockSeedContact], lastModified: Date? = nil) -> MockSeed {
        MockSeed(records: .contacts(contacts), lastModified: lastModified)
    }

    enum CodingKeys: String, CodingKey {
        case generate, seed, contacts, lastModified
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch records {
        case .generated(let count, let seed):
            try container.encode(count, forKey: .generate)
            try container.encodeIfPresent(seed, forKey: .seed)
        case .contacts(let contacts):
            try container.encode(contacts, forKey: .contacts)
        }
        try container.encodeIfPresent(lastModified, forKey: .lastModified)
    }
}

/// One record to seed: HubSpot properties by name, subscription statuses by subscription id, and the opt-out of all
/// email.
public struct MockSeedContact: Encodable, Sendable {
    public var properties: [String: String]
    /// Subscription id → `SUBSCRIBED`, `UNSUBSCRIBED` or `NOT_SPECIFIED`.
    public var subscriptions: [Int: String]
    public var isOptedOutOfAll: Bool

    public init(_ properties: [String: String], subscriptions: [Int: String] = [:], isOptedOutOfAll: Bool = false) {
        self.properties = properties
        self.subscriptions = subscriptions
        self.isOptedOutOfAll = isOptedOutOfAll
    }

    struct PropertyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { nil }
    }

    /// The properties flat beside `subscriptions` and `optedOutOfAll`, as the seed endpoint reads them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: PropertyKey.self)
        for (name, value) in properties { try container.encode(value, forKey: PropertyKey(name)) }
        if !subscriptions.isEmpty {
            try container.encode(
                Dictionary(uniqueKeysWithValues: subscriptions.map { (String($0.key), $0.value) }),
                forKey: PropertyKey("subscriptions"))
        }
        if isOptedOutOfAll { try container.encode(true, forKey: PropertyKey("optedOutOfAll")) }
    }
}

/// What `POST /__mock/seed` answers.
struct MockSeedResult: Codable, Sendable {
    var ids: [String]
    var count: Int
}

/// `POST /__mock/tamper`: new values for one record's properties (an empty value removes one).
public struct MockTampering: Codable, Sendable, Equatable {
    public var id: String
    public var properties: [String: String]

    public init(id: String, properties: [String: String]) {
        self.id = id
        self.properties = properties
    }
}

/// `POST /__mock/advance`, and its answer.
struct MockClockAdvance: Codable, Sendable {
    var ms: Int

    struct Result: Codable, Sendable {
        var offsetMs: Int
    }
}

/// One API request as the journal keeps it (`GET /__mock/journal`).
public struct MockJournalEntry: Codable, Sendable, Equatable {
    public var method: String
    /// The path without the query.
    public var path: String
    public var query: String
    public var status: Int
    public var at: Date
    /// Whether the request could change the CRM (reads, searches and batch reads do not).
    public var isMutating: Bool

    init(method: String, path: String, query: String, status: Int, at: Date, isMutating: Bool) {
        self.method = method
        self.path = path
        self.query = query
        self.status = status
        self.at = at
        self.isMutating = isMutating
    }

    enum CodingKeys: String, CodingKey {
        case method, path, query, status, at
        case isMutating = "mutating"
    }
}

extension HubSpotWire {
    /// How the control surface and its client write JSON: times as HubSpot writes them (`…T10:11:12.345Z`).
    static func controlEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        return encoder
    }

    /// How the control client reads the control surface's answers.
    static func controlDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            guard let date = parseTimestamp(try container.decode(String.self)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time")
            }
            return date
        }
        return decoder
    }
}

/// What `GET /__mock/stats` answers: request counts since the start (or the last reset) and what the CRM holds.
public struct MockStats: Codable, Sendable, Equatable {
    /// API requests, the control surface not counted.
    public var total: Int
    public var byEndpoint: [String: Int]
    public var tooManyRequests: Int
    /// Injected faults by kind.
    public var faults: [String: Int]
    public var peakRequestsPerSecond: Int
    /// Requests counted against the daily limit today.
    public var dailyUsed: Int
    /// Live (not archived) contacts.
    public var contacts: Int
    /// Addresses a GDPR delete blocklisted.
    public var blocklisted: Int
}

extension MockSeedContact: ExpressibleByDictionaryLiteral {
    /// `["email": "aino@example.fi", "firstname": "Aino"]`: properties only.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
