import Foundation
import Logging
import SyncCore
import SyncModel
import Synchronization

/// The typed HubSpot REST client crmsync uses (contract: `shared/hubspot-contract.md`).
///
/// Every call goes through one loop: the rate limiter admits it, the transport sends it, and the answer
/// decides what follows — 429s wait (Retry-After, else the interval) and go again, a `DAILY` 429 stops,
/// 5xx and broken connections are retried with exponential backoff and full jitter when replay is safe,
/// other 4xx are returned to the caller.
public final class HubSpotClient: Sendable {
    let configuration: HubSpotClientConfiguration
    let transport: any HTTPTransport
    let clock: any SyncClock
    let limiter: RateLimiter
    let logger: Logger
    let retry: RetryPolicy
    private let jitter: Mutex<SystemRandomNumberGeneratorOrSeeded>
    private let counters = Mutex(ClientMetrics())
    private let lastServerClock = Mutex<ServerClockReading?>(nil)

    public init(
        configuration: HubSpotClientConfiguration, transport: (any HTTPTransport)? = nil,
        clock: any SyncClock = SystemClock(), logger: Logger = .silent("crmsync.hubspot"),
        jitterSeed: UInt64? = nil
    ) {
        self.configuration = configuration
        self.transport = transport ?? AsyncHTTPClientTransport()
        self.clock = clock
        self.logger = logger
        self.retry = RetryPolicy(
            maxAttempts: configuration.maxAttempts, baseDelay: configuration.baseDelay, maxDelay: configuration.maxDelay
        )
        self.limiter = RateLimiter(
            clock: clock, requestsPerInterval: configuration.requestsPerInterval, interval: configuration.interval,
            searchPerSecond: configuration.searchPerSecond, headroomPercent: configuration.headroomPercent,
            dailyBudget: configuration.dailyBudget)
        self.jitter = Mutex(SystemRandomNumberGeneratorOrSeeded(seed: jitterSeed))
    }

    /// The counters since the client was made (or since ``resetMetrics()``).
    public var metrics: ClientMetrics { counters.withLock { $0 } }

    public func resetMetrics() { counters.withLock { $0 = ClientMetrics() } }

    /// HubSpot's clock as the latest answer with a `Date` header showed it, against this client's clock.
    public var serverClock: ServerClockReading? { lastServerClock.withLock { $0 } }

    /// Requests left in today's budget.
    public func remainingDailyBudget() async -> Int { await limiter.remainingToday }

    /// One HubSpot call.
    struct Call: Sendable {
        var method: String
        var to: Endpoint
        var query: [(String, String)] = []
        var body: Data?
        var bucket: RateBucket = .standard
        var safety: ReplaySafety = .idempotent
    }

    /// The path of `endpoint` in the configured API generation.
    func path(_ endpoint: Endpoint) -> String { configuration.apiVersion.path(for: endpoint) }

    /// `POST /crm/objects/2026-09/contacts/{id}`: the path with ids and addresses replaced, for logs and counts.
    static func label(method: String, path: String) -> String {
        let segments = path.split(separator: "/").map { segment -> String in
            segment.allSatisfy(\.isNumber) || segment.contains("@") || segment.contains("%40")
                ? "{id}" : String(segment)
        }
        return "\(method) /" + segments.joined(separator: "/")
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = HubSpotTime.parse(text) { return date }
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time"))
        }
        return decoder
    }()

    /// Sends `call` until it succeeds, fails for good, or runs out of attempts; decodes the 2xx answer.
    /// A 2xx body that does not decode (a truncated body) counts as a broken response and is retried.
    func perform<T>(_ call: Call, decode: (HTTPResponse) throws -> T) async throws -> T {
        let path = path(call.to)
        let endpoint = Self.label(method: call.method, path: path)
        var request = HTTPRequest(
            method: call.method, url: url(path: path, query: call.query), body: call.body,
            timeout: configuration.requestTimeout)
        request.headers["Authorization"] = "Bearer \(configuration.token)"
        request.headers["Accept"] = "application/json"
        // Who is calling, for HubSpot's logs and support (libcurl named itself; AsyncHTTPClient sends none).
        request.headers["User-Agent"] = "crmsync/\(CRMSyncVersion.current)"
        if call.body != nil { request.headers["Content-Type"] = "application/json" }
        var failures = 0
        var rateLimitedTimes = 0
        while true {
            try Task.checkCancellation()
            do {
                try await limiter.acquire(call.bucket)
            } catch let exhausted as DailyBudgetExhausted {
                throw HubSpotError.dailyBudget(endpoint: endpoint, budget: exhausted.budget)
            }
            count {
                $0.requests += 1; $0.bytesSent += call.body?.count ?? 0; $0.byEndpoint[endpoint, default: 0] += 1
            }
            let response: HTTPResponse
            let sentAt = clock.now
            do {
                response = try await transport.send(request)
            } catch let error as TransportError {
                await limiter.complete(call.bucket, headers: nil)
                count { $0.transportErrors += 1 }
                failures += 1
                let failure = HubSpotError.transport(error, endpoint: endpoint)
                logger.debug(
                    "transport failure",
                    metadata: [
                        "crm.endpoint": "\(endpoint)", "crm.error": "\(error.kind)", "crm.attempt": "\(failures)",
                    ])
                guard call.safety == .idempotent || error.kind == .cannotConnect else { throw failure }
                try await backOff(after: failures, failure: failure)
                continue
            } catch {
                // Any other error (cancellation, a test's killed sender) still gives the place in the window back:
                // a place kept would block every later request once a 429 storm shrank the allowance to one.
                await limiter.complete(call.bucket, headers: nil)
                throw error
            }
            await limiter.complete(call.bucket, headers: RateLimitHeaders(response))
            if let date = response.header("Date").flatMap(HTTPDate.parse) {
                let reading = ServerClockReading(serverDate: date, sentAt: sentAt, receivedAt: clock.now)
                lastServerClock.withLock { $0 = reading }
            }
            count { $0.bytesReceived += response.body.count }
            logger.debug(
                "crm response", metadata: ["crm.endpoint": "\(endpoint)", "crm.http.status": "\(response.status)"])
            switch response.status {
            case 200..<300:
                do {
                    return try decode(response)
                } catch {
                    failures += 1
                    let failure = HubSpotError.malformed(
                        endpoint: endpoint, status: response.status, what: "\(type(of: error))")
                    guard call.safety == .idempotent else { throw failure }
                    try await backOff(after: failures, failure: failure)
                }
            case 429:
                count { $0.rateLimited += 1 }
                let body = try? JSONDecoder().decode(ErrorBody.self, from: response.body)
                if body?.policyName == "DAILY" { throw HubSpotError.dailyLimit(endpoint: endpoint) }
                rateLimitedTimes += 1
                let error = HubSpotError.http(response, endpoint: endpoint)
                guard rateLimitedTimes < max(retry.maxAttempts, 3) else {
                    throw HubSpotError.retriesExhausted(after: rateLimitedTimes, last: error)
                }
                let pause: Duration? =
                    response.header("Retry-After").flatMap(Double.init).map { .milliseconds(Int64($0 * 1000)) }
                    ?? response.header("X-HubSpot-RateLimit-Interval-Milliseconds").flatMap(Int64.init).map {
                        .milliseconds($0)
                    }
                    ?? (call.bucket == .search ? .seconds(1) : nil)
                logger.debug(
                    "rate limited",
                    metadata: ["crm.endpoint": "\(endpoint)", "crm.policy": "\(body?.policyName ?? "?")"])
                await limiter.backOff(for: pause)
                count { $0.retries += 1 }
            case 500..<600:
                count { $0.serverErrors += 1 }
                failures += 1
                let failure = HubSpotError.http(response, endpoint: endpoint)
                guard call.safety == .idempotent else { throw failure }
                try await backOff(after: failures, failure: failure)
            default:
                throw HubSpotError.http(response, endpoint: endpoint)
            }
        }
    }

    /// Waits before the next attempt, or throws when attempts are used up.
    private func backOff(after failures: Int, failure: HubSpotError) async throws {
        guard failures < retry.maxAttempts else {
            throw HubSpotError.retriesExhausted(after: failures, last: failure)
        }
        count { $0.retries += 1 }
        let unit = jitter.withLock { $0.unit() }
        try await clock.sleep(for: retry.delay(beforeRetry: failures, unit: unit))
    }

    /// Sends `call` and decodes its JSON answer as `T`.
    func perform<T: Decodable>(_ call: Call, as type: T.Type) async throws -> T {
        try await perform(call) { response in try Self.decoder.decode(T.self, from: response.body) }
    }

    private func url(path: String, query: [(String, String)]) -> URL {
        var components = URLComponents(url: configuration.baseURL, resolvingAgainstBaseURL: false)!
        components.percentEncodedPath = configuration.baseURL.path.trimmingSuffix("/") + path
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        return components.url!
    }

    private func count(_ update: (inout ClientMetrics) -> Void) { counters.withLock { update(&$0) } }

    /// JSON for a request body.
    static func body<T: Encodable>(_ value: T) throws -> Data { try encoder.encode(value) }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// Full-jitter draws: seeded in tests (repeatable), system randomness otherwise.
struct SystemRandomNumberGeneratorOrSeeded: Sendable {
    private var state: UInt64?

    init(seed: UInt64?) { state = seed }

    mutating func unit() -> Double {
        guard var state else { return Double.random(in: 0..<1) }
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        self.state = state
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}

/// HubSpot's times: ISO 8601 with milliseconds (`2025-06-02T10:11:12.345Z`); search filters use epoch ms.
public enum HubSpotTime {
    /// HubSpot's times: ISO 8601 (as their exact millisecond) or milliseconds since 1970.
    public static func parse(_ text: String) -> Date? {
        if let date = Date(iso8601: text) { return date }
        if let milliseconds = Int64(text) { return Date(millisecondsSince1970: milliseconds) }
        return nil
    }

    public static func milliseconds(_ date: Date) -> String { String(date.millisecondsSince1970) }
}
