import ArgumentParser
import Foundation
import HubSpotClient
import MockHubSpot

/// Batch upserts of N contacts to the in-process mock at a given rate limit: rate-limit efficiency.
struct PushBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Batch upserts of N contacts (4 batches in flight) at a rate limit: rate-limit efficiency and 429s.")

    @Option(help: "Limits to run, as REQUESTS/SECONDSs, comma-separated.") var rates: String = "100/10s,190/10s"
    @Option(help: "Windows of traffic per run.") var windows: Int = 3

    func run() async throws {
        print(
            "crmsync-bench push: 100 inputs per batch upsert, headroom 0%, \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        print("  limit      contacts  requests  elapsed   whole-run/s  sustained/s  ceiling/s  efficiency  429s")
        for rate in rates.split(separator: ",") {
            let parts = rate.split(separator: "/")
            guard parts.count == 2, let requests = Int(parts[0]), let seconds = Int(parts[1].dropLast()) else {
                throw ValidationError("--rates must look like 100/10s,190/10s")
            }
            try await measure(requests: requests, intervalSeconds: seconds, label: String(rate))
        }
    }

    private func measure(requests: Int, intervalSeconds: Int, label: String) async throws {
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
        var completions: [ContinuousClock.Instant] = []
        var written = 0
        // Batches of 100 with up to 4 in flight, as `upsertByEmail` sends them, each timed as it completes.
        try await withThrowingTaskGroup(of: Int.self) { group in
            var inFlight = 0
            for chunk in stride(from: 0, to: inputs.count, by: 100) {
                if inFlight == 4, let done = try await group.next() {
                    written += done
                    completions.append(clock.now)
                    inFlight -= 1
                }
                let batch = Array(inputs[chunk..<min(chunk + 100, inputs.count)])
                group.addTask { try await client.upsertByEmail(batch).written.count }
                inFlight += 1
            }
            for try await done in group {
                written += done
                completions.append(clock.now)
            }
        }
        let elapsed = PullBenchmark.seconds(clock.now - start)
        let ceiling = Double(requests * 100) / Double(intervalSeconds)
        let steadyRecords = max(0, completions.count - requests) * 100
        let steadyTime =
            completions.count > requests ? PullBenchmark.seconds(completions.last! - completions[0]) : elapsed
        let sustained = Double(steadyRecords) / steadyTime
        print(
            "  " + label.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(
                    format: "  %8d  %8d  %6.1f s  %11.0f  %11.0f  %9.0f  %10.3f  %4d", written, client.metrics.requests,
                    elapsed, Double(written) / elapsed, sustained, ceiling, sustained / ceiling,
                    client.metrics.rateLimited))
        guard written == contacts else { throw ValidationError("wrote \(written) of \(contacts)") }
    }
}
