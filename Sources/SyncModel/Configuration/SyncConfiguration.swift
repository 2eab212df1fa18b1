import Foundation

/// Everything `sync.json` says, with a default for every key: an empty object `{}` is a valid configuration.
public struct SyncConfiguration: Codable, Sendable, Equatable {
    public var store: StoreSettings = .init()
    public var crm: CRMSettings = .init()
    /// Local field name → CRM property, or null to keep a field local. Unlisted fields use the defaults.
    public var mapping: [String: String?] = [:]
    public var conflicts: ConflictSettings = .init()
    /// Purpose name → its CRM subscription. Purposes not listed here are kept locally only.
    public var purposes: [String: PurposeSettings] = PurposeSettings.defaults
    public var retention: RetentionSettings = .init()
    public var schedule: ScheduleSettings = .init()
    public var sync: SyncBehaviourSettings = .init()

    public init() {}

    static let keys = ["store", "crm", "mapping", "conflicts", "purposes", "retention", "schedule", "sync"]

    /// Decodes and validates a configuration, reporting every problem with its JSON path at once.
    public static func decode(_ data: Data, file: String = "sync.json") throws(ConfigurationError)
        -> SyncConfiguration
    {
        let log = ConfigurationProblemLog()
        let decoder = JSONDecoder()
        decoder.userInfo[.configurationProblems] = log
        let configuration: SyncConfiguration
        do {
            configuration = try decoder.decode(SyncConfiguration.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            throw ConfigurationError(
                file: file,
                problems: [.init(path: "(file)", problem: "is not valid JSON" + (detail.map { ": \($0)" } ?? ""))])
        } catch {
            throw ConfigurationError(file: file, problems: [.init(path: "(file)", problem: "is not valid JSON")])
        }
        let problems = log.all
        guard problems.isEmpty else { throw ConfigurationError(file: file, problems: problems) }
        return configuration
    }

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: Self.keys)
        store = object.value("store", default: store)
        crm = object.value("crm", default: crm)
        mapping = object.value("mapping", default: mapping, check: Self.checkMapping)
        conflicts = object.value("conflicts", default: conflicts)
        purposes = object.value("purposes", default: purposes, check: Self.checkPurposeNames)
        retention = object.value("retention", default: retention)
        schedule = object.value("schedule", default: schedule)
        sync = object.value("sync", default: sync)
        for field in conflicts.fields.keys where ContactField(rawValue: field) == nil {
            object.problem(
                "unknown field; expected one of \(ContactField.allCases.map(\.rawValue).joined(separator: ", "))",
                at: "conflicts.fields.\(field)")
        }
    }

    static func checkMapping(_ mapping: [String: String?]) -> String? {
        var problems: [String] = []
        for (field, property) in mapping.sorted(by: { $0.key < $1.key }) {
            guard let known = ContactField(rawValue: field) else {
                problems.append("\"\(field)\" is not a contact field")
                continue
            }
            if known == .email && property != "email" {
                problems.append("\"email\" must map to the CRM property \"email\"")
            } else if let property,
                property.isEmpty || !property.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            {
                problems.append("\"\(field)\" must map to a property name of letters, digits and _ (or null)")
            }
        }
        let targets = mapping.values.compactMap { $0 }
        if Set(targets).count != targets.count { problems.append("two fields map to the same CRM property") }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    static func checkPurposeNames(_ purposes: [String: PurposeSettings]) -> String? {
        let bad = purposes.keys.filter { (try? Purpose(validating: $0)) == nil }.sorted()
        if !bad.isEmpty { return "purpose names must be a letter followed by letters, digits, - or _: \(bad)" }
        let ids = purposes.values.map(\.subscriptionId)
        if Set(ids).count != ids.count { return "two purposes use the same subscriptionId" }
        return nil
    }

    /// The CRM property of each synchronised field (fields mapped to null, or without a default, are left out).
    public var fieldMapping: [ContactField: String] {
        var result: [ContactField: String] = [:]
        for field in ContactField.allCases {
            if let entry = mapping[field.rawValue] {
                if let property = entry { result[field] = property }
            } else if let property = field.defaultCRMProperty {
                result[field] = property
            }
        }
        return result
    }

    /// Every purpose the register knows: the notice's four plus any configured.
    public var allPurposes: [Purpose] {
        Array(Set(Purpose.standard + purposes.keys.map(Purpose.init(rawValue:)))).sorted()
    }

    /// The configuration as pretty JSON, as `crmsync init` writes it.
    public func encodedJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}

public struct StoreSettings: Codable, Sendable, Equatable {
    /// The SQLite file of the canonical store, relative to the working directory (when `url` names none).
    public var path: String = "crmsync.sqlite"
    /// Where the register is: a SQLite file (a path, or `sqlite:<path>`), or a PostgreSQL database
    /// (`postgres://user@host:port/database`, its password in `PGPASSWORD`). Nil: the file at `path`.
    public var url: String?
    /// The erasure journal: the register's erasures kept outside the store file, so that a restored backup of the
    /// store cannot undo one. Nil: `<path>.erasure-journal` (none for PostgreSQL unless named). Keep it apart from the
    /// store's backups.
    public var erasureJournal: String?

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: ["path", "url", "erasureJournal"])
        path = object.value("path", default: path) { $0.isEmpty ? "must not be empty" : nil }
        url = object.value("url", default: url) { url in url.flatMap(StoreLocation.problem(withURL:)) }
        erasureJournal = object.value("erasureJournal", default: erasureJournal) { path in
            path?.isEmpty == true ? "must not be empty" : nil
        }
    }

    /// Where the register is, from `url` or else `path`.
    public var location: StoreLocation {
        guard let url else { return .sqlite(path: path) }
        if StoreLocation.isPostgres(url) { return .postgres(url: url) }
        return .sqlite(path: url.hasPrefix("sqlite:") ? StoreLocation.sqlitePath(url) : url)
    }
}

/// Which database holds the register.
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    /// A `postgres://` address without a password.
    case postgres(url: String)

    static func isPostgres(_ url: String) -> Bool { url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") }

    /// The path of a `sqlite:` URL: `sqlite:///abs/path`, `sqlite:/abs/path` or `sqlite:relative/path`.
    static func sqlitePath(_ url: String) -> String {
        var rest = Substring(url.dropFirst("sqlite:".count))
        if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
        return String(rest)
    }

    /// What is wrong with `url` as `store.url`, never repeating a password it holds.
    static func problem(withURL url: String) -> String? {
        if url.isEmpty { return "must not be empty" }
        if isPostgres(url) {
            guard let components = URLComponents(string: url), components.host?.isEmpty == false else {
                return "must be postgres://user@host:port/database"
            }
            if components.password != nil {
                return "must not hold a password: give it in the environment (PGPASSWORD)"
            }
            if components.user?.isEmpty ?? true { return "must name the user: postgres://user@host:port/database" }
            if components.path.count < 2 { return "must name the database: postgres://user@host:port/database" }
            return nil
        }
        if url.contains("://") && !url.hasPrefix("sqlite:") {
            return "must be a file path, a sqlite: URL, or postgres://user@host:port/database"
        }
        if url.hasPrefix("sqlite:") && sqlitePath(url).isEmpty { return "names no file" }
        return nil
    }
}

public struct CRMSettings: Codable, Sendable, Equatable {
    public var baseURL: String = "http://127.0.0.1:8089"
    /// Which generation of HubSpot's API paths to speak: a date version, or the legacy v3/v4 paths.
    public var apiVersion: CRMAPIVersion = .v2026_09
    /// The environment variable holding the Service Key (or legacy private-app token); tokens never live in files.
    public var tokenEnvironmentVariable: String = "HUBSPOT_TOKEN"
    public var rateLimit: RateLimitSettings = .init()
    public var timeouts: TimeoutSettings = .init()
    public var retry: RetrySettings = .init()

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(
            decoder, knownKeys: ["baseURL", "apiVersion", "tokenEnvironmentVariable", "rateLimit", "timeouts", "retry"])
        baseURL = object.value("baseURL", default: baseURL, check: CRMSettings.problem(withBaseURL:))
        tokenEnvironmentVariable = object.value("tokenEnvironmentVariable", default: tokenEnvironmentVariable) {
            name in
            let valid =
                !name.isEmpty && name.first?.isNumber == false
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            return valid
                ? nil
                : "must be an environment variable name such as HUBSPOT_TOKEN (the token itself never goes in a file)"
        }
        apiVersion = object.value("apiVersion", default: apiVersion)
        rateLimit = object.value("rateLimit", default: rateLimit)
        timeouts = object.value("timeouts", default: timeouts)
        retry = object.value("retry", default: retry)
    }
}

extension CRMSettings {
    /// Why `text` is not a base URL crmsync may send the token and personal data to, or nil when it is.
    ///
    /// `https` always; plain `http` only to a loopback address (the mock, a local proxy), where nothing crosses a
    /// network. Credentials in the URL are refused: secrets come from the environment only. The problem text never
    /// repeats a URL that carries credentials.
    static func problem(withBaseURL text: String) -> String? {
        // The text is never repeated: a URL can carry a secret.
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else {
            return "must be an http(s) URL such as \"https://api.hubapi.com\" (lower-case scheme)"
        }
        if url.user != nil || url.password != nil {
            return "must not carry credentials (user:password@): the token comes from the environment only"
        }
        if url.query != nil || url.fragment != nil {
            return "must not carry a query or a fragment (no ?hapikey=…): the token comes from the environment only"
        }
        if scheme == "http" && !isLoopback(host: host) {
            return "must use https: plain http is accepted only for a loopback address (127.0.0.1, ::1, localhost), "
                + "or the token and personal data would cross the network unencrypted"
        }
        return nil
    }

    /// Whether `host` names this machine only: `localhost`, `127.0.0.0/8` or `::1`.
    static func isLoopback(host: String) -> Bool {
        let bare = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        // Dotted decimal only, without leading zeros (which some resolvers read as octal).
        return octets.allSatisfy { octet in
            !octet.isEmpty && octet.count <= 3 && octet.allSatisfy(\.isASCII) && UInt8(octet) != nil
                && (octet == "0" || octet.first != "0")
        }
    }
}

public struct RateLimitSettings: Codable, Sendable, Equatable {
    /// The account's burst limit: 100 (Free/Starter), 190 (Pro/Enterprise), 250 (capacity add-on).
    public var requestsPerInterval: Int = 100
    public var intervalMilliseconds: Int = 10_000
    /// The separate search bucket (HubSpot: 5 per second).
    public var searchPerSecond: Int = 5
    /// Share of the burst limit left to other apps in the same account.
    public var headroomPercent: Int = 10
    /// Requests crmsync may spend per day; stops cleanly when reached.
    public var dailyBudget: Int = 200_000
    /// Share of the daily budget that only erasures may use.
    public var erasureReservePercent: Int = 5

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(
            decoder,
            knownKeys: [
                "requestsPerInterval", "intervalMilliseconds", "searchPerSecond", "headroomPercent", "dailyBudget",
                "erasureReservePercent",
            ])
        requestsPerInterval = object.value("requestsPerInterval", default: requestsPerInterval, check: within(1...250))
        intervalMilliseconds = object.value(
            "intervalMilliseconds", default: intervalMilliseconds, check: within(100...600_000))
        searchPerSecond = object.value("searchPerSecond", default: searchPerSecond, check: within(1...5))
        headroomPercent = object.value("headroomPercent", default: headroomPercent, check: within(0...90))
        dailyBudget = object.value("dailyBudget", default: dailyBudget, check: within(1...2_000_000))
        erasureReservePercent = object.value(
            "erasureReservePercent", default: erasureReservePercent, check: within(0...50))
    }
}

public struct TimeoutSettings: Codable, Sendable, Equatable {
    /// Idle timeout of one request.
    public var request: ConfiguredDuration = .seconds(30)
    /// Total time one request may take, retries not included.
    public var resource: ConfiguredDuration = .seconds(120)

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: ["request", "resource"])
        request = object.value("request", default: request, check: within(.seconds(1) ... .minutes(10)))
        resource = object.value("resource", default: resource, check: within(.seconds(1) ... .minutes(60)))
        if request > resource { object.problem("must not be longer than resource, found \(request)", at: "request") }
    }
}

public struct RetrySettings: Codable, Sendable, Equatable {
    /// Attempts per request, the first included.
    public var maxAttempts: Int = 6
    public var baseDelay: ConfiguredDuration = .init(milliseconds: 500)
    public var maxDelay: ConfiguredDuration = .seconds(30)

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: ["maxAttempts", "baseDelay", "maxDelay"])
        maxAttempts = object.value("maxAttempts", default: maxAttempts, check: within(1...20))
        baseDelay = object.value("baseDelay", default: baseDelay, check: within(.init(milliseconds: 1) ... .minutes(1)))
        maxDelay = object.value("maxDelay", default: maxDelay, check: within(.init(milliseconds: 1) ... .minutes(30)))
    }
}

/// How a conflicting field is decided: the newer stamp, or always one side.
public enum ConflictPolicy: String, Codable, Sendable, CaseIterable {
    case newest
    case local
    case crm
}

public struct ConflictSettings: Codable, Sendable, Equatable {
    public var `default`: ConflictPolicy = .newest
    /// Which side wins when `newest` finds equal stamps.
    public var tieBreaker: ChangeOrigin = .local
    /// Field name → policy, overriding the default.
    public var fields: [String: ConflictPolicy] = [:]

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: ["default", "tieBreaker", "fields"])
        `default` = object.value("default", default: `default`)
        tieBreaker = object.value("tieBreaker", default: tieBreaker)
        fields = object.value("fields", default: fields)
    }

    public func policy(for field: ContactField) -> ConflictPolicy { fields[field.rawValue] ?? `default` }
}

public struct PurposeSettings: Codable, Sendable, Equatable {
    /// The HubSpot subscription type id (digits).
    public var subscriptionId: String
    public var legalBasis: LegalBasis = .consentWithNotice
    public var legalBasisExplanation: String?

    public init(subscriptionId: String, legalBasis: LegalBasis = .consentWithNotice, explanation: String? = nil) {
        self.subscriptionId = subscriptionId
        self.legalBasis = legalBasis
        self.legalBasisExplanation = explanation
    }

    /// The subscription types the mock server ships with.
    public static let defaults: [String: PurposeSettings] = [
        "newsletter": .init(subscriptionId: "7"),
        "marketingEmail": .init(subscriptionId: "8"),
        "eventInvitations": .init(subscriptionId: "9"),
        "blog": .init(subscriptionId: "10"),
    ]

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: ["subscriptionId", "legalBasis", "legalBasisExplanation"])
        subscriptionId = object.value("subscriptionId", default: "") { id in
            !id.isEmpty && id.allSatisfy(\.isNumber) ? nil : "must be a subscription id of digits, found \"\(id)\""
        }
        if !object.has("subscriptionId") {
            object.problem("is required (the CRM subscription type id)", at: "subscriptionId")
        }
        legalBasis = object.value("legalBasis", default: legalBasis)
        legalBasisExplanation = object.value("legalBasisExplanation", default: nil)
    }
}

public struct RetentionSettings: Codable, Sendable, Equatable {
    /// Marketing-only contacts with no activity for this many months are erased (the notice: two years).
    public var marketingOnlyMonths: Int = 24

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: ["marketingOnlyMonths"])
        marketingOnlyMonths = object.value("marketingOnlyMonths", default: marketingOnlyMonths, check: within(1...120))
    }
}

public struct ScheduleSettings: Codable, Sendable, Equatable {
    public var every: ConfiguredDuration = .minutes(15)
    public var jitter: ConfiguredDuration = .seconds(30)

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: ["every", "jitter"])
        every = object.value(
            "every", default: every, check: within(.seconds(30) ... .init(milliseconds: 7 * 86_400_000)))
        jitter = object.value("jitter", default: jitter, check: within(.seconds(0) ... .minutes(60)))
    }
}

/// What archived CRM records mean locally.
/// A generation of HubSpot's REST paths (`/crm/objects/2026-09/contacts`, or legacy `/crm/v3/...`).
///
/// HubSpot's date versions are supported for 18 months after release; the legacy v4 paths end on
/// 30 March 2027 and v1–v3 in September 2027.
public enum CRMAPIVersion: String, Codable, Sendable, CaseIterable {
    case v2026_09 = "2026-09"
    case v2026_03 = "2026-03"
    /// `/crm/v3/...` and `/communication-preferences/v3|v4/...`, for a portal or proxy that needs them.
    case legacy

    /// Whether the portal's required-property rules apply to API writes (HubSpot enforces them from 2026-09).
    public var enforcesWriteValidation: Bool { self == .v2026_09 }
}

public enum ArchivedContactPolicy: String, Codable, Sendable, CaseIterable {
    /// Record the archive locally and never re-create the record in the CRM.
    case keepLocal
    /// Re-create the record in the CRM from the local copy.
    case recreate
}

public struct SyncBehaviourSettings: Codable, Sendable, Equatable {
    /// How far behind now the incremental checkpoint stays, because the search index trails writes.
    public var consistencyHorizon: ConfiguredDuration = .minutes(5)
    public var archivedContacts: ArchivedContactPolicy = .keepLocal

    public init() {}

    public init(from decoder: any Decoder) throws {
        let object = ConfigurationObject(decoder, knownKeys: ["consistencyHorizon", "archivedContacts"])
        consistencyHorizon = object.value(
            "consistencyHorizon", default: consistencyHorizon, check: within(.seconds(0) ... .minutes(120)))
        archivedContacts = object.value("archivedContacts", default: archivedContacts)
    }
}
