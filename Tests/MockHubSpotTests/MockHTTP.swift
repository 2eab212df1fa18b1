import AsyncHTTPClient
import Foundation
import MockHubSpot
import NIOCore
import NIOFoundationCompat
import Testing

/// A plain HTTP client for the tests: the mock is tested over the wire, not through our HubSpot client.
/// AsyncHTTPClient's shared client, not URLSession, which on Linux spins while it waits for an answer.
struct MockHTTP {
    struct Reply {
        var status: Int
        var data: Data
        var headers: [String: String]
        var json: Any? { try? JSONSerialization.jsonObject(with: data) }
        var object: [String: Any] { (json as? [String: Any]) ?? [:] }
        var results: [[String: Any]] { (object["results"] as? [[String: Any]]) ?? [] }
        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
    }

    let server: MockHubSpotServer

    /// The typed control surface, for tests whose subject is not the control surface's wire shape.
    var control: MockControlClient { server.control }

    @discardableResult
    func call(_ method: String, _ path: String, _ body: Any? = nil, token: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: server.baseURL.absoluteString + path)
        request.method = .init(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(token ?? server.token)")
        if let body {
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 64 * 1024 * 1024)
        var headers: [String: String] = [:]
        for header in response.headers where headers[header.name] == nil { headers[header.name] = header.value }
        return Reply(
            status: Int(response.status.code), data: buffer.readData(length: buffer.readableBytes) ?? Data(),
            headers: headers)
    }

    /// Starts a fresh mock, runs `body`, stops the mock.
    static func withMock<T>(
        seed: Int = 0, configuration: MockConfiguration = .init(), _ body: (MockHTTP) async throws -> T
    ) async throws -> T {
        let server = try await MockHubSpotServer.start(.init(seedContacts: seed, configuration: configuration))
        do {
            let result = try await body(MockHTTP(server: server))
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    static func unlimited() -> MockConfiguration {
        var configuration = MockConfiguration()
        configuration.rateLimit = .init(max: 1_000_000, intervalMs: 10_000)
        configuration.searchPerSecond = 1_000_000
        configuration.dailyLimit = 100_000_000
        return configuration
    }
}
