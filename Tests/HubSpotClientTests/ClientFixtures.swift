import Foundation
import HubSpotClient
import Logging
import MockHubSpot
import SyncModel
import SyncTesting
import Synchronization

/// A client against a fresh in-process mock, with a manual clock: backoff and windows cost no real time.
struct MockedClient {
    let server: MockHubSpotServer
    let client: HubSpotClient
    let clock: ManualClock
    let logs: CapturedLogs

    static func start(
        seed: Int = 0, mock: MockConfiguration = unlimitedMock(), requestsPerInterval: Int = 10_000,
        searchPerSecond: Int = 10_000, headroomPercent: Int = 0, dailyBudget: Int = 1_000_000, maxAttempts: Int = 8,
        apiVersion: CRMAPIVersion = .v2026_09
    ) async throws -> MockedClient {
        let server = try await MockHubSpotServer.start(.init(seedContacts: seed, configuration: mock))
        let clock = ManualClock()
        let logs = CapturedLogs()
        let configuration = HubSpotClientConfiguration(
            baseURL: server.baseURL, token: server.token, apiVersion: apiVersion,
            requestsPerInterval: requestsPerInterval,
            searchPerSecond: searchPerSecond, headroomPercent: headroomPercent, dailyBudget: dailyBudget,
            maxAttempts: maxAttempts, baseDelay: .milliseconds(100), maxDelay: .seconds(5))
        var logger = Logger(label: "test.hubspot") { _ in logs.handler }
        logger.logLevel = .trace
        let client = HubSpotClient(configuration: configuration, clock: clock, logger: logger, jitterSeed: 7)
        return MockedClient(server: server, client: client, clock: clock, logs: logs)
    }

    static func unlimitedMock() -> MockConfiguration {
        var configuration = MockConfiguration()
        configuration.rateLimit = .init(max: 1_000_000, intervalMs: 10_000)
        configuration.searchPerSecond = 1_000_000
        configuration.dailyLimit = 100_000_000
        return configuration
    }

    /// The mock's control surface (never the client under test).
    var mock: MockControlClient { server.control }

    func journal() async throws -> [MockJournalEntry] { try await mock.journal() }

    func stop() async { await server.stop() }
}

/// Log lines kept in memory, to prove no personal data reaches them.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    var handler: some LogHandler { Handler(logs: self) }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
            function: String, line: UInt
        ) {
            let merged = self.metadata.merging(metadata ?? [:]) { $1 }
            logs.append("\(level) \(message) \(merged)")
        }
    }
}

/// A transport that answers from a script, for exact tests of retries, 429s and replay safety.
final class ScriptedTransport: HTTPTransport {
    enum Step: Sendable {
        case reply(Int, [String: String], String)
        case fail(TransportError.Kind)
        /// An error that is not a transport error (a cancelled or killed sender).
        case abort
    }

    struct Aborted: Error {}

    private let steps: Mutex<[Step]>
    private let sent = Mutex<[HTTPRequest]>([])

    init(_ steps: [Step]) { self.steps = Mutex(steps) }

    var requests: [HTTPRequest] { sent.withLock { $0 } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        sent.withLock { $0.append(request) }
        let step = steps.withLock { $0.isEmpty ? Step.reply(500, [:], "script exhausted") : $0.removeFirst() }
        switch step {
        case .reply(let status, let headers, let body):
            return HTTPResponse(status: status, headers: headers, body: Data(body.utf8))
        case .fail(let kind):
            throw TransportError(kind, "scripted")
        case .abort:
            throw Aborted()
        }
    }

    static func client(
        _ transport: ScriptedTransport, clock: ManualClock, maxAttempts: Int = 4, dailyBudget: Int = 1000
    )
        -> HubSpotClient
    {
        HubSpotClient(
            configuration: HubSpotClientConfiguration(
                baseURL: URL(string: "http://127.0.0.1:9")!, token: "t", requestsPerInterval: 100, headroomPercent: 0,
                dailyBudget: dailyBudget, maxAttempts: maxAttempts, baseDelay: .milliseconds(200),
                maxDelay: .seconds(10)),
            transport: transport, clock: clock, jitterSeed: 1)
    }
}

let okContact =
    #"{"id": "10000000001", "properties": {"email": "a@x.fi", "lastmodifieddate": "2026-01-01T00:00:00.000Z"}, "archived": false}"#
