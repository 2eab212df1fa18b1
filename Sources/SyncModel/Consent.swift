import Foundation

/// A processing purpose that needs its own permission: the privacy notice's newsletters, marketing
/// email, event invitations and blog, plus any purpose `sync.json` configures.
public struct Purpose: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// Validates a configured or typed purpose name: a letter, then letters, digits, `-` or `_`.
    public init(validating name: String) throws(ValidationError) {
        guard let first = name.first, first.isLetter, name.count <= 64,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else {
            throw ValidationError(field: "purpose", problem: "must be a letter followed by letters, digits, - or _")
        }
        rawValue = name
    }

    public static let newsletter = Purpose(rawValue: "newsletter")
    public static let marketingEmail = Purpose(rawValue: "marketingEmail")
    public static let eventInvitations = Purpose(rawValue: "eventInvitations")
    public static let blog = Purpose(rawValue: "blog")
    public static let standard: [Purpose] = [.newsletter, .marketingEmail, .eventInvitations, .blog]

    public var description: String { rawValue }
    public static func < (lhs: Purpose, rhs: Purpose) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Whether a person allows processing for one purpose.
public enum ConsentState: String, Codable, Sendable, CaseIterable, Hashable {
    case granted
    case withdrawn
    case unknown

    /// Reads `granted`/`withdrawn`/`unknown` and the usual spreadsheet spellings (`yes`, `no`, `1`, `0`).
    public init?(looseName: String) {
        switch looseName.trimmedWhitespace.lowercased() {
        case "granted", "yes", "y", "true", "1", "subscribed", "opt-in", "optin": self = .granted
        case "withdrawn", "no", "n", "false", "0", "unsubscribed", "opt-out", "optout": self = .withdrawn
        case "unknown", "not_specified", "not specified": self = .unknown
        default: return nil
        }
    }

    /// Higher is more restrictive: on a tie the more restrictive state wins.
    public var restrictiveness: Int {
        switch self {
        case .granted: 0
        case .unknown: 1
        case .withdrawn: 2
        }
    }
}

/// The lawful basis recorded with a consent, in HubSpot's vocabulary.
public enum LegalBasis: String, Codable, Sendable, CaseIterable {
    case legitimateInterestPQL = "LEGITIMATE_INTEREST_PQL"
    case legitimateInterestClient = "LEGITIMATE_INTEREST_CLIENT"
    case performanceOfContract = "PERFORMANCE_OF_CONTRACT"
    case consentWithNotice = "CONSENT_WITH_NOTICE"
    case nonGDPR = "NON_GDPR"
    case processAndStore = "PROCESS_AND_STORE"
    case legitimateInterestOther = "LEGITIMATE_INTEREST_OTHER"

    public init?(looseName: String) {
        let key = looseName.uppercased().replacingOccurrences(of: "-", with: "_")
            .replacingOccurrences(of: " ", with: "_")
        self.init(rawValue: key)
    }
}

/// One recorded consent decision: the proof of consent the register keeps, never overwritten.
public struct ConsentEvent: Sendable, Hashable, Codable {
    public var contactId: String
    public var purpose: Purpose
    public var state: ConsentState
    public var legalBasis: LegalBasis?
    public var explanation: String?
    /// Where the decision was made: a form, an email reply, a phone call, an import, the CRM.
    public var source: String
    /// When the person gave or withdrew the consent.
    public var occurredAt: Date
    /// Which side recorded it.
    public var origin: ChangeOrigin

    public init(
        contactId: String, purpose: Purpose, state: ConsentState, legalBasis: LegalBasis? = nil,
        explanation: String? = nil, source: String, occurredAt: Date, origin: ChangeOrigin = .local
    ) {
        self.contactId = contactId
        self.purpose = purpose
        self.state = state
        self.legalBasis = legalBasis
        self.explanation = explanation
        self.source = source
        self.occurredAt = occurredAt
        self.origin = origin
    }
}
