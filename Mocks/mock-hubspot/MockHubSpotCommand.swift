import ArgumentParser
import Foundation
import MockHubSpot

/// `mock-hubspot --port 8089 --token T --seed-contacts N --rate-limit 100/10s`: the mock CRM for demos,
/// scripts and benchmarks. Listens on 127.0.0.1 only.
@main
struct MockHubSpotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-hubspot",
        abstract: "A mock HubSpot CRM on 127.0.0.1 (contacts, search, subscriptions, GDPR delete).")

    @Option(help: "Port on 127.0.0.1 (0 picks a free one).") var port: Int = 8089
    @Option(help: "The bearer token clients must send.") var token: String = "mock-token"
    @Option(help: "Generated contacts to start with.") var seedContacts: Int = 0
    @Option(help: "Burst limit as REQUESTS/WINDOW, e.g. 100/10s or 190/10s.") var rateLimit: String = "100/10s"
    @Option(help: "Daily request limit.") var dailyLimit: Int = 250_000
    @Flag(inversion: .prefixedNo, help: "Send Retry-After on 429.") var retryAfter = true

    func run() async throws {
        var configuration = MockConfiguration()
        configuration.rateLimit = try Self.parseRateLimit(rateLimit)
        configuration.dailyLimit = dailyLimit
        configuration.retryAfter = retryAfter
        let server = try await MockHubSpotServer.start(
            MockHubSpotOptions(port: port, token: token, seedContacts: seedContacts, configuration: configuration))
        let banner = "mock-hubspot listening on \(server.baseURL) (\(seedContacts) contacts, \(rateLimit))\n"
        FileHandle.standardOutput.write(Data(banner.utf8))
        try await server.wait()
    }

    static func parseRateLimit(_ text: String) throws -> MockConfiguration.RateLimit {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let count = Int(parts[0]), count > 0 else {
            throw ValidationError("--rate-limit must look like 100/10s")
        }
        let window = String(parts[1])
        let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
        for (suffix, factor) in units where window.hasSuffix(suffix) {
            if let amount = Int(window.dropLast(suffix.count)), amount > 0 {
                return .init(max: count, intervalMs: amount * factor)
            }
        }
        throw ValidationError("--rate-limit window must be like 10s, 500ms or 1m")
    }
}
