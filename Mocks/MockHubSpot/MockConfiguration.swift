import Foundation

/// The mock's limits and faults, as `PUT /__mock/config` sets them (any subset of keys).
public struct MockConfiguration: Codable, Sendable, Equatable {
    public struct RateLimit: Codable, Sendable, Equatable {
        public var max: Int
        public var intervalMs: Int

        public init(max: Int = 100, intervalMs: Int = 10_000) {
            self.max = max
            self.intervalMs = intervalMs
        }
    }

    /// Faults drawn from a seeded generator, so a test sees the same sequence every run.
    public struct Faults: Codable, Sendable, Equatable {
        public var seed: UInt64 = 1
        /// Probability of a 500, 502 or 503 with an HTML body.
        public var serverErrorRate: Double = 0
        /// Probability that a 429 storm starts; a storm answers `stormLength` requests in a row with 429.
        public var stormRate: Double = 0
        public var stormLength: Int = 5
        /// Probability of `slowMs` of added latency.
        public var slowRate: Double = 0
        public var slowMs: Int = 0
        /// Probability of a dropped connection (headers sent, then the connection closes, no body).
        public var dropRate: Double = 0
        /// Probability of a truncated body (half the bytes, then the connection closes).
        public var truncateRate: Double = 0
        /// Path prefixes the faults apply to; empty means every API path.
        public var endpoints: [String] = []

        public init() {}

        enum CodingKeys: String, CodingKey {
            case seed, serverErrorRate, stormRate, stormLength, slowRate, slowMs, dropRate, truncateRate, endpoints
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Faults()
            seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
            serverErrorRate = try c.decodeIfPresent(Double.self, forKey: .serverErrorRate) ?? d.serverErrorRate
            stormRate = try c.decodeIfPresent(Double.self, forKey: .stormRate) ?? d.stormRate
            stormLength = try c.decodeIfPresent(Int.self, forKey: .stormLength) ?? d.stormLength
            slowRate = try c.decodeIfPresent(Double.self, forKey: .slowRate) ?? d.slowRate
            slowMs = try c.decodeIfPresent(Int.self, forKey: .slowMs) ?? d.slowMs
            dropRate = try c.decodeIfPresent(Double.self, forKey: .dropRate) ?? d.dropRate
            truncateRate = try c.decodeIfPresent(Double.self, forKey: .truncateRate) ?? d.truncateRate
            endpoints = try c.decodeIfPresent([String].self, forKey: .endpoints) ?? d.endpoints
        }
    }

    /// A property that must have a value after a write when the record matches `when` (all of its values).
    public struct ConditionalRequirement: Codable, Sendable, Equatable {
        public var when: [String: String]
        public var require: [String]

        public init(when: [String: String], require: [String]) {
            self.when = when
            self.require = require
        }
    }

    /// How a batch write that misses a required property fails: the whole batch (`400`, the default) or
    /// only that input (`207`); HubSpot does not document which.
    public enum RequiredPropertyFailure: String, Codable, Sendable, Equatable {
        case batch
        case perInput
    }

    public var rateLimit = RateLimit()
    public var dailyLimit = 250_000
    public var searchPerSecond = 5
    /// The search bucket's window: one second at HubSpot; longer in tests that must not depend on timing.
    public var searchWindowMs = 1_000
    /// Latency added to every API request.
    public var latencyMs = 0
    /// How long a write takes to reach the search index.
    public var searchLagMs = 0
    /// Whether a 429 carries `Retry-After` (HubSpot does not promise one).
    public var retryAfter = true
    public var faults = Faults()
    /// Properties the portal's admin made required: enforced on date-versioned writes from 2026-09 on.
    public var requiredProperties: [String] = []
    public var conditionalRequired: [ConditionalRequirement] = []
    public var requiredPropertyFailure = RequiredPropertyFailure.batch
    /// The token's scopes; nil grants every scope crmsync needs.
    public var scopes: [String]?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case rateLimit, dailyLimit, searchPerSecond, searchWindowMs, latencyMs, searchLagMs, retryAfter, faults
        case requiredProperties, conditionalRequired, requiredPropertyFailure, scopes
    }

    static let keys = [
        "rateLimit", "dailyLimit", "searchPerSecond", "searchWindowMs", "latencyMs", "searchLagMs", "retryAfter",
        "faults", "requiredProperties", "conditionalRequired", "requiredPropertyFailure", "scopes",
    ]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = MockConfiguration()
        rateLimit = try c.decodeIfPresent(RateLimit.self, forKey: .rateLimit) ?? d.rateLimit
        dailyLimit = try c.decodeIfPresent(Int.self, forKey: .dailyLimit) ?? d.dailyLimit
        searchPerSecond = try c.decodeIfPresent(Int.self, forKey: .searchPerSecond) ?? d.searchPerSecond
        searchWindowMs = try c.decodeIfPresent(Int.self, forKey: .searchWindowMs) ?? d.searchWindowMs
        latencyMs = try c.decodeIfPresent(Int.self, forKey: .latencyMs) ?? d.latencyMs
        searchLagMs = try c.decodeIfPresent(Int.self, forKey: .searchLagMs) ?? d.searchLagMs
        retryAfter = try c.decodeIfPresent(Bool.self, forKey: .retryAfter) ?? d.retryAfter
        faults = try c.decodeIfPresent(Faults.self, forKey: .faults) ?? d.faults
        requiredProperties = try c.decodeIfPresent([String].self, forKey: .requiredProperties) ?? d.requiredProperties
        conditionalRequired =
            try c.decodeIfPresent([ConditionalRequirement].self, forKey: .conditionalRequired) ?? d.conditionalRequired
        requiredPropertyFailure =
            try c.decodeIfPresent(RequiredPropertyFailure.self, forKey: .requiredPropertyFailure)
            ?? d.requiredPropertyFailure
        scopes = try c.decodeIfPresent([String].self, forKey: .scopes)
    }

    /// Every key, `scopes` as `null` when nil: a whole configuration put back (`MockControlClient.configure(_:)`)
    /// must clear scopes a test set earlier, and an absent key would keep them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rateLimit, forKey: .rateLimit)
        try c.encode(dailyLimit, forKey: .dailyLimit)
        try c.encode(searchPerSecond, forKey: .searchPerSecond)
        try c.encode(searchWindowMs, forKey: .searchWindowMs)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encode(searchLagMs, forKey: .searchLagMs)
        try c.encode(retryAfter, forKey: .retryAfter)
        try c.encode(faults, forKey: .faults)
        try c.encode(requiredProperties, forKey: .requiredProperties)
        try c.encode(conditionalRequired, forKey: .conditionalRequired)
        try c.encode(requiredPropertyFailure, forKey: .requiredPropertyFailure)
        if let scopes { try c.encode(scopes, forKey: .scopes) } else { try c.encodeNil(forKey: .scopes) }
    }

    /// Decodes a subset of keys on top of `base`.
    static func merging(_ data: Data, into base: MockConfiguration) throws -> MockConfiguration {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ReplyError(.validation("config must be a JSON object"))
        }
        let known = Set(keys)
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw ReplyError(.validation("unknown config key \(unknown)"))
        }
        var merged = (try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as? [String: Any]) ?? [:]
        for (key, value) in object {
            if let nested = value as? [String: Any], var existing = merged[key] as? [String: Any] {
                for (innerKey, innerValue) in nested { existing[innerKey] = innerValue }
                merged[key] = existing
            } else {
                merged[key] = value
            }
        }
        let configuration = try JSONDecoder().decode(
            MockConfiguration.self, from: JSONSerialization.data(withJSONObject: merged))
        guard configuration.rateLimit.max > 0, configuration.rateLimit.intervalMs > 0, configuration.dailyLimit > 0,
            configuration.searchPerSecond > 0
        else { throw ReplyError(.validation("limits must be positive")) }
        return configuration
    }
}
