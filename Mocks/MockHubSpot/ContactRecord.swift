import Foundation

/// One value in a property's history, newest first in `propertiesWithHistory`.
struct PropertyChange: Sendable {
    var value: String?
    var timestamp: Date
    var sourceType: String
    var sourceId: String
}

/// A contact as the mock CRM keeps it.
struct ContactRecord: Sendable {
    var id: String
    var properties: [String: String]
    var history: [String: [PropertyChange]]
    var createdAt: Date
    var updatedAt: Date
    var archived = false
    /// Ids merged into this record, oldest first (`hs_merged_object_ids`).
    var mergedIds: [String] = []
    /// What search sees while the index lags: the record as of its previous indexing, and when the current
    /// version becomes visible.
    var indexedVersion: IndexedVersion?
    var indexDueAt: Date = .distantPast

    struct IndexedVersion: Sendable {
        var properties: [String: String]
        var updatedAt: Date
    }

    var email: String? { properties["email"] }

    /// Secondary addresses a merge left on the record (`hs_additional_emails`, semicolon-separated).
    var additionalEmails: [String] {
        (properties["hs_additional_emails"] ?? "").split(separator: ";").map(String.init).filter { !$0.isEmpty }
    }

    /// Sets properties (already validated), recording history and moving `lastmodifieddate`.
    mutating func apply(_ changes: [String: String?], at now: Date, source: String, searchLag: TimeInterval) {
        if searchLag > 0 {
            if now >= indexDueAt || indexedVersion == nil {
                indexedVersion = IndexedVersion(properties: properties, updatedAt: updatedAt)
            }
            indexDueAt = now.addingTimeInterval(searchLag)
        }
        for (name, value) in changes {
            let normalized = name == "email" ? value?.lowercased() : value
            if let normalized { properties[name] = normalized } else { properties.removeValue(forKey: name) }
            history[name, default: []].insert(
                PropertyChange(value: normalized, timestamp: now, sourceType: "API", sourceId: source), at: 0)
        }
        touch(at: now)
    }

    /// Moves `lastmodifieddate` without changing properties (subscription changes, merges).
    mutating func touch(at now: Date) {
        updatedAt = now
        properties["lastmodifieddate"] = HubSpotWire.timestamp(now)
    }

    /// The version search sees at `now`.
    func searchable(at now: Date) -> (properties: [String: String], updatedAt: Date)? {
        if now < indexDueAt {
            guard let indexedVersion else { return nil }
            return (indexedVersion.properties, indexedVersion.updatedAt)
        }
        return (properties, updatedAt)
    }

    static let defaultProperties = ["email", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id"]
    static let alwaysReturned = ["createdate", "lastmodifieddate", "hs_object_id"]

    /// The record as HubSpot returns it: asked-for properties (null when unset) and optional history.
    func json(properties asked: [String]?, withHistory: [String], propertiesOverride: [String: String]? = nil)
        -> [String: Any]
    {
        let source = propertiesOverride ?? properties
        var names = asked.map { $0 + Self.alwaysReturned } ?? Self.defaultProperties
        if !mergedIds.isEmpty && asked?.contains("hs_merged_object_ids") != true && asked == nil {
            names.append("hs_merged_object_ids")
        }
        var rendered: [String: Any] = [:]
        for name in names { rendered[name] = source[name] ?? NSNull() }
        var object: [String: Any] = [
            "id": id, "properties": rendered,
            "createdAt": properties["createdate"] ?? HubSpotWire.timestamp(createdAt),
            "updatedAt": (propertiesOverride ?? properties)["lastmodifieddate"] ?? HubSpotWire.timestamp(updatedAt),
            "archived": archived,
        ]
        if archived { object["archivedAt"] = HubSpotWire.timestamp(updatedAt) }
        if !withHistory.isEmpty {
            var histories: [String: Any] = [:]
            for name in withHistory {
                histories[name] = (history[name] ?? []).map { change -> [String: Any] in
                    [
                        "value": change.value ?? "", "timestamp": HubSpotWire.timestamp(change.timestamp),
                        "sourceType": change.sourceType, "sourceId": change.sourceId, "updatedByUserId": 0,
                    ]
                }
            }
            object["propertiesWithHistory"] = histories
        }
        return object
    }
}

/// The subscription state of one email address (communication preferences).
struct SubscriberRecord: Sendable {
    struct Status: Sendable {
        var state: String  // SUBSCRIBED, UNSUBSCRIBED, NOT_SPECIFIED
        var timestamp: Date
        var legalBasis: String?
        var legalBasisExplanation: String?
        var source: String
    }

    var statuses: [Int: Status] = [:]
    var optedOutOfAll = false
    var optedOutAt: Date?
}

/// The subscription types of the portal (communication preferences definitions).
struct SubscriptionDefinition: Sendable {
    var id: Int
    var name: String
    var description: String
    var isActive = true

    static let defaults = [
        SubscriptionDefinition(id: 7, name: "Newsletter", description: "Uutiskirjeet / newsletters"),
        SubscriptionDefinition(id: 8, name: "Marketing Email", description: "Markkinointiviestinnän sähköpostit"),
        SubscriptionDefinition(id: 9, name: "Event Invitations", description: "Tapahtumakutsut / event invitations"),
        SubscriptionDefinition(id: 10, name: "Blog", description: "Blogikirjoitukset / blog posts"),
    ]
}
