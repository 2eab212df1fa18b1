import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The opt-in HTTP listener of `crmsync run --metrics HOST:PORT`: `GET /metrics` (Prometheus text) and `GET /health`
/// (200 or 503, one line). A service of the daemon's service group: it stops with it.
public struct MetricsListener: Service {
    let metrics: RunMetrics
    let register: @Sendable () async -> RunMetrics.RegisterState?
    let host: String
    let port: Int
    let logger: Logger

    public init(
        metrics: RunMetrics, host: String, port: Int, logger: Logger,
        register: @escaping @Sendable () async -> RunMetrics.RegisterState?
    ) {
        self.metrics = metrics
        self.host = host
        self.port = port
        self.logger = logger
        self.register = register
    }

    public func run() async throws {
        let router = Router()
        let metrics = self.metrics
        let register = self.register
        router.get("metrics") { _, _ -> Response in
            let text = metrics.exposition(register: await register())
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("health") { _, _ -> Response in
            let (healthy, reason) = metrics.health()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(
                status: healthy ? .ok : .serviceUnavailable, headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(string: reason + "\n")))
        }
        let logger = self.logger
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "crmsync"),
            onServerRunning: { channel in
                logger.notice(
                    "metrics listening", metadata: ["metrics.address": "\(host):\(channel.localAddress?.port ?? port)"])
            },
            logger: logger)
        try await app.run()
    }

    /// `--metrics` as given: `HOST:PORT`, `[IPv6]:PORT`, or a port alone (loopback).
    public static func address(_ text: String) -> (host: String, port: Int)? {
        if let port = Int(text), (0...65_535).contains(port) { return ("127.0.0.1", port) }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }
}
