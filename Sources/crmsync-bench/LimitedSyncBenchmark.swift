import ArgumentParser
import Foundation
import MockHubSpot
import SyncModel

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `crmsync-bench sync --limit`: the two-way sync at a real rate limit, counted request by request on the mock's
/// journal: what each run sends, by endpoint, and how long it takes against what the limit allows.
struct LimitedSyncBenchmark {
    var rate: RateLimitRun
    var contacts: Int
    /// HubSpot's search limit, a separate bucket.
    static let searchesPerSecond = 5.0

    func run() async throws {
        let crmsync = ChildProcess.siblingExecutable("crmsync")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmsync-bench-limited-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (mockProcess, baseURL) = try MockProcess.start(executable: ChildProcess.siblingExecutable("mock-hubspot"))
        defer { mockProcess.terminate() }
        let control = MockControlClient(baseURL: baseURL)
        // CRM records last modified an hour ago: outside the trailing window of the next runs.
        let ids = try await control.seed(.generated(contacts / 2, lastModified: Date().addingTimeInterval(-3600)))
        let config = """
            {"crm": {"baseURL": "\(baseURL.absoluteString)", "rateLimit": {"requestsPerInterval": \(rate.requests), "intervalMilliseconds": \(rate.intervalSeconds * 1000), "searchPerSecond": 5, "dailyBudget": 2000000}},
             "sync": {"consistencyHorizon": "0s"}}
            """
        try Data(config.utf8).write(to: folder.appendingPathComponent("sync.json"))
        var register = SyntheticRegister(seed: 7)
        try Data(register.csv(count: contacts / 2).utf8).write(to: folder.appendingPathComponent("local.csv"))
        _ = try ChildProcess.measure(crmsync, arguments: ["import", "local.csv"], in: folder)
        _ = try await control.configure {
            $0.rateLimit = .init(max: rate.requests, intervalMs: rate.intervalSeconds * 1000)
            $0.searchPerSecond = Int(Self.searchesPerSecond)
        }
        print(
            "crmsync-bench sync --limit \(rate.label): \(contacts) contacts (\(contacts / 2) only in the CRM, \(contacts / 2) only local), searches at 5/s"
        )
        print("  run                      requests  per 100  elapsed   ceiling   of ceiling  429s  by endpoint")
        for label in ["first two-way sync", "re-sync (window)", "incremental (100+100)"] {
            if label.hasPrefix("incremental") {
                try await editHundredOnEachSide(ids: ids, folder: folder, crmsync: crmsync, baseURL: baseURL)
            }
            let since = try await control.journal().count
            let run = try ChildProcess.measure(
                crmsync, arguments: ["sync", "--format", "json", "--report", "report.json"], in: folder,
                environment: ["HUBSPOT_TOKEN": "bench"])
            let entries = try await control.journal(since: since)
            print(row(label, entries: entries, seconds: run.seconds, status: run.status))
        }
    }

    /// One run's line: its requests by endpoint, and its time against the ceiling.
    func row(_ label: String, entries: [MockJournalEntry], seconds: Double, status: Int32) -> String {
        let counted = entries.filter { $0.status != 429 }
        var byEndpoint: [String: Int] = [:]
        for entry in counted { byEndpoint[Self.endpoint(entry), default: 0] += 1 }
        let searches = byEndpoint["search"] ?? 0
        let ceiling = max(
            Double(counted.count) * Double(rate.intervalSeconds) / Double(rate.requests),
            Double(searches) / Self.searchesPerSecond)
        let endpoints = byEndpoint.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }
            .joined(separator: ", ")
        return "  " + label.padding(toLength: 23, withPad: " ", startingAt: 0)
            + String(
                format: "  %8d  %7.2f  %6.1f s  %6.1f s  %9.1f %%  %4d  ", counted.count,
                Double(counted.count) * 100 / Double(contacts), seconds, ceiling, ceiling / max(seconds, 1e-9) * 100,
                entries.count - counted.count)
            + endpoints + (status == 0 ? "" : "  (exit \(status))")
    }

    /// A short name for the endpoint a journal entry called.
    static func endpoint(_ entry: MockJournalEntry) -> String {
        let path = entry.path
        if path.hasSuffix("/search") { return "search" }
        if path.contains("/statuses/batch/unsubscribe-all/read") { return "opt-out reads" }
        if path.contains("/statuses/batch/unsubscribe-all") { return "opt-out writes" }
        if path.contains("/statuses/batch/read") { return "status reads" }
        if path.contains("/statuses/batch/write") { return "status writes" }
        if path.hasSuffix("/batch/read") { return "contact batch reads" }
        if path.hasSuffix("/batch/upsert") { return "upserts" }
        if path.hasSuffix("/batch/update") { return "updates" }
        if path.hasSuffix("/batch/create") { return "creates" }
        if path.contains("/properties") { return "property reads" }
        if path.contains("/definitions") { return "subscription definitions" }
        if path.contains("gdpr-delete") { return "GDPR deletes" }
        if entry.method == "GET" && path.hasSuffix("/contacts") { return "list" }
        return "\(entry.method) \(path)"
    }

    /// 100 edits in the CRM (one batch update, made before the run is counted) and 100 in the register (an import of
    /// 100 rows with another city).
    private func editHundredOnEachSide(ids: [String], folder: URL, crmsync: String, baseURL: URL)
        async throws
    {
        let inputs = ids.prefix(100).map { ["id": $0, "properties": ["city": "Kemi"]] as [String: Any] }
        var request = URLRequest(url: baseURL.appendingPathComponent("crm/v3/objects/contacts/batch/update"))
        request.httpMethod = "POST"
        request.setValue("Bearer bench", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["inputs": inputs])
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw ValidationError("the CRM edits were refused: \(response)")
        }
        var register = SyntheticRegister(seed: 7)
        let rows = register.csv(count: 100).split(separator: "\n").enumerated().map { index, line in
            guard index > 0 else { return String(line) }
            var fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            fields[4] = "Kemi"
            return fields.joined(separator: ",")
        }
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("edits.csv"))
        _ = try ChildProcess.measure(crmsync, arguments: ["import", "edits.csv"], in: folder)
    }
}
