import Foundation

/// A normalised, validated email address: trimmed and lower-cased, the register's natural key.
///
/// Validation is deliberately pragmatic (what HubSpot accepts, not all of RFC 5322): one `@`, a
/// non-empty local part of printable characters, and a dotted domain of letters, digits and hyphens.
public struct EmailAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The normalised address. Personal data: never log or print it unmasked.
    public let normalized: String

    public init(_ raw: String) throws(ValidationError) {
        let trimmed = raw.trimmedWhitespace.lowercased()
        guard let problem = Self.problem(with: trimmed) else {
            normalized = trimmed
            return
        }
        throw ValidationError(field: "email", problem: problem)
    }

    /// Why `candidate` (already normalised) is not a valid address, or nil when it is.
    private static func problem(with candidate: String) -> String? {
        if candidate.isEmpty { return "is empty" }
        if candidate.utf8.count > 254 { return "is longer than 254 characters" }
        let parts = candidate.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return "must contain exactly one @" }
        let local = parts[0]
        let domain = parts[1]
        if local.isEmpty || local.utf8.count > 64 { return "has an empty or over-long local part" }
        if local.first == "." || local.last == "." || local.contains("..") {
            return "has a misplaced dot in the local part"
        }
        if !local.utf8.allSatisfy({ localAllowed[Int($0)] }) { return "has a character not allowed in the local part" }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 { return "has no dotted domain" }
        for label in labels {
            if label.isEmpty || label.count > 63 { return "has an empty or over-long domain label" }
            if label.first == "-" || label.last == "-" { return "has a domain label starting or ending with a hyphen" }
            if !label.utf8.allSatisfy({ labelAllowed[Int($0)] }) { return "has a character not allowed in the domain" }
        }
        if let tld = labels.last, tld.utf8.allSatisfy({ (48...57).contains($0) }) {
            return "has a numeric top-level domain"
        }
        return nil
    }

    /// ASCII lookup tables: which bytes may stand in the local part and in a domain label.
    private static let localAllowed = asciiTable("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~.")
    private static let labelAllowed = asciiTable("abcdefghijklmnopqrstuvwxyz0123456789-")

    private static func asciiTable(_ characters: String) -> [Bool] {
        var table = [Bool](repeating: false, count: 256)
        for byte in characters.utf8 { table[Int(byte)] = true }
        return table
    }

    /// `a***@example.fi`: safe for logs and reports.
    public var masked: String { PersonalData.mask(email: normalized) }

    /// Masked, so that an accidental interpolation leaks nothing.
    public var description: String { masked }

    public static func < (lhs: EmailAddress, rhs: EmailAddress) -> Bool { lhs.normalized < rhs.normalized }
}

extension EmailAddress: Codable {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        try self.init(raw)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(normalized)
    }
}

/// An input value that failed validation. The text names the field and the rule, never the value.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(field) \(problem)" }
}

extension ValidationError: LocalizedError {
    public var errorDescription: String? { description }
}
