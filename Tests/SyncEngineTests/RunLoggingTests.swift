import Foundation
import Logging
import SyncEngine
import SyncModel
import Synchronization
import Testing

/// Every line logged, with its metadata.
final class LoggedLines: Sendable {
    struct Line: Sendable {
        var message: String
        var metadata: Logger.Metadata
    }

    let lines = Mutex<[Line]>([])
}

/// Keeps every line logged, with its metadata (the logger's own and its metadata provider's).
struct CapturingLogHandler: LogHandler {
    let sink: LoggedLines
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .trace

    init(into sink: LoggedLines, provider: Logger.MetadataProvider?) {
        self.sink = sink
        metadataProvider = provider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata.merging(metadataProvider?.get() ?? [:]) { _, provided in provided }
        all.merge(event.metadata ?? [:]) { _, own in own }
        sink.lines.withLock { $0.append(LoggedLines.Line(message: "\(event.message)", metadata: all)) }
    }
}

@Suite struct RunLoggingTests {
    /// The executable reads the run id through a metadata provider like this one.
    static let runMetadata = Logger.MetadataProvider { SyncRunID.current.map { ["sync.run": "\($0)"] } ?? [:] }

    @Test func everyLineOfARunNamesTheRunAndNoneNamesAPerson() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName,newsletter\naino.virtanen@example.fi,Aino,granted\n")
        let lines = LoggedLines()
        let logger = Logger(
            label: "test", factory: { _ in CapturingLogHandler(into: lines, provider: Self.runMetadata) })
        _ = try await fixture.engine(logger: logger).run(SyncRunOptions())
        // An erasure the next run carries to the CRM: its steps are logged too, the subject masked.
        let subject = try EmailAddress("aino.virtanen@example.fi")
        _ = try fixture.store.recordErasureRequest(email: subject, requestId: "req-log", reason: nil)
        try fixture.store.eraseLocally(requestId: "req-log")
        _ = try await fixture.engine(logger: logger).run(SyncRunOptions())
        _ = try await fixture.engine(logger: logger).run(SyncRunOptions(dryRun: true))
        let logged = lines.lines.withLock { $0 }
        let runs = try fixture.store.recentRuns().map { "\($0.id)" }
        #expect(logged.count >= 4)
        let named = logged.compactMap { $0.metadata["sync.run"].map { "\($0)" } }
        #expect(
            named.count == logged.count,
            "every line names its run: \(logged.filter { $0.metadata["sync.run"] == nil }.map(\.message))")
        #expect(Set(named.filter { !$0.hasPrefix("dry-") }) == Set(runs), "the real run by its run log id")
        #expect(named.contains { $0.hasPrefix("dry-") }, "the dry run by a dry-run id")
        #expect(logged.contains { $0.message.contains("GDPR deletes sent") })
        #expect(logged.contains { $0.message.contains("verified in the CRM") })
        #expect(logged.contains { $0.message == "batch applied" })
        let text = logged.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        #expect(!text.contains("aino.virtanen") && !text.contains("Aino"))
    }
}
