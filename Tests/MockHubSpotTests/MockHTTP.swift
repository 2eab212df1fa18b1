import Foundation
import MockHubSpot
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A plain HTTP client for the tests: the mock is tested over the wire, not through our HubSpot client.
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

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        return URLSession(configuration: configuration)
    }()

    let server: MockHubSpotServer

    /// The typed control surface, for tests whose subject is not the control surface's wire shape.
    var control: MockControlClient { server.control }

    @discardableResult
    func call(_ method: String, _ path: String, _ body: Any? = nil, token: String? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: server.baseURL.absoluteString + path)!)
        request.httpMethod = method
        request.setValue("Bearer \(token ?? server.token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headers["\(key)"] = "\(value)" }
        return Reply(status: http.statusCode, data: data, headers: headers)
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
