import Foundation
import SyncModel

/// Every HubSpot endpoint crmsync calls, independent of the API generation it is spoken in.
enum Endpoint: Sendable, Equatable {
    /// `GET` (cursor listing) on the contacts collection.
    case contacts
    /// One contact; the key is already percent-encoded for a path segment.
    case contact(String)
    case contactsBatch(BatchOperation)
    case contactsSearch
    case contactsMerge
    case contactsGDPRDelete
    /// The contact object's property definitions.
    case contactProperties
    case subscriptionDefinitions
    /// Subscription statuses (v4 and date versions); the sub-path follows `statuses/`.
    case statuses(StatusOperation)

    enum BatchOperation: String, Sendable {
        case read, create, update, upsert, archive
    }

    enum StatusOperation: Sendable, Equatable {
        case batchRead
        case batchWrite
        case unsubscribeAll
        case unsubscribeAllRead

        var subPath: String {
            switch self {
            case .batchRead: "batch/read"
            case .batchWrite: "batch/write"
            case .unsubscribeAll: "batch/unsubscribe-all"
            case .unsubscribeAllRead: "batch/unsubscribe-all/read"
            }
        }
    }
}

extension CRMAPIVersion {
    /// The one place that knows HubSpot's paths: `/crm/objects/2026-09/contacts/search`, or
    /// `/crm/v3/objects/contacts/search` on the legacy generation. The version is only in the path.
    func path(for endpoint: Endpoint) -> String {
        let objects: String
        let properties: String
        let preferences: String
        let definitions: String
        switch self {
        case .legacy:
            objects = "/crm/v3/objects/contacts"
            properties = "/crm/v3/properties/contacts"
            preferences = "/communication-preferences/v4/statuses"
            definitions = "/communication-preferences/v3/definitions"
        case .v2026_03, .v2026_09:
            objects = "/crm/objects/\(rawValue)/contacts"
            properties = "/crm/properties/\(rawValue)/contacts"
            preferences = "/communication-preferences/\(rawValue)/statuses"
            definitions = "/communication-preferences/\(rawValue)/definitions"
        }
        switch endpoint {
        case .contacts: return objects
        case .contact(let key): return "\(objects)/\(key)"
        case .contactsBatch(let operation): return "\(objects)/batch/\(operation.rawValue)"
        case .contactsSearch: return "\(objects)/search"
        case .contactsMerge: return "\(objects)/merge"
        case .contactsGDPRDelete: return "\(objects)/gdpr-delete"
        case .contactProperties: return properties
        case .subscriptionDefinitions: return definitions
        case .statuses(let operation): return "\(preferences)/\(operation.subPath)"
        }
    }

    /// Whether subscription definitions come in the v4 shape (`results`, integer ids) or the legacy v3 one.
    var definitionsAreV4Shaped: Bool { self != .legacy }
}
