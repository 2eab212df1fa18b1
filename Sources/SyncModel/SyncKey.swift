/// What one planned change, and one entry of the base agreed at the last sync, is about: a mapped field, a
/// purpose's consent, the opt-out of all email, the record itself, or its CRM link.
///
/// The raw value is stored (the `syncBase` table's `key`) and shown in reports (`field`), so it never changes:
/// renaming a case keeps its raw value, and a new key gets a new one. A stored key this build does not know
/// (written by a newer one) is left alone.
public enum SyncKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    case field(ContactField)
    case consent(Purpose)
    case optedOutOfAll
    case record
    case crmId

    public init?(rawValue: String) {
        switch rawValue {
        case "optedOutOfAll": self = .optedOutOfAll
        case "record": self = .record
        case "crmId": self = .crmId
        default:
            if rawValue.hasPrefix(Self.consentPrefix) {
                guard let purpose = try? Purpose(validating: String(rawValue.dropFirst(Self.consentPrefix.count)))
                else { return nil }
                self = .consent(purpose)
            } else if let field = ContactField(rawValue: rawValue) {
                self = .field(field)
            } else {
                return nil
            }
        }
    }

    public var rawValue: String {
        switch self {
        case .field(let field): field.rawValue
        case .consent(let purpose): Self.consentPrefix + purpose.rawValue
        case .optedOutOfAll: "optedOutOfAll"
        case .record: "record"
        case .crmId: "crmId"
        }
    }

    public var description: String { rawValue }

    /// The field, for a field's key.
    public var field: ContactField? {
        if case .field(let field) = self { return field }
        return nil
    }

    /// The purpose, for a consent key.
    public var purpose: Purpose? {
        if case .consent(let purpose) = self { return purpose }
        return nil
    }

    public static func < (a: SyncKey, b: SyncKey) -> Bool { a.rawValue < b.rawValue }

    private static let consentPrefix = "consent."
}

/// Stored and reported by its raw value (Swift derives the coding of a `RawRepresentable`).
extension SyncKey: RawRepresentable, Codable {}
