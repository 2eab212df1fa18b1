import Foundation
import Hummingbird
import Logging

/// How to start the mock.
public struct MockHubSpotOptions: Sendable {
    /// Loopback only: the mock never listens on another interface.
    public var host = "127.0.0.1"
    /// 0 picks a free port (what tests use).
    public var port = 0
    public var token = "mock-token"
    public var seedContacts = 0
    public var configuration = MockConfiguration()

    public init(
        port: Int = 0, token: String = "mock-token", seedContacts: Int = 0, configuration: MockConfiguration = .init()
    ) {
        self.port = port
        self.token = token
        self.seedContacts = seedContacts
        self.configuration = configuration
    }
}

/// The mock HubSpot server, running. Tests start it in-process on a random loopback port and stop it.
public final class MockHubSpotServer: Sendable {
    public let port: Int
    public let token: String
    let crm: MockCRM
    private let task: Task<Void, any Error>

    /// `http://127.0.0.1:PORT`.
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    private init(port: Int, token: String, crm: MockCRM, task: Task<Void, any Error>) {
        self.port = port
        self.token = token
        self.crm = crm
        self.task = task
    }

    /// Starts the server and returns once it listens.
    public static func start(_ options: MockHubSpotOptions = .init(), logger: Logger? = nil) async throws
        -> MockHubSpotServer
    {
        let crm = MockCRM(configuration: options.configuration)
        if options.seedContacts > 0 { _ = await crm.seed(Data("{\"generate\": \(options.seedContacts)}".utf8)) }
        let router = MockRoutes.router(crm: crm, token: options.token)
        var quiet = Logger(label: "mock-hubspot")
        quiet.logLevel = .critical
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "mock-hubspot"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger ?? quiet)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = portStream.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            _ = try? await task.value
            throw MockStartError()
        }
        return MockHubSpotServer(port: port, token: options.token, crm: crm, task: task)
    }

    /// Stops listening and waits for the server to finish.
    public func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Waits until the server stops (for the executable).
    public func wait() async throws { try await task.value }
}

struct MockStartError: Error, LocalizedError {
    var errorDescription: String? { "the mock HubSpot server could not start listening" }
}
