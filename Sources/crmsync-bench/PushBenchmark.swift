import ArgumentParser
import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore

/// Batch upserts of N contacts to the in-process mock at a given rate limit: rate-limit efficiency.
struct PushBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Batch upserts of N contacts (4 batches in flight) at a rate limit: rate-limit efficiency and 429s.")

    @Option(help: "Limits to run, as REQUESTS/SECONDSs, comma-separated.") var rates: String = "100/10s,190/10s"
    @Option(help: "Windows of traffic per run.") var windows: Int = 3

    func run() async throws {
        print(
            "crmsync-bench push: 100 inputs per batch upsert, 4 in flight, headroom 0%, \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        print(RateLimitRun.header)
        for run in try RateLimitRun.parse(rates) {
            try await measure(run)
        }
    }

    private func measure(_ run: RateLimitRun) async throws {
        let requests = run.requests
        let intervalSeconds = run.intervalSeconds
        let contacts = windows * requests * 100
        var mock = MockConfiguration()
        mock.rateLimit = .init(max: requests, intervalMs: intervalSeconds * 1000)
        mock.dailyLimit = 10_000_000
        let server = try await MockHubSpotServer.start(.init(configuration: mock))
        defer { Task { await server.stop() } }
        let client = HubSpotClient(
            configuration: HubSpotClientConfiguration(
                baseURL: server.baseURL, token: server.token, requestsPerInterval: requests,
                interval: .seconds(intervalSeconds), headroomPercent: 0, dailyBudget: 10_000_000))
        let inputs = (0..<contacts).map {
            ContactUpsert(email: "push\($0)@example.fi", properties: ["firstname": "P\($0)"])
        }
        let clock = ContinuousClock()
        let start = clock.now
        var completions: [(at: ContinuousClock.Instant, records: Int)] = []
        var written = 0
        // Batches of 100 with up to 4 in flight, as `upsertByEmail` sends them, each timed as it completes.
        try await withThrowingTaskGroup(of: Int.self) { group in
            var inFlight = 0
            for chunk in stride(from: 0, to: inputs.count, by: 100) {
                if inFlight == 4, let done = try await group.next() {
                    written += done
                    completions.append((clock.now, done))
                    inFlight -= 1
                }
                let batch = Array(inputs[chunk..<min(chunk + 100, inputs.count)])
                group.addTask { try await client.upsertByEmail(batch).written.count }
                inFlight += 1
            }
            for try await done in group {
                written += done
                completions.append((clock.now, done))
            }
        }
        print(
            run.row(
                completions: completions, started: start, requestsSent: client.metrics.requests,
                rateLimited: client.metrics.rateLimited, recordsPerRequest: 100))
        guard written == contacts else { throw ValidationError("wrote \(written) of \(contacts)") }
    }
}
