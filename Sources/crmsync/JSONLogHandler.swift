import Foundation
import Logging

/// One JSON object per line on standard error (`CRMSYNC_LOG_FORMAT=json`), for a log shipper: `time` (ISO 8601, UTC,
/// milliseconds), `level`, `label`, `message` and `metadata` (the run id among it while a sync runs). It writes what it
/// is given: crmsync's log lines carry masked addresses and names only, in this format as in the text one.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    init(
        label: String, metadataProvider: Logger.MetadataProvider?,
        write: @escaping @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data(line.utf8)) }
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { _, handler in handler }
        merged.merge(event.metadata ?? [:]) { _, call in call }
        write(Self.line(time: Date(), level: event.level, label: label, message: "\(event.message)", metadata: merged))
    }

    /// The line for one event, newline included.
    static func line(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata)
        -> String
    {
        let object: [String: Any] = [
            "time": time.formatted(
                .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)),
            "level": level.rawValue, "label": label, "message": message,
            "metadata": metadata.mapValues(json),
        ]
        // Sorted keys: one stable shape per line; JSONSerialization escapes every control character.
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let values): values.mapValues(json)
        }
    }
}
