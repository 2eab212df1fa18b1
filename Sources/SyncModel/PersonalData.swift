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
