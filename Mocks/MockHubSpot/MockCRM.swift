import Foundation

/// The mock CRM's whole state, in one actor: contacts, aliases from merges, the GDPR blocklist,
/// subscriptions, limits, faults, the request journal and statistics.
actor MockCRM {
    var contacts: [String: ContactRecord] = [:]
    /// Every id ever issued, ascending (ids only grow): the order of the cursor listing.
    var orderedIds: [String] = []
    var emailIndex: [String: String] = [:]
    /// Merged-away id → surviving id.
    var aliases: [String: String] = [:]
    var blocklist: Set<String> = []
    var subscribers: [String: SubscriberRecord] = [:]
    var nextId: Int64 = 10_000_000_001
    let definitions = SubscriptionDefinition.defaults

    let initialConfiguration: MockConfiguration
    var configuration: MockConfiguration
    var limits = RateLimitWindows()
    var faults = FaultInjector()
    var journal: [MockJournalEntry] = []
    /// Seconds added to the clock the rate limits read (`POST /__mock/advance`), so tests of windows
    /// need not wait in real time.
    var limitClockOffset: Double = 0
    var stats = TrafficStats()

    /// Properties a write may set: the writable ones of the contact object's definitions.
    static let writableProperties = Set(PropertyDefinition.contactDefaults.filter(\.isWritable).map(\.name))

    /// The time HubSpot stamps records, statuses and the search index with: the wall clock, or a test's.
    let clock: @Sendable () -> Date

    init(configuration: MockConfiguration, clock: @escaping @Sendable () -> Date = { Date() }) {
        initialConfiguration = configuration
        self.configuration = configuration
        self.clock = clock
        faults.configure(configuration.faults)
    }

    var now: Date { Date(timeIntervalSince1970: (clock().timeIntervalSince1970 * 1000).rounded(.down) / 1000) }
    var searchLag: TimeInterval { Double(configuration.searchLagMs) / 1000 }

    // MARK: Lookup

    /// The live record for an id (following merges) or, with `byEmail`, an email address.
    func resolve(_ key: String, byEmail: Bool, includeArchived: Bool = false) -> ContactRecord? {
        let id: String?
        if byEmail {
            id = emailIndex[key.lowercased()]
        } else {
            id = contacts[key] != nil ? key : aliases[key]
        }
        guard let id, let record = contacts[id] else { return nil }
        if record.archived && !includeArchived { return nil }
        return record
    }

    func issueId() -> String {
        defer { nextId += 1 }
        let id = String(nextId)
        orderedIds.append(id)
        return id
    }

    static func isValidEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."), !email.contains(" ")
        else { return false }
        return true
    }

    /// A property-validation failure, in HubSpot's words.
    struct PropertyProblem: Error {
        var category = "VALIDATION_ERROR"
        var code: String
        var message: String
        var property: String
    }

    /// Checks a `properties` object of a write: known, writable, valid email. Values become strings.
    static func validate(_ raw: Any?) -> Result<[String: String?], PropertyProblem> {
        guard let object = raw as? [String: Any] else {
            return .failure(.init(code: "INVALID_INPUT", message: "properties must be an object", property: ""))
        }
        var result: [String: String?] = [:]
        for (name, value) in object {
            guard let definition = PropertyDefinition.contactsByName[name] else {
                return .failure(
                    .init(code: "PROPERTY_DOESNT_EXIST", message: "Property \"\(name)\" does not exist", property: name)
                )
            }
            guard definition.isWritable else {
                return .failure(
                    .init(
                        code: "READ_ONLY_VALUE", message: "\(name) is a read only property; its value cannot be set.",
                        property: name))
            }
            let text: String?
            switch value {
            case is NSNull: text = nil
            case let string as String: text = string.isEmpty ? nil : string
            case let number as NSNumber: text = number.stringValue
            default:
                return .failure(
                    .init(code: "INVALID_INPUT", message: "Property \(name) must be a string", property: name))
            }
            if name == "email" {
                guard let text, isValidEmail(text) else {
                    return .failure(
                        .init(
                            code: "INVALID_EMAIL", message: "Email address \(text ?? "") is invalid", property: "email")
                    )
                }
                result[name] = text.lowercased()
            } else {
                if let text, let problem = definition.problem(with: text) {
                    return .failure(.init(code: problem.code, message: problem.message, property: name))
                }
                result[name] = text
            }
        }
        return .success(result)
    }

    // MARK: Writes shared by single and batch calls

    /// Creates a contact; the caller has checked the email is free and not blocklisted.
    func insertContact(_ properties: [String: String?], source: String = "crmsync") -> ContactRecord {
        let id = issueId()
        let now = self.now
        var record = ContactRecord(
            id: id, properties: ["hs_object_id": id, "createdate": HubSpotWire.timestamp(now)], history: [:],
            createdAt: now, updatedAt: now)
        record.apply(properties, at: now, source: source, searchLag: searchLag)
        if searchLag > 0 { record.indexedVersion = nil }
        if let email = record.email { emailIndex[email] = id }
        syncOptOutProperty(&record)
        contacts[id] = record
        return record
    }

    /// Updates a live contact; returns the new record or a problem (email taken).
    func updateContact(_ id: String, _ properties: [String: String?]) -> Result<ContactRecord, PropertyProblem> {
        guard var record = contacts[id] else {
            return .failure(
                .init(
                    category: "OBJECT_NOT_FOUND", code: "OBJECT_NOT_FOUND", message: "resource not found", property: "")
            )
        }
        if let newEmail = properties["email"] ?? nil, newEmail != record.email {
            if let holder = emailIndex[newEmail], holder != id {
                return .failure(
                    .init(
                        category: "CONFLICT", code: "CONFLICT",
                        message: "Contact already exists. Existing ID: \(holder)", property: "email"))
            }
            if blocklist.contains(newEmail) {
                return .failure(
                    .init(
                        code: "BLOCKED_EMAIL", message: "Email address is blocklisted after a GDPR delete",
                        property: "email"))
            }
            if let old = record.email { emailIndex.removeValue(forKey: old) }
            emailIndex[newEmail] = id
        }
        let changed = properties.filter { record.properties[$0.key] != $0.value }
        if !changed.isEmpty { record.apply(changed, at: now, source: "crmsync", searchLag: searchLag) }
        syncOptOutProperty(&record)
        contacts[id] = record
        return .success(record)
    }

    /// Keeps `hs_email_optout` in step with the subscriber's opt-out of all email.
    func syncOptOutProperty(_ record: inout ContactRecord) {
        guard let email = record.email else { return }
        let optedOut = subscribers[email]?.optedOutOfAll == true
        let value = optedOut ? "true" : "false"
        if record.properties["hs_email_optout"] != value {
            record.properties["hs_email_optout"] = value
            record.history["hs_email_optout", default: []].insert(
                PropertyChange(value: value, timestamp: now, sourceType: "API", sourceId: "communication-preferences"),
                at: 0)
        }
    }

    /// Removes a record and everything that points at it (GDPR delete, or the losers of a merge).
    func removeContact(_ id: String) {
        guard let record = contacts.removeValue(forKey: id) else { return }
        if let email = record.email, emailIndex[email] == id { emailIndex.removeValue(forKey: email) }
        for (alias, target) in aliases where target == id { aliases.removeValue(forKey: alias) }
    }
}

/// Counts for `GET /__mock/stats`.
struct TrafficStats: Sendable {
    var total = 0
    var byEndpoint: [String: Int] = [:]
    var tooManyRequests = 0
    var faults: [String: Int] = [:]
    var currentSecond: Int = 0
    var inCurrentSecond = 0
    var peakPerSecond = 0

    mutating func count(endpoint: String, at now: Date) {
        total += 1
        byEndpoint[endpoint, default: 0] += 1
        let second = Int(now.timeIntervalSince1970)
        if second != currentSecond {
            currentSecond = second
            inCurrentSecond = 0
        }
        inCurrentSecond += 1
        peakPerSecond = max(peakPerSecond, inCurrentSecond)
    }
}
