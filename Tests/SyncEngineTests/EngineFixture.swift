import Foundation
import HubSpotClient
import Logging
import MockHubSpot
import SyncChecking
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import SyncTesting
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A store in memory, the mock CRM in-process without a socket, and an engine between them: the in-memory
/// ports, so engine tests touch no file and no port. With `CRMSYNC_TEST_ENGINE_STORE=postgres` the store is a
/// database of its own on the PostgreSQL test server instead (``TestPostgres``): the same tests, on the other adapter.
final class EngineFixture: @unchecked Sendable {
    let crmMock: InProcessMockHubSpot
    let store: SyncStore
    var configuration = SyncConfiguration()
    /// How the client under test and the fixture's own calls reach the mock.
    let crmTransport: any HTTPTransport
    /// The client's transport: `crmTransport`, or a test's wrapper around it (faults, lost replies, recording).
    var transport: any HTTPTransport
    let baseURL = URL(string: "http://in-process.invalid")!
    var dailyBudget = 1_000_000
    /// The one time of the fixture: HubSpot's (the mock's stamps, its search index and `Date` header), the
    /// store's and the engine's. Each reading moves it on by a millisecond, as a wall clock would between
    /// two steps; ``tick()`` moves it on by a second. No test waits in real time for an ordering.
    let time = ManualClock(now: Date(millisecondsSince1970: 1_796_112_000_000), step: .milliseconds(1))
    /// The clock of the engine and its client: the fixture's time, unless a test sets another (a skewed one).
    var clock: any SyncClock

    init(mock: MockConfiguration = EngineFixture.unlimited(), storeClock: (any SyncClock)? = nil) async throws {
        let time = self.time
        clock = time
        crmMock = await InProcessMockHubSpot(.init(configuration: mock), clock: { time.now })
        crmTransport = InProcessTransport(crmMock)
        transport = crmTransport
        if TestPostgres.enginesUsePostgres {
            (store, dropStore) = try TestPostgres.newStore(clock: storeClock ?? time)
        } else {
            store = try SyncStore.inMemory(clock: storeClock ?? time)
        }
    }

    /// Drops the store's database on the test server (``TestPostgres``), if it has one.
    private var dropStore: (@Sendable () -> Void)?

    deinit { dropStore?() }

    /// Moves the fixture's time on by a second: the next decision, on either side, is newer than the last.
    func tick() { time.advance(by: .seconds(1)) }

    func client() throws -> HubSpotClient {
        var clientConfiguration = try HubSpotClientConfiguration(configuration, token: crmMock.token)
        clientConfiguration.baseURL = baseURL
        clientConfiguration.requestsPerInterval = 100_000
        clientConfiguration.dailyBudget = dailyBudget
        clientConfiguration.baseDelay = .milliseconds(5)
        clientConfiguration.maxDelay = .milliseconds(50)
        return HubSpotClient(configuration: clientConfiguration, transport: transport, clock: clock)
    }

    func propagator() throws -> ErasurePropagator {
        ErasurePropagator(store: ThreadedRegister(store), client: try client(), clock: time, maxAttempts: 3)
    }

    /// Every page of the store, free pages included, as SQLite would write them to a file.
    func storeBytes() throws -> Data { try store.pageImage() }

    func close() async {}

    static func unlimited() -> MockConfiguration {
        var configuration = MockConfiguration()
        configuration.rateLimit = .init(max: 1_000_000, intervalMs: 10_000)
        configuration.searchPerSecond = 1_000_000
        configuration.dailyLimit = 100_000_000
        return configuration
    }

    func engine(
        store: SyncStore? = nil, logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        archiveSweepInterval: Duration = .zero
    )
        throws -> SyncEngine
    {
        var clientConfiguration = try HubSpotClientConfiguration(configuration, token: crmMock.token)
        clientConfiguration.baseURL = baseURL
        clientConfiguration.requestsPerInterval = 100_000
        clientConfiguration.searchPerSecond = 100_000
        clientConfiguration.dailyBudget = dailyBudget
        clientConfiguration.baseDelay = .milliseconds(5)
        clientConfiguration.maxDelay = .milliseconds(50)
        let client = HubSpotClient(
            configuration: clientConfiguration, transport: transport, clock: clock, logger: logger)
        // The register as the commands hand it to the engine: its transactions off the caller's thread.
        return SyncEngine(
            store: ThreadedRegister(store ?? self.store), client: client,
            settings: SyncSettings(configuration, archiveSweepInterval: archiveSweepInterval), clock: clock,
            logger: logger)
    }

    @discardableResult
    func sync(dryRun: Bool = false, ignoreBudget: Bool = false) async throws -> SyncReport {
        try await engine().run(SyncRunOptions(dryRun: dryRun, ignoreBudget: ignoreBudget))
    }

    // MARK: The CRM, through the control surface and plain HTTP (not the client under test)

    /// The mock's control surface.
    var mock: MockControlClient { crmMock.control }

    @discardableResult
    func crm(_ method: String, _ path: String, _ body: Any? = nil) async throws -> [String: Any] {
        let request = HTTPRequest(
            method: method, url: URL(string: baseURL.absoluteString + path)!,
            headers: ["Authorization": "Bearer \(crmMock.token)", "Content-Type": "application/json"],
            body: try body.map { try JSONSerialization.data(withJSONObject: $0) })
        let response = try await crmTransport.send(request)
        return (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
    }

    func journal() async throws -> [MockJournalEntry] { try await mock.journal() }

    func mutatingRequests(since: Int = 0) async throws -> [MockJournalEntry] {
        try await mock.journal(since: since).filter(\.isMutating)
    }

    @discardableResult
    func seedCRM(_ contacts: [MockSeedContact]) async throws -> [String] {
        try await mock.seed(.contacts(contacts))
    }

    /// A form creates a record for `address`, and a CRM user merges record `crmId` into it (before any sync).
    func mergeIntoNewRecord(_ crmId: String, address: String) async throws {
        let survivor = try await seedCRM([MockSeedContact(["email": address, "firstname": "S"])])[0]
        try await crm(
            "POST", "/crm/v3/objects/contacts/merge", ["primaryObjectId": survivor, "objectIdToMerge": crmId])
    }

    func crmContact(email: String, properties: String = "firstname,lastname,city,hs_email_optout") async throws
        -> [String: Any]?
    {
        let reply = try await crm("GET", "/crm/v3/objects/contacts/\(email)?idProperty=email&properties=\(properties)")
        return reply["id"] == nil ? nil : reply
    }

    func crmProperty(_ email: String, _ name: String) async throws -> String? {
        (try await crmContact(email: email)?["properties"] as? [String: Any])?[name] as? String
    }

    func crmStatuses(_ email: String) async throws -> [Int: String] {
        let reply = try await crm(
            "POST", "/communication-preferences/v4/statuses/batch/read?channel=EMAIL", ["inputs": [email]])
        let statuses = ((reply["results"] as? [[String: Any]])?.first?["statuses"] as? [[String: Any]]) ?? []
        return Dictionary(
            uniqueKeysWithValues: statuses.map { ($0["subscriptionId"] as? Int ?? 0, $0["status"] as? String ?? "") })
    }

    func crmCount() async throws -> Int { try await mock.stats().contacts }

    // MARK: The store

    func importCSV(_ csv: String) throws {
        let batch = try ImportFileReader(purposes: Purpose.standard).read(Data(csv.utf8), format: .csv)
        _ = try store.importContacts(batch, actor: "test")
    }

    func local(_ email: String) throws -> Contact? { try store.contact(email: EmailAddress(email)) }

    func consent(_ email: String, _ purpose: Purpose) throws -> ConsentState? {
        guard let contact = try local(email) else { return nil }
        return try store.consents(contactId: contact.id).first { $0.purpose == purpose }?.state
    }

    func isOptedOut(_ email: String) throws -> Bool {
        guard let contact = try local(email) else { return false }
        return try store.suppressions(contactId: contact.id).contains { $0.kind == .optedOutOfAll && $0.isActive }
    }

    func auditCount() throws -> Int { try store.recentAuditEntries(limit: 1_000_000).count }
}

func email(_ raw: String) -> EmailAddress { try! EmailAddress(raw) }
