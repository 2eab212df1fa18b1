import Foundation

extension String {
    /// The string without leading and trailing white space and line breaks. Returns `self` at once when
    /// both ends are visible ASCII (nearly every cell of an import), which skips Foundation's slow path.
    public var trimmedWhitespace: String {
        guard let first = utf8.first, let last = utf8.last else { return self }
        if first > 0x20 && first < 0x7F && last > 0x20 && last < 0x7F { return self }
        return trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
