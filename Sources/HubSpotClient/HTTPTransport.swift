import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// One HTTP request as the client builds it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [String: String]
    public var body: Data?
    /// Idle timeout of this request.
    public var timeout: Duration

    public init(
        method: String, url: URL, headers: [String: String] = [:], body: Data? = nil, timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// One HTTP response. Header names are matched case-insensitively.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: Data
    private var headers: [String: String]

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.body = body
        self.headers = Dictionary(
            headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// How a request failed before a complete response arrived.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The connection could not be made: nothing was sent, any request may be retried.
        case cannotConnect
        case timedOut
        /// The connection broke mid-request or mid-response (dropped, truncated).
        case connectionLost
        case other
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind): \(detail)" }
}

/// Sends HTTP requests. Production uses ``AsyncHTTPClientTransport``; tests may inject their own.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// AsyncHTTPClient on SwiftNIO's event loops: a request waiting for its answer costs no CPU.
///
/// Not Foundation's URLSession: on Linux (swift-corelibs-foundation, libcurl under Dispatch) a process waiting for an
/// answer spins (measured: `crmsync sync` against a server that accepts and never answers used 77 % of a core, in
/// `poll`, `ioctl` and `eventfd` calls, until its timeout); with several processes waiting on a slow CRM, or the test
/// suite's in-process mocks, they starved the servers they waited on.
///
/// The clients are shared by the process (one per idle timeout and proxy) and never shut down, as a program's
/// connection pool should be. Connections are not re-established by the pool: a connection that cannot be made fails
/// the request at once, and ``HubSpotClient``'s retry policy decides. No redirect is followed (HubSpot's API sends
/// none; a redirect would carry the token elsewhere). A proxy is taken from the environment as libcurl takes it:
/// `https_proxy`/`HTTPS_PROXY` for `https` URLs, `http_proxy` for `http` ones, `all_proxy`/`ALL_PROXY` for either,
/// `no_proxy`/`NO_PROXY` for exceptions (`*` alone: none); never for a loopback host.
public final class AsyncHTTPClientTransport: HTTPTransport {
    /// Total time of one request, whatever its idle timeout.
    private let resourceTimeout: Duration
    private let environment: [String: String]
    /// The largest answer read (HubSpot's pages are a few hundred kilobytes).
    static let maximumBody = 64 * 1024 * 1024

    public init(
        resourceTimeout: Duration = .seconds(120), environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.resourceTimeout = resourceTimeout
        self.environment = environment
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let scheme = request.url.scheme?.lowercased(), let host = request.url.host else {
            throw TransportError(.other, "not an absolute URL")
        }
        let proxy = try HTTPProxy.from(environment: environment, scheme: scheme, host: host)
        let client = Self.client(idleTimeout: request.timeout, proxy: proxy)
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        if let body = request.body { outgoing.body = .bytes(ByteBuffer(data: body)) }
        do {
            let outgoing = outgoing
            // The whole exchange has one deadline, this one: AsyncHTTPClient's own would end at the answer's head.
            return try await Self.withDeadline(resourceTimeout) {
                let response = try await client.execute(outgoing, deadline: .distantFuture)
                var body = try await response.body.collect(upTo: Self.maximumBody)
                let data = body.readData(length: body.readableBytes) ?? Data()
                // `HTTPResponse` keeps the first of repeated names, matched case-insensitively.
                let answer = HTTPResponse(
                    status: Int(response.status.code),
                    headers: Dictionary(response.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }),
                    body: data)
                if let expected = answer.header("Content-Length").flatMap(Int.init), expected != data.count {
                    throw TransportError(.connectionLost, "body truncated: \(data.count) of \(expected) bytes")
                }
                return answer
            }
        } catch let error as TransportError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw Self.classify(error)
        }
    }

    /// `work`, or `.timedOut` once `limit` has passed: AsyncHTTPClient's own deadline ends when the answer's head
    /// arrives, and a body trickling in under the idle timeout would hold the request for ever.
    static func withDeadline<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw TransportError(.timedOut, "no whole answer within \(limit)")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        }
    }

    /// What a failure of AsyncHTTPClient means for a retry: `cannotConnect` only where nothing can have reached the
    /// CRM (no connection, the proxy refused the tunnel, no TLS session, no connection for the request in time). An
    /// error of an established connection is `connectionLost`, TLS ones included (an unclean shutdown comes after the
    /// answer's head).
    static func classify(_ error: any Error) -> TransportError {
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout, .invalidProxyResponse, .proxyAuthenticationRequired, .httpProxyHandshakeTimeout,
                .tlsHandshakeTimeout, .socksHandshakeTimeout, .getConnectionFromPoolTimeout:
                return TransportError(.cannotConnect, "cannot connect (\(error))")
            case .readTimeout, .writeTimeout, .deadlineExceeded:
                return TransportError(.timedOut, "timed out")
            case .remoteConnectionClosed, .bodyLengthMismatch:
                return TransportError(.connectionLost, "connection lost (\(error))")
            case .cancelled:
                return TransportError(.other, "cancelled")
            default:
                return TransportError(.other, "HTTP client error \(error)")
            }
        case is NIOConnectionError:
            return TransportError(.cannotConnect, "cannot connect (\(type(of: error)))")
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            // A connection to an address literal fails bare; a refusal only ever answers a connect (an established
            // connection is reset, not refused). Unreachable networks and hosts may come after the request went out.
            return TransportError(.cannotConnect, "cannot connect (connection refused)")
        case let error as NIOSSLError:
            if case .handshakeFailed = error { return TransportError(.cannotConnect, "TLS handshake failed") }
            return TransportError(.connectionLost, "connection lost (TLS: \(error))")
        case is IOError, is ChannelError, is HTTPParserError, is NIOTooManyBytesError:
            return TransportError(.connectionLost, "connection lost (\(type(of: error)))")
        default:
            return TransportError(.other, "\(type(of: error))")
        }
    }

    private struct ClientKey: Hashable {
        var idleTimeout: Duration
        var proxy: HTTPProxy?
    }

    private static let clients = Mutex<[ClientKey: HTTPClient]>([:])

    private static func client(idleTimeout: Duration, proxy: HTTPProxy?) -> HTTPClient {
        clients.withLock { clients in
            let key = ClientKey(idleTimeout: idleTimeout, proxy: proxy)
            if let client = clients[key] { return client }
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: .seconds(10), read: .nanoseconds(idleTimeout.nanoseconds)),
                proxy: proxy?.configuration)
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 8
            let client = HTTPClient(
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
            clients[key] = client
            return client
        }
    }
}

/// A proxy named by the environment, as libcurl reads it.
struct HTTPProxy: Hashable, Sendable {
    var host: String
    var port: Int
    var username: String?
    var password: String?

    var configuration: HTTPClient.Configuration.Proxy {
        if let username {
            return .server(
                host: host, port: port, authorization: .basic(username: username, password: password ?? ""))
        }
        return .server(host: host, port: port)
    }

    /// The proxy for a request to `host` over `scheme`, or nil: none set, the host is loopback, or `no_proxy` names it
    /// (`*`, the host, or a domain it is in, with or without a leading dot).
    static func from(environment: [String: String], scheme: String, host: String) throws -> HTTPProxy? {
        // The lower-case spelling first; `HTTP_PROXY` in upper case is not read (a CGI program's environment carries
        // a client's `Proxy:` header under that name), as libcurl does not.
        func variable(_ name: String, upperCase: Bool = true) -> String? {
            (environment[name] ?? (upperCase ? environment[name.uppercased()] : nil)).flatMap { $0.isEmpty ? nil : $0 }
        }
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        let isLoopbackIPv4 = octets.count == 4 && octets.allSatisfy { UInt8($0) != nil } && octets[0] == "127"
        if name == "localhost" || name == "::1" || isLoopbackIPv4 { return nil }
        let named =
            scheme == "https" ? variable("https_proxy") : variable("http_proxy", upperCase: false)
        guard let text = named ?? variable("all_proxy") else { return nil }
        let exceptionList = (variable("no_proxy") ?? "").trimmingCharacters(in: .whitespaces)
        if exceptionList == "*" { return nil }
        for exception in exceptionList.split(separator: ",").map({
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }) where !exception.isEmpty {
            let domain = exception.hasPrefix(".") ? String(exception.dropFirst()) : exception
            if name == domain || name.hasSuffix("." + domain) { return nil }
        }
        guard let url = URL(string: text.contains("://") ? text : "http://" + text), let proxyHost = url.host,
            url.scheme?.lowercased() == "http"
        else {
            throw TransportError(.cannotConnect, "the proxy the environment names is not an http:// URL")
        }
        return HTTPProxy(
            // Foundation gives the user decoded and the password as written.
            host: proxyHost, port: url.port ?? 1080, username: url.user, password: url.password?.removingPercentEncoding
        )
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
