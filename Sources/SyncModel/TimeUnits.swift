import Foundation

// The one place times and durations change units: the store's columns, HubSpot's search filters and the clocks
// all keep whole milliseconds.

extension Date {
    /// This instant truncated to whole milliseconds: what the store and HubSpot can represent.
    public var roundedToMilliseconds: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    /// Milliseconds since 1970, as HubSpot's search filters and the store's columns use.
    public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    public init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// An ISO 8601 time, with or without fractional seconds, as the whole millisecond it names. Foundation's
    /// parser can put `….123Z` a hair below 123 ms (about one time in nine), which truncating to milliseconds
    /// would turn into the millisecond before; rounded, it equals the same time stored or read back elsewhere.
    public init?(iso8601 text: String) {
        guard
            let date = (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
                ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
        else { return nil }
        self.init(millisecondsSince1970: Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// The duration in milliseconds, as a Double (backoff computes its delays in milliseconds).
    public var inMilliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
