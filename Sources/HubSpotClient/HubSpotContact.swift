import Foundation
import SyncCore
import SyncModel

/// A contact as HubSpot's JSON has it, decoded into the core's ``CRMContact``: the record properties the sync reads
/// of every record (`hs_additional_emails`, `hs_merged_object_ids`, `hs_email_optout`, `lastmodifieddate`,
/// `lifecyclestage`) become its typed values.
struct HubSpotContact: Decodable, Sendable {
    var contact: CRMContact

    /// The properties every read asks for besides the caller's: what fills ``CRMContact``'s typed values.
    static let recordProperties = [
        "email", "lastmodifieddate", "hs_email_optout", "hs_merged_object_ids", "hs_additional_emails",
        "lifecyclestage",
    ]

    /// The caller's properties and the record properties, once each, sorted.
    static func asked(_ properties: [String]) -> [String] { Array(Set(properties).union(recordProperties)).sorted() }

    private struct Change: Decodable {
        var value: String
        var timestamp: Date
        var sourceType: String?
        var sourceId: String?
    }

    enum CodingKeys: String, CodingKey {
        case id, properties, propertiesWithHistory, createdAt, updatedAt, archived, objectWriteTraceId
        case isNew = "new"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let raw = try container.decodeIfPresent([String: String?].self, forKey: .properties) ?? [:]
        // HubSpot's nulls are dropped: an unset property is absent.
        let properties = raw.compactMapValues { $0 }
        let history = try container.decodeIfPresent([String: [Change]].self, forKey: .propertiesWithHistory) ?? [:]
        let updatedAt = try container.decodeIfPresent(Date.self, forKey: .updatedAt)
        contact = CRMContact(
            id: try container.decode(String.self, forKey: .id),
            email: properties["email"],
            properties: properties,
            propertiesWithHistory: history.mapValues {
                $0.map {
                    PropertyChange(
                        value: $0.value, timestamp: $0.timestamp, sourceType: $0.sourceType, sourceId: $0.sourceId)
                }
            },
            // Semicolon-separated lists.
            additionalEmails: (properties["hs_additional_emails"] ?? "").split(separator: ";")
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty },
            mergedIds: (properties["hs_merged_object_ids"] ?? "").split(separator: ";").map(String.init)
                .filter { !$0.isEmpty },
            // Read-only: set through the subscriptions API's unsubscribe-all, never by a contact write.
            isOptedOutOfAllEmail: properties["hs_email_optout"] == "true",
            // What the incremental pull orders by; `updatedAt` where the answer leaves it out.
            lastModified: properties["lastmodifieddate"].flatMap(HubSpotTime.parse) ?? updatedAt,
            lifecycleStage: properties["lifecyclestage"],
            createdAt: try container.decodeIfPresent(Date.self, forKey: .createdAt),
            archived: try container.decodeIfPresent(Bool.self, forKey: .archived) ?? false,
            traceId: try container.decodeIfPresent(String.self, forKey: .objectWriteTraceId),
            isNew: try container.decodeIfPresent(Bool.self, forKey: .isNew))
    }
}

extension BatchFailure {
    /// A failure of one input, its category HubSpot's (or crmsync's own: `INVALID_EMAIL`, `MISSING_RESULT`).
    static func hubSpot(
        key: String, category: String, message: String, requiredProperties: RequiredPropertyRefusal? = nil
    ) -> BatchFailure {
        BatchFailure(
            key: key, category: category, message: message,
            isRefusal: !HubSpotClient.retryableCategories.contains(category)
                && !["MISSING_RESULT", "UNKNOWN"].contains(category),
            requiredProperties: requiredProperties)
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
