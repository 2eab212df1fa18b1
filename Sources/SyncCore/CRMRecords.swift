import Foundation
import SyncModel

/// A contact as the CRM holds it: its id, the values of the properties asked for, and what the sync reads of
/// every record whatever a read asked for (its addresses, the ids merged into it, its opt-out of all email, its
/// lifecycle stage, when it last changed), which the adapter fills in from the CRM's own properties.
public struct CRMContact: Sendable, Equatable {
    public var id: String
    /// The values of the properties asked for, by the CRM's property name; unset properties are absent.
    public var properties: [String: String]
    /// Newest first, for the properties whose history was asked for.
    public var propertiesWithHistory: [String: [PropertyChange]]
    /// The record's primary address, as the CRM spells it.
    public var email: String?
    /// Secondary addresses the record carries (a merge leaves the merged record's address on its survivor),
    /// lower-cased.
    public var additionalEmails: [String]
    /// Ids of the records merged into this one.
    public var mergedIds: [String]
    /// Whether the address is opted out of all email (the objection to direct marketing). Read-only on a record:
    /// written through ``CRMPort/unsubscribeFromAll(_:)``, never by a contact write.
    public var isOptedOutOfAllEmail: Bool
    /// When the record last changed, by the CRM's clock: what the incremental pull orders by.
    public var lastModified: Date?
    /// The stage of the relationship the CRM records (`subscriber`, `lead`, `customer`, …), when set: the retention
    /// sweep keeps a customer's data.
    public var lifecycleStage: String?
    public var createdAt: Date?
    public var archived: Bool
    /// The caller's trace id, on batch results.
    public var traceId: String?
    /// On upsert results: whether the record was created.
    public var isNew: Bool?

    public init(
        id: String, email: String? = nil, properties: [String: String] = [:],
        propertiesWithHistory: [String: [PropertyChange]] = [:], additionalEmails: [String] = [],
        mergedIds: [String] = [], isOptedOutOfAllEmail: Bool = false, lastModified: Date? = nil,
        lifecycleStage: String? = nil, createdAt: Date? = nil, archived: Bool = false, traceId: String? = nil,
        isNew: Bool? = nil
    ) {
        self.id = id
        self.email = email
        self.properties = properties
        self.propertiesWithHistory = propertiesWithHistory
        self.additionalEmails = additionalEmails
        self.mergedIds = mergedIds
        self.isOptedOutOfAllEmail = isOptedOutOfAllEmail
        self.lastModified = lastModified
        self.lifecycleStage = lifecycleStage
        self.createdAt = createdAt
        self.archived = archived
        self.traceId = traceId
        self.isNew = isNew
    }

    /// Every address the record carries: its email, then its secondary ones, lower-cased.
    public var addresses: [String] { (email.map { [$0.lowercased()] } ?? []) + additionalEmails }
}

/// One value in a property's history.
public struct PropertyChange: Sendable, Equatable {
    public var value: String
    public var timestamp: Date
    /// Who made the change, in the CRM's words (`CRM_UI`, `INTEGRATION`, …), when it says.
    public var sourceType: String?
    public var sourceId: String?

    public init(value: String, timestamp: Date, sourceType: String? = nil, sourceId: String? = nil) {
        self.value = value
        self.timestamp = timestamp
        self.sourceType = sourceType
        self.sourceId = sourceId
    }
}

/// One page of the full listing, with the cursor that continues after it (nil on the last page).
public struct ContactPage: Sendable {
    public var contacts: [CRMContact]
    public var nextCursor: String?

    public init(contacts: [CRMContact], nextCursor: String?) {
        self.contacts = contacts
        self.nextCursor = nextCursor
    }
}

/// One page of changes, with the watermark to resume from: every record modified before it was returned.
public struct ChangePage: Sendable {
    public var contacts: [CRMContact]
    /// All records modified strictly before this were returned by this page or earlier ones.
    public var watermark: Date
    /// How many records the feed's first query matched: the size of the feed when it started, which a run's budget
    /// estimate takes from its first page rather than from a query of its own.
    public var total: Int

    public init(contacts: [CRMContact], watermark: Date, total: Int) {
        self.contacts = contacts
        self.watermark = watermark
        self.total = total
    }
}

/// One contact to create or update by email.
public struct ContactUpsert: Sendable, Equatable {
    public var email: String
    /// Mapped properties to write. Never consent or the opt-out: they go through the subscription calls only.
    public var properties: [String: String]

    public init(email: String, properties: [String: String]) {
        self.email = email
        self.properties = properties
    }
}

/// One contact to update by CRM id.
public struct ContactUpdate: Sendable, Equatable {
    public var id: String
    public var properties: [String: String]

    public init(id: String, properties: [String: String]) {
        self.id = id
        self.properties = properties
    }
}

/// One input of a batch that the CRM did not apply, reported per record.
public struct BatchFailure: Sendable, Equatable, CustomStringConvertible {
    /// The caller's key for the input (an email or an id). Personal data: print ``maskedKey``.
    public var key: String
    /// The CRM's category, or crmsync's own (`INVALID_EMAIL` found before sending, `MISSING_RESULT`).
    public var category: String
    public var message: String
    /// Whether sending the same input again cannot succeed: the CRM refused it (validation, a conflict, a
    /// blocklisted address) rather than failing to process it. The adapter knows which of its categories are which.
    public var isRefusal: Bool
    /// Set when the portal refused the input for missing required properties (names only).
    public var requiredProperties: RequiredPropertyRefusal?

    public init(
        key: String, category: String, message: String, isRefusal: Bool,
        requiredProperties: RequiredPropertyRefusal? = nil
    ) {
        self.key = key
        self.category = category
        self.message = message
        self.isRefusal = isRefusal
        self.requiredProperties = requiredProperties
    }

    /// The key, an address masked (`a***@example.fi`); a record id as it is.
    public var maskedKey: String { key.contains("@") ? PersonalData.mask(email: key) : key }

    /// What a person must fix, without personal data: the category, or the missing properties by name.
    public var reason: String {
        guard let requiredProperties else { return category }
        let noun = requiredProperties.properties.count == 1 ? "property" : "properties"
        return "required \(noun) missing: \(requiredProperties.properties.joined(separator: ", "))"
    }

    /// Masked key and reason; the CRM's message may quote the address, so it is left out.
    public var description: String { "\(maskedKey): \(reason)" }
}

/// The portal refused a write because it lacks properties the admin made required.
public struct RequiredPropertyRefusal: Sendable, Equatable {
    /// The CRM's code, e.g. `MISSING_REQUIRED_PROPERTY` or `MISSING_CONDITIONAL_REQUIRED_PROPERTY`.
    public var code: String
    /// Property names, never values.
    public var properties: [String]

    public init(code: String, properties: [String]) {
        self.code = code
        self.properties = properties
    }
}

/// What a batch write did: the records written, by key, and the inputs that failed.
public struct BatchOutcome: Sendable {
    /// The CRM's answer for each input written: the record's id, address and modification time, and the properties
    /// written. A write's answer is not a read: the other typed values (merged ids, secondary addresses, the opt-out)
    /// are not filled.
    public var written: [String: CRMContact] = [:]
    public var failures: [BatchFailure] = []

    public init() {}

    public mutating func merge(_ other: BatchOutcome) {
        written.merge(other.written) { first, _ in first }
        failures += other.failures
    }
}

/// A subscription type of the portal (a purpose of the privacy notice).
public struct SubscriptionDefinition: Sendable, Equatable {
    /// The id as text, as `sync.json` names it.
    public var id: String
    public var name: String
    public var isActive: Bool?

    public init(id: String, name: String, isActive: Bool?) {
        self.id = id
        self.name = name
        self.isActive = isActive
    }
}

/// One subscription status of one address.
public struct SubscriptionStatus: Sendable, Equatable {
    public var subscriptionId: Int
    /// The decision: granted (subscribed), withdrawn (unsubscribed), or none.
    public var state: ConsentState
    public var timestamp: Date?
    /// The legal basis as the CRM names it (``LegalBasis``'s raw values), when it gives one.
    public var legalBasis: String?
    public var legalBasisExplanation: String?
    public var source: String?

    public init(
        subscriptionId: Int, state: ConsentState, timestamp: Date? = nil, legalBasis: String? = nil,
        legalBasisExplanation: String? = nil, source: String? = nil
    ) {
        self.subscriptionId = subscriptionId
        self.state = state
        self.timestamp = timestamp
        self.legalBasis = legalBasis
        self.legalBasisExplanation = legalBasisExplanation
        self.source = source
    }
}

/// A status to write: consent goes to the CRM only this way, with its legal basis.
public struct SubscriptionWrite: Sendable, Equatable {
    public var email: String
    public var subscriptionId: Int
    public var state: ConsentState
    public var legalBasis: String?
    public var legalBasisExplanation: String?

    public init(
        email: String, subscriptionId: Int, state: ConsentState, legalBasis: String?,
        legalBasisExplanation: String? = nil
    ) {
        self.email = email
        self.subscriptionId = subscriptionId
        self.state = state
        self.legalBasis = legalBasis
        self.legalBasisExplanation = legalBasisExplanation
    }
}

/// What a batch of status writes did: the inputs the CRM refused, and its time for each status it wrote.
public struct SubscriptionWriteOutcome: Sendable {
    public var failures: [BatchFailure]
    /// The CRM's time for each status written, by lower-cased address and subscription id (absent where its answer
    /// gave none).
    public var writtenAt: [WrittenStatus: Date]

    public init(failures: [BatchFailure] = [], writtenAt: [WrittenStatus: Date] = [:]) {
        self.failures = failures
        self.writtenAt = writtenAt
    }
}

/// One status written: the address (lower-cased) and the subscription.
public struct WrittenStatus: Hashable, Sendable {
    public var email: String
    public var subscriptionId: Int

    public init(email: String, subscriptionId: Int) {
        self.email = email.lowercased()
        self.subscriptionId = subscriptionId
    }
}

/// What crmsync needs a permission of the CRM's for.
public enum CRMCapability: String, Sendable, Equatable, CaseIterable {
    case readContacts, writeContacts, readPropertyDefinitions, readSubscriptionDefinitions, readStatuses,
        writeStatuses
}

/// Whether the credentials hold one permission crmsync needs, found by a call that needs it and changes nothing.
public struct ScopeStatus: Sendable, Equatable, Codable {
    /// The CRM's name for the permission.
    public var scope: String
    /// What crmsync does with it.
    public var usedFor: String
    public var granted: Bool
    /// What the sync needs it for (not in the JSON of `crmsync check`: `usedFor` says it in words).
    public var capability: CRMCapability?

    public init(scope: String, usedFor: String, granted: Bool, capability: CRMCapability? = nil) {
        self.scope = scope
        self.usedFor = usedFor
        self.granted = granted
        self.capability = capability
    }

    enum CodingKeys: String, CodingKey { case scope, usedFor, granted }
}

/// One property definition of the contact object: its type, options and whether the CRM lets a write set it.
public struct CRMPropertyDefinition: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case string, number, date, datetime, enumeration, bool
        case other
    }

    public var name: String
    public var type: Kind
    /// How the CRM shows it (`checkbox` for a multi-select enumeration).
    public var fieldType: String?
    /// The allowed values of an enumeration, exactly as they must be written.
    public var options: [String]
    public var calculated: Bool
    public var readOnlyValue: Bool

    public init(
        name: String, type: Kind, fieldType: String? = nil, options: [String] = [], calculated: Bool = false,
        readOnlyValue: Bool = false
    ) {
        self.name = name
        self.type = type
        self.fieldType = fieldType
        self.options = options
        self.calculated = calculated
        self.readOnlyValue = readOnlyValue
    }

    /// Whether a write may set it: neither read-only nor calculated.
    public var isWritable: Bool { !readOnlyValue && !calculated }

    /// Why `value` cannot be written to this property (without quoting the value); nil when it fits.
    public func problem(with value: String) -> String? {
        switch type {
        case .string, .other:
            return nil
        case .enumeration:
            // Multi-select (checkbox) properties take several options separated by semicolons.
            let values = fieldType == "checkbox" ? value.split(separator: ";").map(String.init) : [value]
            return values.allSatisfy(options.contains)
                ? nil : "is not one of the \(options.count) options of \(name) (values must match exactly)"
        case .number:
            let plain = value.allSatisfy { $0.isNumber || $0 == "." || $0 == "-" || $0 == "e" || $0 == "E" }
            return plain && Double(value) != nil ? nil : "is not a number \(name) accepts (digits, no separators)"
        case .bool:
            return ["true", "false"].contains(value) ? nil : "is not true or false, as \(name) needs"
        case .date:
            return Int64(value) != nil || (value.count == 10 && Date(iso8601: value + "T00:00:00Z") != nil)
                ? nil : "is not a date (YYYY-MM-DD) for \(name)"
        case .datetime:
            return Int64(value) != nil || Date(iso8601: value) != nil ? nil : "is not a date and time for \(name)"
        }
    }
}

/// The CRM client's counters for one run: what the run report shows.
public struct ClientMetrics: Sendable, Equatable {
    public var requests = 0
    public var retries = 0
    public var rateLimited = 0
    public var serverErrors = 0
    public var transportErrors = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    /// Requests by endpoint name (ids replaced by `{id}`).
    public var byEndpoint: [String: Int] = [:]

    public init() {}
}
