import ArgumentParser
import Foundation
import HubSpotClient
import MockHubSpot
import SyncModel

/// Pulls N contacts from the in-process mock at a given rate limit and prints the rate-limit efficiency.
struct PullBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Full pull of N contacts at a rate limit: rate-limit efficiency and 429s.",
        discussion: """
            Efficiency is the sustained rate after the first window (records fetched by requests after the \
            first window's worth, over the time from the first response to the last) divided by the ceiling \
            the limit allows (requests per interval x page size / interval). The whole-run rate is printed \
            too; it exceeds the ceiling because the first window starts empty.
            """)

    @Option(help: "Limits to run, as REQUESTS/SECONDSs, comma-separated.") var rates: String = "100/10s,190/10s"
    @Option(help: "Windows of traffic per run (contacts = windows x requests x page size).") var windows: Int = 3
    @Option(help: "Page size (1...100).") var pageSize: Int = 100
    @Option(help: "Headroom percent left to other apps (0 measures the full limit).") var headroom: Int = 0

    func run() async throws {
        print(
            "crmsync-bench pull: page size \(pageSize), headroom \(headroom)%, \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        print(RateLimitRun.header)
        for run in try RateLimitRun.parse(rates) {
            try await measure(run)
        }
    }

    private func measure(_ run: RateLimitRun) async throws {
        let requests = run.requests
        let intervalSeconds = run.intervalSeconds
        let contacts = windows * requests * pageSize
        var mock = MockConfiguration()
        mock.rateLimit = .init(max: requests, intervalMs: intervalSeconds * 1000)
        mock.dailyLimit = 10_000_000
        let server = try await MockHubSpotServer.start(.init(seedContacts: contacts, configuration: mock))
        defer { Task { await server.stop() } }
        let client = HubSpotClient(
            configuration: HubSpotClientConfiguration(
                baseURL: server.baseURL, token: server.token, requestsPerInterval: requests,
                interval: .seconds(intervalSeconds), headroomPercent: headroom, dailyBudget: 10_000_000))
        let clock = ContinuousClock()
        let start = clock.now
        var completions: [(at: ContinuousClock.Instant, records: Int)] = []
        for try await page in client.allContacts(properties: ["email", "firstname", "lastname"], pageSize: pageSize) {
            completions.append((clock.now, page.contacts.count))
        }
        let total = completions.reduce(0) { $0 + $1.records }
        print(
            run.row(
                completions: completions, started: start, requestsSent: client.metrics.requests,
                rateLimited: client.metrics.rateLimited, recordsPerRequest: pageSize))
        guard total == contacts else { throw ValidationError("pulled \(total) of \(contacts)") }
    }

}
