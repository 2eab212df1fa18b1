import Foundation

/// A normalised, validated email address: trimmed and lower-cased, the register's natural key.
///
/// Validation is deliberately pragmatic (what HubSpot accepts, not all of RFC 5322): one `@`, a non-empty local
/// part of printable characters, and a dotted domain of letters, digits and hyphens. Internationalised addresses
/// are addresses too: a domain in Unicode (`bücher.fi`) and its ASCII form (`xn--bcher-kva.fi`) are one address,
/// held in one canonical form (NFC, lower-cased, the domain's labels as ASCII), and a local part may carry
/// non-ASCII letters (SMTPUTF8, `üser@…`). People are shown the Unicode form (``display``).
public struct EmailAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The canonical address: lower-cased, NFC, the domain in its ASCII form. Personal data: never log or print it
    /// unmasked.
    public let normalized: String

    public init(_ raw: String) throws(ValidationError) {
        let stripped = raw.trimmedWhitespace
        // Nearly every address is ASCII: no Unicode normalisation, no IDNA full stops to map (both are costly on
        // Linux, where NFC goes through Foundation's bridging).
        let isASCII = stripped.utf8.allSatisfy { $0 < 0x80 }
        let trimmed = isASCII ? stripped.lowercased() : stripped.lowercased().precomposedStringWithCanonicalMapping
        switch Self.canonical(trimmed, isASCII: isASCII) {
        case .success(let canonical): normalized = canonical
        case .failure(let problem): throw ValidationError(field: "email", problem: problem.text)
        }
    }

    /// The canonical form of `raw` when it is a valid address, else `raw` lower-cased: the key under which a CRM
    /// record's address is matched with the register's, whichever form the CRM holds it in.
    public static func matchingKey(_ raw: String) -> String {
        (try? EmailAddress(raw).normalized) ?? raw.lowercased()
    }

    /// The address as people read it: the domain's ASCII labels (`xn--…`) shown in Unicode.
    public var display: String {
        guard normalized.contains("xn--"), let at = normalized.lastIndex(of: "@") else { return normalized }
        let labels = normalized[normalized.index(after: at)...].split(separator: ".").map { Self.unicodeForm(of: $0) }
        return String(normalized[...at]) + labels.joined(separator: ".")
    }

    /// Every spelling of this address another system may hold it under: the canonical form first, then each mix of
    /// ASCII and Unicode labels in the domain (`user@bücher.xn--p1ai` and `user@bücher.рф` as well as
    /// `user@xn--bcher-kva.xn--p1ai`), at most 16. HubSpot compares addresses as text, so an erasure looks for all.
    public var spellings: [String] {
        guard normalized.contains("xn--"), let at = normalized.lastIndex(of: "@") else { return [normalized] }
        let local = String(normalized[...at])
        var domains = [""]
        for (index, label) in normalized[normalized.index(after: at)...].split(separator: ".").enumerated() {
            let forms = Array(Set([String(label), Self.unicodeForm(of: label)])).sorted()
            let joined = domains.flatMap { domain in forms.map { index == 0 ? $0 : domain + "." + $0 } }
            domains = Array(joined.prefix(16))
        }
        return [normalized] + domains.map { local + $0 }.filter { $0 != normalized }
    }

    /// A label's Unicode form: an `xn--` label decoded, when it is valid Punycode; any other label as it is.
    private static func unicodeForm(of label: Substring) -> String {
        guard label.hasPrefix("xn--"), let decoded = Punycode.decode(String(label.dropFirst(4))),
            !decoded.unicodeScalars.allSatisfy(\.isASCII), Punycode.encode(decoded) == String(label.dropFirst(4))
        else { return String(label) }
        return decoded
    }

    private struct Problem: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    /// The canonical form of `candidate` (trimmed, lower-cased, NFC), or why it is not a valid address.
    private static func canonical(_ candidate: String, isASCII: Bool) -> Result<String, Problem> {
        if candidate.isEmpty { return .failure(.init("is empty")) }
        let parts = candidate.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(.init("must contain exactly one @")) }
        let local = parts[0]
        if let problem = problem(withLocalPart: local) { return .failure(.init(problem)) }
        // IDNA's other full stops (ideographic, full-width, half-width) separate labels as "." does.
        let domain = isASCII ? parts[1] : Substring(String(parts[1].map { "。．｡".contains($0) ? "." : $0 }))
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 { return .failure(.init("has no dotted domain")) }
        var asciiLabels: [String] = []
        for label in labels {
            switch asciiLabel(label) {
            case .success(let ascii): asciiLabels.append(ascii)
            case .failure(let problem): return .failure(problem)
            }
        }
        if let tld = asciiLabels.last, tld.utf8.allSatisfy({ (48...57).contains($0) }) {
            return .failure(.init("has a numeric top-level domain"))
        }
        let canonical = isASCII ? candidate : String(local) + "@" + asciiLabels.joined(separator: ".")
        if canonical.utf8.count > 254 { return .failure(.init("is longer than 254 characters")) }
        return .success(canonical)
    }

    private static func problem(withLocalPart local: Substring) -> String? {
        if local.isEmpty || local.utf8.count > 64 { return "has an empty or over-long local part" }
        if local.first == "." || local.last == "." || local.contains("..") {
            return "has a misplaced dot in the local part"
        }
        let allowed = local.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII ? localAllowed[Int(scalar.value)] : isPrintableNonASCII(scalar)
        }
        return allowed ? nil : "has a character not allowed in the local part"
    }

    /// A non-ASCII character an address may carry (RFC 6531): no control, format (bidi), space, private-use,
    /// surrogate, unassigned or otherwise invisible (default-ignorable, such as a Hangul filler) code point.
    private static func isPrintableNonASCII(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.isDefaultIgnorableCodePoint { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate,
            .unassigned:
            return false
        default: return true
        }
    }

    /// A domain label in its ASCII form: an ASCII label as it is (an `xn--` one too, as earlier versions stored it:
    /// shown decoded where it is valid Punycode), a Unicode label of letters, marks, digits, symbols and hyphens as
    /// `xn--` + Punycode.
    private static func asciiLabel(_ label: Substring) -> Result<String, Problem> {
        let ascii: String
        if label.unicodeScalars.allSatisfy(\.isASCII) {
            ascii = String(label)
        } else {
            guard isUnicodeLabel(String(label)), let encoded = Punycode.encode(String(label)) else {
                return .failure(.init("has a character not allowed in the domain"))
            }
            ascii = "xn--" + encoded
        }
        if ascii.isEmpty || ascii.count > 63 { return .failure(.init("has an empty or over-long domain label")) }
        if ascii.first == "-" || ascii.last == "-" || label.first == "-" || label.last == "-" {
            return .failure(.init("has a domain label starting or ending with a hyphen"))
        }
        if !ascii.utf8.allSatisfy({ labelAllowed[Int($0)] }) {
            return .failure(.init("has a character not allowed in the domain"))
        }
        return .success(ascii)
    }

    /// A Unicode domain label: letters, combining marks, digits, symbols (an emoji domain) and hyphens, nothing
    /// invisible.
    private static func isUnicodeLabel(_ label: String) -> Bool {
        !label.isEmpty
            && label.unicodeScalars.allSatisfy { scalar in
                if scalar.isASCII { return labelAllowed[Int(scalar.value)] }
                if scalar.properties.isDefaultIgnorableCodePoint { return false }
                switch scalar.properties.generalCategory {
                case .lowercaseLetter, .uppercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                    .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .otherSymbol:
                    return true
                default: return false
                }
            }
    }

    /// ASCII lookup tables: which bytes may stand in the local part and in a domain label.
    private static let localAllowed = asciiTable("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~.")
    private static let labelAllowed = asciiTable("abcdefghijklmnopqrstuvwxyz0123456789-")

    private static func asciiTable(_ characters: String) -> [Bool] {
        var table = [Bool](repeating: false, count: 256)
        for byte in characters.utf8 { table[Int(byte)] = true }
        return table
    }

    /// `a***@example.fi` (`a***@bücher.fi` for an internationalised domain): safe for logs and reports.
    public var masked: String { PersonalData.mask(email: display) }

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
