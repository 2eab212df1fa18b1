import Foundation
import SyncModel

/// A contact as HubSpot returns it.
public struct CRMContact: Decodable, Sendable, Equatable {
    public var id: String
    /// Property values; unset properties are absent (HubSpot's nulls are dropped).
    public var properties: [String: String]
    /// Newest first, for the properties asked for.
    public var propertiesWithHistory: [String: [PropertyChange]]
    public var createdAt: Date?
    public var updatedAt: Date?
    public var archived: Bool
    /// The caller's trace id, on batch results.
    public var objectWriteTraceId: String?
    /// On upsert results: whether the record was created.
    public var isNew: Bool?

    public init(id: String, properties: [String: String], archived: Bool = false) {
        self.id = id
        self.properties = properties
        self.propertiesWithHistory = [:]
        self.archived = archived
    }

    enum CodingKeys: String, CodingKey {
        case id, properties, propertiesWithHistory, createdAt, updatedAt, archived, objectWriteTraceId
        case isNew = "new"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        let raw = try container.decodeIfPresent([String: String?].self, forKey: .properties) ?? [:]
        properties = raw.compactMapValues { $0 }
        propertiesWithHistory =
            try container.decodeIfPresent([String: [PropertyChange]].self, forKey: .propertiesWithHistory) ?? [:]
        createdAt = try container.decodeIfPresent(Date.self, forKey: .createdAt)
        updatedAt = try container.decodeIfPresent(Date.self, forKey: .updatedAt)
        archived = try container.decodeIfPresent(Bool.self, forKey: .archived) ?? false
        objectWriteTraceId = try container.decodeIfPresent(String.self, forKey: .objectWriteTraceId)
        isNew = try container.decodeIfPresent(Bool.self, forKey: .isNew)
    }

    public var email: String? { properties["email"] }

    /// `lastmodifieddate` (what the incremental pull orders by), else `updatedAt`.
    public var lastModified: Date? { properties["lastmodifieddate"].flatMap(HubSpotTime.parse) ?? updatedAt }

    /// Whether the address is opted out of all email (`hs_email_optout`, read-only: set through the
    /// subscriptions API's unsubscribe-all, never by a contact write).
    public var isOptedOutOfAllEmail: Bool { properties["hs_email_optout"] == "true" }

    /// The properties the sync reads beyond the mapped ones: the email, the modification time, the opt-out of
    /// all email, the merged ids and the secondary addresses.
    public static let syncProperties = [
        "email", "lastmodifieddate", "hs_email_optout", "hs_merged_object_ids", "hs_additional_emails",
    ]

    /// Secondary addresses the record carries (`hs_additional_emails`, semicolon-separated: a merge leaves the merged
    /// record's address on its survivor), lower-cased.
    public var additionalEmails: [String] {
        (properties["hs_additional_emails"] ?? "").split(separator: ";")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
    }

    /// Every address the record carries: its email, then its secondary ones, lower-cased.
    public var addresses: [String] { (email.map { [$0.lowercased()] } ?? []) + additionalEmails }

    /// Ids merged into this record (`hs_merged_object_ids`).
    public var mergedIds: [String] {
        (properties["hs_merged_object_ids"] ?? "").split(separator: ";").map(String.init).filter { !$0.isEmpty }
    }
}

/// One value in a property's history.
public struct PropertyChange: Decodable, Sendable, Equatable {
    public var value: String
    public var timestamp: Date
    public var sourceType: String?
    public var sourceId: String?
}

/// One input of a batch that HubSpot did not apply, reported per record.
public struct BatchFailure: Sendable, Equatable, CustomStringConvertible {
    /// The caller's key for the input (an email or an id). Personal data: print ``maskedKey``.
    public var key: String
    /// HubSpot's category, or crmsync's own (`INVALID_EMAIL` found before sending, `MISSING_RESULT`).
    public var category: String
    public var message: String
    /// Set when the portal refused the input for missing required properties (names only).
    public var requiredProperties: RequiredPropertyRefusal?

    public init(key: String, category: String, message: String, requiredProperties: RequiredPropertyRefusal? = nil) {
        self.key = key
        self.category = category
        self.message = message
        self.requiredProperties = requiredProperties
    }

    /// The key, an address masked (`a***@example.fi`); a record id as it is.
    public var maskedKey: String { key.contains("@") ? PersonalData.mask(email: key) : key }

    /// Whether sending the same input again cannot succeed: the CRM refused it (validation, a conflict, a
    /// blocklisted address) rather than failing to process it.
    public var isRefusal: Bool {
        !HubSpotClient.retryableCategories.contains(category) && !["MISSING_RESULT", "UNKNOWN"].contains(category)
    }

    /// What a person must fix, without personal data: the category, or the missing properties by name.
    public var reason: String {
        guard let requiredProperties else { return category }
        let noun = requiredProperties.properties.count == 1 ? "property" : "properties"
        return "required \(noun) missing: \(requiredProperties.properties.joined(separator: ", "))"
    }

    /// Masked key and reason; the CRM's message may quote the address, so it is left out.
    public var description: String { "\(maskedKey): \(reason)" }
}

/// What a batch write did: the records written, by key, and the inputs that failed.
public struct BatchOutcome: Sendable {
    public var written: [String: CRMContact] = [:]
    public var failures: [BatchFailure] = []

    public init() {}

    mutating func merge(_ other: BatchOutcome) {
        written.merge(other.written) { first, _ in first }
        failures += other.failures
    }
}

/// HubSpot's batch envelope.
struct BatchEnvelope<Result: Decodable & Sendable>: Decodable, Sendable {
    var status: String?
    var results: [Result]
    var errors: [BatchErrorBody]?
}

struct BatchErrorBody: Decodable, Sendable {
    var status: String?
    var category: String?
    var message: String?
    var context: ErrorContext?
    var errors: [ErrorDetail]?
    var objectWriteTraceId: String?

    var requiredProperties: RequiredPropertyRefusal? { RequiredPropertyRefusal(errors: errors, context: context) }
}
