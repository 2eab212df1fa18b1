/// Masking of personal data for logs, errors and reports.
public enum PersonalData {
    /// `aino.laine@example.fi` becomes `a***@example.fi`; anything without an `@` becomes `***`.
    public static func mask(email: String) -> String {
        guard let at = email.lastIndex(of: "@"), let first = email.first, email.startIndex != at else { return "***" }
        return "\(first)***\(email[at...])"
    }

    /// `Aino` becomes `A***`; empty stays empty.
    public static func mask(name: String) -> String {
        guard let first = name.first else { return "" }
        return "\(first)***"
    }
}

/// A personal value that prints as `<redacted>`, so that an accidental interpolation into a log
/// line or an error message leaks nothing.
public struct Redacted<Value: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: Value

    public init(_ value: Value) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
