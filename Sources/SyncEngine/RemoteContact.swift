import Foundation
import SyncCore
import SyncModel

/// A CRM record as the planner sees it: mapped field values in local form, the times fields changed
/// (when history was read), per-purpose subscription states, and the opt-out of all email.
struct RemoteContact: Sendable {
    var crmId: String
    var email: EmailAddress?
    var values: [ContactField: String]
    /// Fields the CRM holds in a form the register refuses (e.g. a phone of letters): left untouched.
    var invalidFields: [ContactField]
    /// Why each of ``invalidFields`` was refused (the rule, never the value).
    var invalidReasons: [ContactField: String] = [:]
    /// Newest history timestamp per field, when history was read.
    var fieldTimes: [ContactField: Date]
    var lastModified: Date?
    var archived: Bool
    var mergedIds: [String]
    var consents: [Purpose: (state: ConsentState, at: Date?, legalBasis: LegalBasis?)]
    var isOptedOut: Bool
    var optedOutAt: Date?

    /// A record as the planner sees it, given directly (the planner's table tests build these).
    init(
        crmId: String, email: EmailAddress?, values: [ContactField: String] = [:],
        consents: [Purpose: (state: ConsentState, at: Date?, legalBasis: LegalBasis?)] = [:], isOptedOut: Bool = false,
        optedOutAt: Date? = nil, lastModified: Date? = nil, fieldTimes: [ContactField: Date] = [:],
        archived: Bool = false
    ) {
        self.crmId = crmId
        self.email = email
        var values = values
        if let email { values[.email] = email.normalized }
        self.values = values
        invalidFields = []
        self.fieldTimes = fieldTimes
        self.lastModified = lastModified
        self.archived = archived
        mergedIds = []
        self.consents = consents
        self.isOptedOut = isOptedOut
        self.optedOutAt = optedOutAt
    }

    init(
        _ record: CRMContact, settings: SyncSettings, statuses: [SubscriptionStatus]?, optedOutAt: Date? = nil
    ) {
        crmId = record.id
        email = record.email.flatMap { try? EmailAddress($0) }
        var values: [ContactField: String] = [:]
        var invalid: [ContactField] = []
        var times: [ContactField: Date] = [:]
        for (field, property) in settings.mapping where field != .email {
            if let raw = record.properties[property] {
                do throws(ValidationError) {
                    if let valid = try ContactValidator.validate(raw, for: field) { values[field] = valid }
                } catch {
                    invalid.append(field)
                    invalidReasons[field] = error.problem
                }
            }
            if let newest = record.propertiesWithHistory[property]?.first { times[field] = newest.timestamp }
        }
        if let email { values[.email] = email.normalized }
        self.values = values
        invalidFields = invalid
        fieldTimes = times
        lastModified = record.lastModified
        archived = record.archived
        mergedIds = record.mergedIds
        consents = Self.addressConsents(from: statuses, settings: settings)
        isOptedOut = record.isOptedOutOfAllEmail
        self.optedOutAt = optedOutAt
    }
}

extension RemoteContact {
    /// The CRM's subscription statuses of one address, per purpose (HubSpot keeps them per address, with or
    /// without a contact record).
    static func addressConsents(from statuses: [SubscriptionStatus]?, settings: SyncSettings) -> [Purpose: (
        state: ConsentState, at: Date?, legalBasis: LegalBasis?
    )] {
        var consents: [Purpose: (state: ConsentState, at: Date?, legalBasis: LegalBasis?)] = [:]
        for status in statuses ?? [] {
            guard let purpose = settings.purpose(forSubscription: status.subscriptionId) else { continue }
            consents[purpose] = (
                status.state, status.timestamp, status.legalBasis.flatMap(LegalBasis.init(rawValue:))
            )
        }
        return consents
    }
}
