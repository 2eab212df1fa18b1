import Foundation
import HubSpotClient
import Logging
import MockHubSpot
import PostgresRegister
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import SyncTesting
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A transport that dies (like a killed process) on the first request after `afterMutations` mutating
/// requests went through: the CRM has the writes, the store never heard back.
public final class DyingTransport: HTTPTransport {
    public struct Killed: Error {}
    let inner: any HTTPTransport
    let afterMutations: Int
    private let seen = Mutex(0)

    public init(afterMutations: Int, inner: any HTTPTransport = AsyncHTTPClientTransport()) {
        self.afterMutations = afterMutations
        self.inner = inner
    }

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

/// The client's transport in front of ``InProcessMockHubSpot``: no socket, the same router, gate and journal.
public struct InProcessTransport: HTTPTransport {
    let mock: InProcessMockHubSpot

    public init(_ mock: InProcessMockHubSpot) { self.mock = mock }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var target = request.url.path
        if let query = request.url.query { target += "?" + query }
        do {
            let reply = try await mock.respond(
                method: request.method, target: target, headers: request.headers, body: request.body)
            return HTTPResponse(status: reply.status, headers: reply.headers, body: reply.body)
        } catch {
            throw TransportError(.connectionLost, "the in-process mock broke the answer")
        }
    }
}

/// One store and one mock CRM for a checked history, in one of three forms:
/// - ``inMemory()``: the store in memory and the mock in-process without a socket (the fastest: `swift test`
///   and long runs of `crmsync-bench check`);
/// - ``inProcess()``: a store file and an in-process mock listening on loopback;
/// - ``against(baseURL:token:)``: a store file and a running `mock-hubspot` process, reset first.
public final class CheckWorld: @unchecked Sendable {
    /// The store file's folder (nil for a store in memory).
    public let folder: URL?
    /// Where the world keeps what is not the store: the erasure journal of a store in memory, backups.
    let scratch: URL
    /// The host's clock: command-line decisions and syncs read it; `hostClockStep` steps it.
    public let hostClock: SteppableClock
    /// The last backup of the store (`backupStore`), if any.
    private(set) var lastBackup: String?
    public let baseURL: URL
    public let token: String
    public private(set) var store: SyncStore
    public var configuration = SyncConfiguration()
    let server: MockHubSpotServer?
    /// How every call reaches the CRM: the client under test's and the history's own edits.
    let transport: any HTTPTransport

    /// The mock's control surface.
    let mock: MockControlClient
    /// The PostgreSQL server of a world whose register is there (``against(baseURL:token:postgres:)``), and the
    /// databases it made: the register's, its backups' and restores', dropped when it closes.
    private var postgres: (server: PostgresLocation, made: [String])?

    public var storePath: String? { folder.map { Self.storeFile(in: $0) } }

    private static func storeFile(in folder: URL) -> String { folder.appendingPathComponent("crmsync.sqlite").path }

    /// The store file of a world with a folder, on the host's clock.
    private static func fileStore(in folder: URL, clock: SteppableClock) throws -> SyncStore {
        try SyncStore(path: storeFile(in: folder), clock: clock)
    }

    /// A path for a request: the address percent-encoded (an internationalised address is not URL-safe).
    static func pathComponent(_ email: String) -> String {
        email.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? email
    }

    /// A world in memory: a store without a file and the mock without a socket.
    public static func inMemory() async throws -> CheckWorld {
        let mock = await InProcessMockHubSpot(.init(configuration: unlimited))
        let scratch = try temporaryFolder()
        let clock = SteppableClock()
        return try CheckWorld(
            store: .inMemory(clock: clock, erasureJournal: memoryJournal(in: scratch)),
            folder: nil, scratch: scratch, hostClock: clock, baseURL: URL(string: "http://in-process.invalid")!,
            token: mock.token,
            server: nil, transport: InProcessTransport(mock), mock: mock.control)
    }

    /// A world with a store file and an in-process mock on loopback.
    public static func inProcess() async throws -> CheckWorld {
        let server = try await MockHubSpotServer.start(.init(configuration: unlimited))
        let folder = try temporaryFolder()
        let clock = SteppableClock()
        return try CheckWorld(
            store: fileStore(in: folder, clock: clock), folder: folder, scratch: folder, hostClock: clock,
            baseURL: server.baseURL, token: server.token, server: server,
            transport: AsyncHTTPClientTransport(),
            mock: server.control)
    }

    /// A world against a running mock (reset now); `faults` are set on it for the history, off for the quiet end.
    /// With `postgres` (a server whose user may create databases) the register is a new database there, its erasure
    /// journal a file of the world's, and a backup a copy of it in another database.
    public static func against(baseURL: URL, token: String, postgres: PostgresLocation? = nil) async throws
        -> CheckWorld
    {
        let folder = try temporaryFolder()
        let clock = SteppableClock()
        var database: PostgresLocation?
        if let postgres {
            database = try PostgresAdministration.createUniqueDatabase(
                prefix: databasePrefix, on: postgres, logger: silent)
        }
        let store =
            try database.map { try SyncStore.postgres($0, clock: clock, erasureJournal: memoryJournal(in: folder)) }
            ?? fileStore(in: folder, clock: clock)
        let world = try CheckWorld(
            store: store, folder: database == nil ? folder : nil, scratch: folder, hostClock: clock,
            baseURL: baseURL, token: token, server: nil,
            transport: AsyncHTTPClientTransport(),
            mock: MockControlClient(baseURL: baseURL))
        if let postgres, let database {
            world.postgres = (postgres, [database.database])
        }
        try await world.mock.reset()
        return world
    }

    private static let databasePrefix = "crmsync_check"

    private static let silent = Logger(label: "crmsync.check", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A new database on the world's server holding a copy of the register in `source`.
    private func copy(_ source: SyncStore, on server: PostgresLocation) throws -> String {
        let location = try PostgresAdministration.createUniqueDatabase(
            prefix: Self.databasePrefix, on: server, logger: Self.silent)
        let name = location.database
        postgres?.made.append(name)
        let target = try PostgresRegisterDatabase(location: location, logger: Self.silent)
        defer { try? target.close() }
        try target.migrate()
        try RegisterCopy.copy(from: source, to: target)
        return name
    }

    /// Where a store in memory keeps its erasure journal: the world's scratch folder, apart from its backups' store.
    private static func memoryJournal(in scratch: URL) -> String {
        scratch.appendingPathComponent("erasure-journal").path
    }

    private static var unlimited: MockConfiguration {
        var mock = MockConfiguration()
        mock.rateLimit = .init(max: 1_000_000, intervalMs: 10_000)
        mock.searchPerSecond = 1_000_000
        mock.dailyLimit = 100_000_000
        return mock
    }

    private static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    init(
        store: SyncStore, folder: URL?, scratch: URL, hostClock: SteppableClock, baseURL: URL, token: String,
        server: MockHubSpotServer?, transport: any HTTPTransport, mock: MockControlClient
    ) throws {
        self.mock = mock
        self.store = store
        self.folder = folder
        self.scratch = scratch
        self.hostClock = hostClock
        self.baseURL = baseURL
        self.token = token
        self.server = server
        self.transport = transport
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
        if let postgres {
            try? store.close()
            for name in postgres.made {
                try? PostgresAdministration.dropDatabase(name, on: postgres.server, logger: Self.silent)
            }
        }
        try? FileManager.default.removeItem(at: scratch)
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    /// An administrator's backup of the store as it is now (the erasure journal, kept apart, is not in it).
    func backupStore() throws {
        if let postgres {
            lastBackup = try copy(store, on: postgres.server)
            return
        }
        let path = scratch.appendingPathComponent("backup-\(UUID().uuidString).sqlite").path
        try store.backup(to: path)
        if let lastBackup { try? FileManager.default.removeItem(atPath: lastBackup) }
        lastBackup = path
    }

    /// Puts the last backup back in place of the store and opens it, as crmsync's next command would; false when
    /// there is no backup.
    func restoreBackup() throws -> Bool {
        guard let lastBackup else { return false }
        if let postgres {
            // The backup is copied whole, by the server, into a new database (`CREATE DATABASE … TEMPLATE`, as an
            // administrator restores one), which the register is from now on; the backup stays as it was, for
            // another restore. The erasure journal is applied as the register opens.
            let restored = try PostgresAdministration.createUniqueDatabase(
                prefix: Self.databasePrefix, on: postgres.server, template: lastBackup, logger: Self.silent
            ).database
            self.postgres?.made.append(restored)
            try store.close()
            store = try .postgres(
                postgres.server.database(restored), clock: hostClock, erasureJournal: Self.memoryJournal(in: scratch))
            return true
        }
        guard let storePath else {
            store = try .inMemory(
                restoring: lastBackup, erasureJournal: Self.memoryJournal(in: scratch), clock: hostClock)
            return true
        }
        try store.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: storePath + suffix) }
        try FileManager.default.copyItem(atPath: lastBackup, toPath: storePath)
        store = try SyncStore(path: storePath, clock: hostClock)
        return true
    }

    /// From now on the portal requires a last name on every write, refused per input (a 207).
    func requireLastNamePerInput() async throws {
        try await mock.configure {
            $0.requiredProperties = ["lastname"]
            $0.requiredPropertyFailure = .perInput
        }
    }

    /// The portal requires nothing any more, and every contact it refused is due again.
    func dropRequirementsAndReleaseQuarantine() async throws {
        try await mock.configure { $0.requiredProperties = [] }
        try store.releaseFromQuarantine(try store.quarantined().map(\.contactId))
    }

    /// How far the search index trails writes for the rest of the history (0 for the quiet end).
    func setIndexLag(milliseconds: Int) async throws {
        try await mock.configure { $0.searchLagMs = milliseconds }
    }

    func client(transport: (any HTTPTransport)? = nil, clock: (any SyncClock)? = nil) throws -> HubSpotClient {
        var settings = try HubSpotClientConfiguration(configuration, token: token)
        settings.baseURL = baseURL
        settings.requestsPerInterval = 100_000
        settings.searchPerSecond = 100_000
        settings.dailyBudget = 10_000_000
        settings.baseDelay = .milliseconds(2)
        settings.maxDelay = .milliseconds(20)
        return HubSpotClient(configuration: settings, transport: transport ?? self.transport, clock: clock ?? hostClock)
    }

    /// An engine whose clock (and its client's) is `clock`: the wall clock, or one off by minutes.
    func engine(transport: (any HTTPTransport)? = nil, clock: (any SyncClock)? = nil) throws -> SyncEngine {
        SyncEngine(
            store: store, client: try client(transport: transport, clock: clock),
            settings: SyncSettings(configuration, archiveSweepInterval: .zero), clock: clock ?? hostClock)
    }

    func sync(dryRun: Bool = false, transport: (any HTTPTransport)? = nil, clock: (any SyncClock)? = nil)
        async throws -> SyncReport
    {
        try await engine(transport: transport, clock: clock).run(SyncRunOptions(dryRun: dryRun, ignoreBudget: true))
    }

    // MARK: The CRM, through plain HTTP (never the client under test)

    /// Someone else's call to the CRM. Injected faults hit these too, so a 5xx, a 429
    /// or a broken connection is tried again: the history's edits happen as the model records them.
    @discardableResult
    func control(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any? {
        let request = HTTPRequest(
            method: method, url: URL(string: baseURL.absoluteString + path)!,
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
            body: try body.map { try JSONSerialization.data(withJSONObject: $0) })
        for attempt in 1...20 {
            do {
                let response = try await transport.send(request)
                if response.status == 429 || response.status >= 500 {
                    try await Task.sleep(for: .milliseconds(attempt * 5))
                    continue
                }
                return try? JSONSerialization.jsonObject(with: response.body)
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

    /// The live record under any spelling of `email` (HubSpot compares addresses as text).
    func crmRecord(email: String) async throws -> [String: Any]? {
        for spelling in CheckOperation.spellings(of: email) {
            let reply =
                try await control(
                    "GET",
                    "/crm/v3/objects/contacts/\(Self.pathComponent(spelling))?idProperty=email&properties=email,firstname,lastname,city"
                ) as? [String: Any]
            if reply?["id"] != nil { return reply }
        }
        return nil
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

    /// Every byte of the store: its files (database, write-ahead log, shared memory), or for a store in memory
    /// every page of it, free pages included, as SQLite would write them to a file.
    func storeBytes() throws -> Data {
        guard let storePath else { return try store.pageImage() }
        var bytes = Data()
        for suffix in ["", "-wal", "-shm"] {
            if let data = FileManager.default.contents(atPath: storePath + suffix) { bytes.append(data) }
        }
        return bytes
    }
}
