import Foundation
import HubSpotClient
import MockHubSpot
import SyncEngine
import SyncModel
import SyncStore
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A transport that dies (like a killed process) on the first request after `afterMutations` mutating
/// requests went through: the CRM has the writes, the store never heard back.
public final class DyingTransport: HTTPTransport {
    public struct Killed: Error {}
    let inner = URLSessionTransport()
    let afterMutations: Int
    private let seen = Mutex(0)

    public init(afterMutations: Int) { self.afterMutations = afterMutations }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if seen.withLock({ $0 }) >= afterMutations { throw Killed() }
        let response = try await inner.send(request)
        let mutating =
            request.method != "GET" && !request.url.path.hasSuffix("/batch/read")
            && !request.url.path.hasSuffix("/search") && !request.url.path.hasSuffix("/unsubscribe-all/read")
        if mutating { seen.withLock { $0 += 1 } }
        return response
    }
}

/// One store and one mock CRM for a checked history: the store in a fresh temporary folder, the CRM either
/// in-process (fast, for `swift test`) or a running `mock-hubspot` reached over loopback and reset first.
public final class CheckWorld: @unchecked Sendable {
    public let folder: URL
    public let baseURL: URL
    public let token: String
    public private(set) var store: SyncStore
    public var configuration = SyncConfiguration()
    let server: MockHubSpotServer?

    public var storePath: String { folder.appendingPathComponent("crmsync.sqlite").path }
    /// The mock's control surface.
    var mock: MockControlClient { MockControlClient(baseURL: baseURL) }

    /// A world with an in-process mock.
    public static func inProcess() async throws -> CheckWorld {
        var mock = MockConfiguration()
        mock.rateLimit = .init(max: 1_000_000, intervalMs: 10_000)
        mock.searchPerSecond = 1_000_000
        mock.dailyLimit = 100_000_000
        let server = try await MockHubSpotServer.start(.init(configuration: mock))
        return try CheckWorld(baseURL: server.baseURL, token: server.token, server: server)
    }

    /// A world against a running mock (reset now); `faults` are set on it for the history, off for the quiet end.
    public static func against(baseURL: URL, token: String) async throws -> CheckWorld {
        let world = try CheckWorld(baseURL: baseURL, token: token, server: nil)
        try await world.mock.reset()
        return world
    }

    init(baseURL: URL, token: String, server: MockHubSpotServer?) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        self.baseURL = baseURL
        self.token = token
        self.server = server
        store = try SyncStore(path: folder.appendingPathComponent("crmsync.sqlite").path)
        configuration.sync.consistencyHorizon = .seconds(1)
    }

    /// Raises the running mock's limits and sets (or clears) seeded transport faults for the history.
    public func configureMock(faults seed: UInt64?) async throws {
        try await mock.configure { config in
            config.rateLimit = .init(max: 100_000_000, intervalMs: 10_000)
            config.searchPerSecond = 1_000_000
            config.dailyLimit = 100_000_000
            if let seed {
                config.faults.seed = seed
                config.faults.serverErrorRate = 0.03
                config.faults.stormRate = 0.01
                config.faults.stormLength = 2
                config.faults.dropRate = 0.01
                config.faults.truncateRate = 0.01
            } else {
                config.faults.serverErrorRate = 0
                config.faults.stormRate = 0
                config.faults.dropRate = 0
                config.faults.truncateRate = 0
            }
        }
    }

    public func close() async {
        await server?.stop()
        try? FileManager.default.removeItem(at: folder)
    }

    func client(transport: (any HTTPTransport)? = nil) throws -> HubSpotClient {
        var settings = try SyncSettings.clientConfiguration(configuration, token: token)
        settings.baseURL = baseURL
        settings.requestsPerInterval = 100_000
        settings.searchPerSecond = 100_000
        settings.dailyBudget = 10_000_000
        settings.baseDelay = .milliseconds(2)
        settings.maxDelay = .milliseconds(20)
        return HubSpotClient(configuration: settings, transport: transport ?? URLSessionTransport())
    }

    func engine(transport: (any HTTPTransport)? = nil) throws -> SyncEngine {
        SyncEngine(
            store: store, client: try client(transport: transport),
            settings: SyncSettings(configuration, archiveSweepInterval: .zero))
    }

    func sync(dryRun: Bool = false, transport: (any HTTPTransport)? = nil) async throws -> SyncReport {
        try await engine(transport: transport).run(SyncRunOptions(dryRun: dryRun, ignoreBudget: true))
    }

    // MARK: The CRM, through plain HTTP (never the client under test)

    /// Someone else's call to the CRM. Injected faults hit these too, so a 5xx, a 429
    /// or a broken connection is tried again: the history's edits happen as the model records them.
    @discardableResult
    func control(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any? {
        var request = URLRequest(url: URL(string: baseURL.absoluteString + path)!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        for attempt in 1...20 {
            do {
                let (data, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if status == 429 || status >= 500 {
                    try await Task.sleep(for: .milliseconds(attempt * 5))
                    continue
                }
                return try? JSONSerialization.jsonObject(with: data)
            } catch  where attempt < 20 {
                try await Task.sleep(for: .milliseconds(attempt * 5))
            }
        }
        throw URLError(.cannotConnectToHost)
    }

    /// Every record in the CRM (live, or archived with `archived`), with the properties the checks read.
    func crmRecords(archived: Bool = false) async throws -> [[String: Any]] {
        var records: [[String: Any]] = []
        var after: String?
        repeat {
            var path = "/crm/v3/objects/contacts?limit=100&properties=email,firstname,lastname,city,hs_email_optout"
            if archived { path += "&archived=true" }
            if let after { path += "&after=\(after)" }
            let page = try await control("GET", path) as? [String: Any] ?? [:]
            records += page["results"] as? [[String: Any]] ?? []
            after = ((page["paging"] as? [String: Any])?["next"] as? [String: Any])?["after"] as? String
        } while after != nil
        return records
    }

    func crmRecord(email: String) async throws -> [String: Any]? {
        let reply =
            try await control(
                "GET", "/crm/v3/objects/contacts/\(email)?idProperty=email&properties=email,firstname,lastname,city")
            as? [String: Any]
        return reply?["id"] == nil ? nil : reply
    }

    func crmStatuses(_ email: String) async throws -> [Int: String] {
        let reply =
            try await control(
                "POST", "/communication-preferences/v4/statuses/batch/read?channel=EMAIL", ["inputs": [email]])
            as? [String: Any]
        let results = reply?["results"] as? [[String: Any]] ?? []
        let statuses = results.first?["statuses"] as? [[String: Any]] ?? []
        return Dictionary(
            statuses.map { ($0["subscriptionId"] as? Int ?? 0, $0["status"] as? String ?? "") },
            uniquingKeysWith: { a, _ in a })
    }

    func crmOptedOut(_ email: String) async throws -> Bool {
        let reply =
            try await control(
                "POST", "/communication-preferences/v4/statuses/batch/unsubscribe-all/read?channel=EMAIL",
                ["inputs": [email]]) as? [String: Any]
        let results = reply?["results"] as? [[String: Any]] ?? []
        let wide = results.first?["wideStatuses"] as? [[String: Any]] ?? []
        return wide.contains { $0["status"] as? String == "UNSUBSCRIBED" }
    }

    /// Every byte of the store's files (database, write-ahead log, shared memory).
    func storeBytes() -> Data {
        var bytes = Data()
        for suffix in ["", "-wal", "-shm"] {
            if let data = FileManager.default.contents(atPath: storePath + suffix) { bytes.append(data) }
        }
        return bytes
    }
}
