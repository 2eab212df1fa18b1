import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A typed client for the mock's control surface under `/__mock/`: how tests, the demo and the benchmarks reset,
/// seed, tamper with, configure and inspect the mock, instead of hand-built JSON over URLSession.
///
/// The control surface passes the mock's gate untouched (no token, no limits, no faults), so a call either gets
/// its answer or fails with a ``MockControlError``.
public struct MockControlClient: Sendable {
    /// One call of the control surface: method, path (`/__mock/reset`) and JSON body in; status and body out.
    public typealias Exchange =
        @Sendable (_ method: String, _ path: String, _ body: Data?) async throws -> (
            status: Int, body: Data
        )

    private let exchange: Exchange

    /// A client for a mock listening at `baseURL` (`http://127.0.0.1:PORT`).
    public init(baseURL: URL) {
        exchange = { method, path, body in
            var request = URLRequest(url: URL(string: baseURL.absoluteString + path)!)
            request.httpMethod = method
            if let body {
                request.httpBody = body
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
        }
    }

    /// A client that hands each call to `exchange` (the in-process mock's, which has no socket).
    public init(exchange: @escaping Exchange) { self.exchange = exchange }

    /// `POST /__mock/reset`: an empty CRM, the configuration the mock started with, journal and statistics cleared.
    public func reset() async throws { _ = try await send("POST", "reset") }

    /// `POST /__mock/seed`: inserts records past the blocklist and the limits; returns their ids, in order.
    @discardableResult
    public func seed(_ seed: MockSeed) async throws -> [String] {
        let reply: MockSeedResult = try await call("POST", "seed", body: seed)
        return reply.ids
    }

    /// `POST /__mock/advance`: moves the clock the rate limits and the search index read forward; returns how far
    /// it is ahead of the wall clock now.
    @discardableResult
    public func advance(by duration: Duration) async throws -> Duration {
        let (seconds, attoseconds) = duration.components
        let request = MockClockAdvance(ms: Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
        let reply: MockClockAdvance.Result = try await call("POST", "advance", body: request)
        return .milliseconds(reply.offsetMs)
    }

    /// `POST /__mock/tamper`: changes values without moving `lastmodifieddate` or the history, as data changed behind
    /// the change feed's back looks.
    public func tamper(_ tampering: MockTampering) async throws {
        _ = try await send("POST", "tamper", body: tampering)
    }

    /// `GET /__mock/config`: the limits and faults in force.
    public func configuration() async throws -> MockConfiguration {
        try await call("GET", "config")
    }

    /// `PUT /__mock/config` with the whole configuration; faults restart from their seed. Returns what the mock now
    /// holds.
    @discardableResult
    public func configure(_ configuration: MockConfiguration) async throws -> MockConfiguration {
        try await call("PUT", "config", body: configuration)
    }

    /// Reads the configuration in force, changes it, and puts it back: `configure { $0.faults.serverErrorRate = 0 }`
    /// leaves every other limit and fault as it was.
    @discardableResult
    public func configure(_ change: (inout MockConfiguration) -> Void) async throws -> MockConfiguration {
        var configuration = try await configuration()
        change(&configuration)
        return try await configure(configuration)
    }

    /// `GET /__mock/journal`: every API request the mock answered, from entry `since` on (0 is the first).
    public func journal(since: Int = 0) async throws -> [MockJournalEntry] {
        let path = since > 0 ? "journal?since=\(since)" : "journal"
        return try await call("GET", path)
    }

    /// `GET /__mock/stats`: request counts and what the CRM holds.
    public func stats() async throws -> MockStats {
        try await call("GET", "stats")
    }

    // MARK: The wire

    private func send(_ method: String, _ path: String, body: (any Encodable)? = nil) async throws -> Data {
        let endpoint = "\(method) /__mock/\(path)"
        let encoded = try body.map { try HubSpotWire.controlEncoder().encode($0) }
        let data: Data
        let status: Int
        do {
            (status, data) = try await exchange(method, "/__mock/\(path)", encoded)
        } catch {
            throw MockControlError(.unreachable, endpoint: endpoint, message: "\(error)")
        }
        guard (200..<300).contains(status) else {
            let message = (try? JSONDecoder().decode(MockErrorBody.self, from: data))?.message
            throw MockControlError(
                .refused, endpoint: endpoint, status: status,
                message: message ?? String(decoding: data.prefix(200), as: UTF8.self))
        }
        return data
    }

    /// Sends the request and reads the answer as `Reply`.
    private func call<Reply: Decodable>(_ method: String, _ path: String, body: (any Encodable)? = nil) async throws
        -> Reply
    {
        let data = try await send(method, path, body: body)
        do {
            return try HubSpotWire.controlDecoder().decode(Reply.self, from: data)
        } catch {
            throw MockControlError(.unreadableReply, endpoint: "\(method) /__mock/\(path)", message: "\(error)")
        }
    }

    /// The `message` of the mock's error bodies (HubSpot's shape).
    private struct MockErrorBody: Decodable {
        var message: String
    }
}

extension MockHubSpotServer {
    /// A client for this server's control surface.
    public var control: MockControlClient { MockControlClient(baseURL: baseURL) }
}
