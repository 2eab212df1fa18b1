import Foundation

/// A duration written in `sync.json` or on the command line as `500ms`, `30s`, `15m`, `2h` or `1d`.
public struct ConfiguredDuration: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static func seconds(_ seconds: Int64) -> ConfiguredDuration { .init(milliseconds: seconds * 1000) }
    public static func minutes(_ minutes: Int64) -> ConfiguredDuration { .seconds(minutes * 60) }

    /// Parses `15m`-style text; nil when it is not a whole number followed by ms, s, m, h or d.
    public init?(parsing text: String) {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for (suffix, factor) in units.sorted(by: { $0.0.count > $1.0.count }) where trimmed.hasSuffix(suffix) {
            guard let amount = Int64(trimmed.dropLast(suffix.count)), amount >= 0,
                amount <= Int64.max / factor
            else { return nil }
            milliseconds = amount * factor
            return
        }
        return nil
    }

    public var duration: Duration { .milliseconds(milliseconds) }
    public var seconds: Double { Double(milliseconds) / 1000 }

    public var description: String {
        for (suffix, factor) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds >= factor && milliseconds % factor == 0 {
            return "\(milliseconds / factor)\(suffix)"
        }
        return "\(milliseconds)ms"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = ConfiguredDuration(parsing: text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "must be a duration like \"30s\", \"15m\" or \"2h\", found \"\(text.prefix(40))\""
                ))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: ConfiguredDuration, rhs: ConfiguredDuration) -> Bool {
        lhs.milliseconds < rhs.milliseconds
    }
}
