import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

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

/// Sends HTTP requests. Production uses ``URLSessionTransport``; tests may inject their own.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// Foundation's URLSession (libcurl on Linux). One session per process, reused: creating and tearing down
/// sessions per request has crashed Linux programs.
public final class URLSessionTransport: HTTPTransport {
    private let session: URLSession

    /// - Parameters:
    ///   - requestTimeout: idle timeout (`timeoutIntervalForRequest`).
    ///   - resourceTimeout: total time of one request (`timeoutIntervalForResource`).
    public init(requestTimeout: Duration = .seconds(30), resourceTimeout: Duration = .seconds(120)) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = (requestTimeout).inSeconds
        configuration.timeoutIntervalForResource = (resourceTimeout).inSeconds
        configuration.httpMaximumConnectionsPerHost = 4
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration)
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        urlRequest.httpBody = request.body
        urlRequest.timeoutInterval = (request.timeout).inSeconds
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        do {
            let (data, response) = try await session.data(for: urlRequest)
            guard let http = response as? HTTPURLResponse else {
                throw TransportError(.other, "not an HTTP response")
            }
            var headers: [String: String] = [:]
            for name in Self.headersRead {
                if let value = http.value(forHTTPHeaderField: name) { headers[name] = value }
            }
            if let expected = headers["Content-Length"].flatMap(Int.init), expected != data.count {
                throw TransportError(.connectionLost, "body truncated: \(data.count) of \(expected) bytes")
            }
            return HTTPResponse(status: http.statusCode, headers: headers, body: data)
        } catch let error as URLError {
            throw Self.classify(error)
        } catch let error as TransportError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw TransportError(.other, "\(type(of: error))")
        }
    }

    /// The headers the client reads, fetched with `value(forHTTPHeaderField:)` (case-insensitive).
    static let headersRead = [
        "Content-Type", "Content-Length", "Date", "Retry-After", "X-HubSpot-Correlation-Id", "X-HubSpot-RateLimit-Max",
        "X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Interval-Milliseconds", "X-HubSpot-RateLimit-Daily",
        "X-HubSpot-RateLimit-Daily-Remaining", "X-HubSpot-RateLimit-Secondly", "X-HubSpot-RateLimit-Secondly-Remaining",
    ]

    static func classify(_ error: URLError) -> TransportError {
        switch error.code {
        case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed:
            return TransportError(.cannotConnect, "cannot connect (\(error.code.rawValue))")
        case .timedOut:
            return TransportError(.timedOut, "timed out")
        case .networkConnectionLost, .badServerResponse, .cannotParseResponse, .zeroByteResource,
            .cannotDecodeRawData, .cannotDecodeContentData, .resourceUnavailable:
            return TransportError(.connectionLost, "connection lost (\(error.code.rawValue))")
        case .cancelled:
            return TransportError(.other, "cancelled")
        default:
            return TransportError(.other, "URL error \(error.code.rawValue)")
        }
    }
}
