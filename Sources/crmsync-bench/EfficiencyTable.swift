import ArgumentParser
import Foundation

/// What `pull` and `push` share: the `--rates` list, and the efficiency computed from completion times.
struct RateLimitRun {
    var label: String
    var requests: Int
    var intervalSeconds: Int

    /// `100/10s,190/10s` → runs.
    static func parse(_ rates: String) throws -> [RateLimitRun] {
        try rates.split(separator: ",").map { rate in
            let parts = rate.split(separator: "/")
            guard parts.count == 2, parts[1].hasSuffix("s"), let requests = Int(parts[0]),
                let seconds = Int(parts[1].dropLast())
            else { throw ValidationError("--rates must look like 100/10s,190/10s") }
            return RateLimitRun(label: String(rate), requests: requests, intervalSeconds: seconds)
        }
    }

    static let header =
        "  limit      contacts  requests  elapsed   whole-run/s  sustained/s  ceiling/s  efficiency  429s"

    /// One row: the sustained rate after the first window (records completed by requests after the first
    /// window's worth, over the time from the first completion to the last) against the ceiling.
    func row(
        completions: [(at: ContinuousClock.Instant, records: Int)], started: ContinuousClock.Instant,
        requestsSent: Int, rateLimited: Int, recordsPerRequest: Int
    ) -> String {
        let total = completions.reduce(0) { $0 + $1.records }
        let end = completions.last?.at ?? started
        let elapsed = (end - started).inSeconds
        let ceiling = Double(requests * recordsPerRequest) / Double(intervalSeconds)
        let steadyRecords = completions.dropFirst(requests).reduce(0) { $0 + $1.records }
        let steadyTime = completions.count > requests ? (end - completions[0].at).inSeconds : elapsed
        let sustained = Double(steadyRecords) / max(steadyTime, 1e-9)
        return "  " + label.padding(toLength: 9, withPad: " ", startingAt: 0)
            + String(
                format: "  %8d  %8d  %6.1f s  %11.0f  %11.0f  %9.0f  %10.3f  %4d", total, requestsSent, elapsed,
                Double(total) / elapsed, sustained, ceiling, sustained / ceiling, rateLimited)
    }
}
