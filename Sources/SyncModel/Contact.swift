import Foundation

/// A person in the register, as the canonical store holds them.
public struct Contact: Sendable, Hashable, Identifiable {
    /// Stable local id; never reused, never sent to the CRM.
    public var id: String
    /// The CRM record id, once known. Changes only through a merge in the CRM.
    public var crmId: String?
    public var email: EmailAddress
    public var firstName: String?
    public var lastName: String?
    public var phone: String?
    public var mobile: String?
    public var streetAddress: String?
    public var city: String?
    public var postalCode: String?
    public var country: String?
    public var jobTitle: String?
    public var company: String?
    public var industry: String?
    public var revenueBand: String?
    public var companySize: String?
    public var lifecycleStage: String?
    public var source: ContactSource?
    public var createdAt: Date
    public var updatedAt: Date
    /// The last modification of each field that has been set, with the side that made it.
    public var stamps: [ContactField: FieldStamp]

    public init(
        id: String = UUID().uuidString.lowercased(),
        crmId: String? = nil,
        email: EmailAddress,
        createdAt: Date,
        origin: ChangeOrigin = .local
    ) {
        self.id = id
        self.crmId = crmId
        self.email = email
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.stamps = [.email: FieldStamp(at: createdAt, origin: origin)]
    }

    /// The value of `field` as text (`source` by its raw value); `email` is never nil.
    public subscript(field: ContactField) -> String? {
        switch field {
        case .email: email.normalized
        case .firstName: firstName
        case .lastName: lastName
        case .phone: phone
        case .mobile: mobile
        case .streetAddress: streetAddress
        case .city: city
        case .postalCode: postalCode
        case .country: country
        case .jobTitle: jobTitle
        case .company: company
        case .industry: industry
        case .revenueBand: revenueBand
        case .companySize: companySize
        case .lifecycleStage: lifecycleStage
        case .source: source?.rawValue
        }
    }

    /// Sets `field` to an already validated value (see ``ContactValidator``) and stamps it.
    /// Setting a field to the value it has changes nothing, not even the stamp; returns whether it changed.
    @discardableResult
    public mutating func set(_ field: ContactField, to value: String?, stamp: FieldStamp) throws(ValidationError)
        -> Bool
    {
        let value = try ContactValidator.validate(value, for: field)
        guard self[field] != value else { return false }
        switch field {
        case .email:
            guard let value else { throw ValidationError(field: "email", problem: "is required") }
            email = try EmailAddress(value)
        case .firstName: firstName = value
        case .lastName: lastName = value
        case .phone: phone = value
        case .mobile: mobile = value
        case .streetAddress: streetAddress = value
        case .city: city = value
        case .postalCode: postalCode = value
        case .country: country = value
        case .jobTitle: jobTitle = value
        case .company: company = value
        case .industry: industry = value
        case .revenueBand: revenueBand = value
        case .companySize: companySize = value
        case .lifecycleStage: lifecycleStage = value
        case .source: source = value.flatMap(ContactSource.init(looseName:))
        }
        stamps[field] = stamp
        updatedAt = max(updatedAt, stamp.at)
        return true
    }
}

/// The rules every field value must meet before it is stored or sent.
public enum ContactValidator {
    public static let maximumLength = 256
    /// Lines a street address may have.
    public static let maximumAddressLines = 4
    private static let phoneAllowed = Set("0123456789+-() ./".utf8)

    /// Returns the value to store (trimmed; empty becomes nil), or throws naming the rule broken.
    public static func validate(_ raw: String?, for field: ContactField) throws(ValidationError) -> String? {
        guard let stripped = raw?.trimmedWhitespace, !stripped.isEmpty else {
            return nil
        }
        let name = field.rawValue
        // A street address has lines (HubSpot's `address` is a multi-line text): kept, as "\n", at most four.
        let trimmed =
            field == .streetAddress && stripped.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D })
            ? stripped.replacingOccurrences(of: "\r\n", with: "\n").split(
                separator: "\n", omittingEmptySubsequences: true
            )
            .map { String($0).trimmedWhitespace }.filter { !$0.isEmpty }.joined(separator: "\n")
            : stripped
        if trimmed.count > maximumLength {
            throw ValidationError(field: name, problem: "is longer than \(maximumLength) characters")
        }
        if field == .streetAddress && trimmed.utf8.lazy.filter({ $0 == 0x0A }).count >= maximumAddressLines {
            throw ValidationError(field: name, problem: "has more than \(maximumAddressLines) lines")
        }
        let lineBreak: UInt8 = field == .streetAddress ? 0x0A : 0xFF
        // Control characters are C0 (bytes below 0x20), DEL, and C1 (U+0080...U+009F, UTF-8 0xC2 0x80...0x9F).
        var previous: UInt8 = 0
        for byte in trimmed.utf8 {
            if (byte < 0x20 && byte != lineBreak) || byte == 0x7F || (previous == 0xC2 && (0x80...0x9F).contains(byte))
            {
                throw ValidationError(field: name, problem: "contains control characters")
            }
            previous = byte
        }
        switch field {
        case .email:
            return try EmailAddress(trimmed).normalized
        case .phone, .mobile:
            let digits = trimmed.utf8.filter { (48...57).contains($0) }.count
            guard trimmed.utf8.allSatisfy({ phoneAllowed.contains($0) }), (5...20).contains(digits) else {
                throw ValidationError(field: name, problem: "must be 5 to 20 digits with + - ( ) . / or spaces")
            }
            return trimmed
        case .lifecycleStage:
            guard let stage = LifecycleStage(rawValue: trimmed.lowercased()) else {
                let stages = LifecycleStage.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError(field: name, problem: "must be one of \(stages)")
            }
            return stage.rawValue
        case .source:
            guard let source = ContactSource(looseName: trimmed) else {
                let sources = ContactSource.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError(field: name, problem: "must be one of \(sources)")
            }
            return source.rawValue
        default:
            return trimmed
        }
    }
}
