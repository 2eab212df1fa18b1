import ArgumentParser
import Foundation
import Logging
import MockHubSpot
import PostgresRegister
import SyncModel

/// A two-way sync of N contacts (half only in the CRM, half only local) against a mock-hubspot process, run as
/// `crmsync sync` in a child process. With rate limits off: planning throughput and peak memory, then a no-change
/// re-sync. With `--limit`: the requests each run sends, by endpoint, and its time against the limit's ceiling.
struct SyncBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Two-way sync of N contacts: throughput and peak RSS with rate limits off; requests with --limit.",
        discussion: """
            With --limit (e.g. 190/10s,100/10s) the mock and crmsync run at that limit (searches at 5 a second) and \
            each run prints its requests by endpoint, requests per 100 contacts, elapsed time, and the ceiling: the \
            time the limit allows for those requests (requests over the limit's rate, or searches at 5 a second, \
            whichever is longer). Runs: the first two-way sync, a re-sync that finds only crmsync's own writes in \
            its window, and an incremental one after 100 edits in the CRM and 100 in the register.
            """)

    @Option(help: "Sizes, comma-separated.") var contacts: String = "10000,100000"
    @Option(help: "Rate limits to run at, as REQUESTS/SECONDSs, comma-separated (default: limits off).")
    var limit: String?
    @Option(
        help:
            "Registers to run on, comma-separated: sqlite, postgres (a new database on the server CRMSYNC_BENCH_POSTGRES_URL or CRMSYNC_TEST_POSTGRES_URL names; password in PGPASSWORD)."
    )
    var store: String = "sqlite"

    func run() async throws {
        if let limit {
            for rate in try RateLimitRun.parse(limit) {
                for size in contacts.split(separator: ",").compactMap({ Int($0) }) {
                    try await LimitedSyncBenchmark(rate: rate, contacts: size).run()
                }
            }
            return
        }
        let crmsync = ChildProcess.siblingExecutable("crmsync")
        print(
            "crmsync-bench sync: half the contacts only in the CRM, half only local; rate limits off; \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        print("  contacts  store     run                  elapsed   contacts/s  peak RSS   exit")
        for size in contacts.split(separator: ",").compactMap({ Int($0) }) {
            for kind in store.split(separator: ",").map(String.init) { try await run(size: size, store: kind, crmsync) }
        }
    }

    /// The three runs of `size` contacts on a new register of `kind`.
    private func run(size: Int, store kind: String, _ crmsync: String) async throws {
        do {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "crmsync-bench-sync-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            // The mock runs as its own process: a child spawned from a large parent would count the parent's
            // pages in its peak RSS until exec.
            let (mockProcess, baseURL) = try MockProcess.start(
                executable: ChildProcess.siblingExecutable("mock-hubspot"))
            defer { mockProcess.terminate() }
            let server = (baseURL: baseURL, token: "bench")
            // CRM records last modified an hour ago: outside the trailing window of the next runs.
            try await MockControlClient(baseURL: baseURL).seed(
                .generated(size / 2, lastModified: Date().addingTimeInterval(-3600)))
            let target = try BenchRegister(kind)
            defer { target.drop() }
            let config = """
                {"crm": {"baseURL": "\(server.baseURL.absoluteString)", "rateLimit": {"requestsPerInterval": 250, "intervalMilliseconds": 100, "searchPerSecond": 5, "dailyBudget": 2000000}},
                 \(target.storeSetting)"sync": {"consistencyHorizon": "0s"}}
                """
            try Data(config.utf8).write(to: folder.appendingPathComponent("sync.json"))
            var register = SyntheticRegister(seed: 7)
            try Data(register.csv(count: size / 2).utf8).write(to: folder.appendingPathComponent("local.csv"))
            _ = try ChildProcess.measure(crmsync, arguments: ["import", "local.csv"], in: folder)
            // The first re-sync re-reads the trailing window (the sync's own writes included) and writes nothing;
            // the second finds the window empty: the steady state of a scheduled run with nothing to do.
            for label in ["first two-way sync", "re-sync (window)", "re-sync (steady)"] {
                // Runs a second apart at least, as scheduled runs are: a run's first search never meets the previous
                // run's last in the mock's one-second search window (a 429 and a second's wait that is not the run's).
                try await Task.sleep(for: .milliseconds(1_100))
                let run = try ChildProcess.measure(
                    crmsync, arguments: ["sync", "--format", "json", "--report", "report.json"], in: folder,
                    environment: ["HUBSPOT_TOKEN": "bench"])
                print(
                    String(format: "  %8d  ", size) + kind.padding(toLength: 8, withPad: " ", startingAt: 0) + "  "
                        + label.padding(toLength: 19, withPad: " ", startingAt: 0)
                        + String(
                            format: "  %6.1f s  %10.0f  %6.1f MiB  %4d", run.seconds, Double(size) / run.seconds,
                            Double(run.peakKiB) / 1024, run.status))
            }
        }
    }
}

/// The register a benchmark run uses: a SQLite file in its folder, or a new database on a PostgreSQL server, dropped
/// after the run.
struct BenchRegister {
    let kind: String
    let postgres: PostgresLocation?

    init(_ kind: String) throws {
        self.kind = kind
        switch kind {
        case "sqlite":
            postgres = nil
        case "postgres":
            postgres = try PostgresAdministration.createUniqueDatabase(
                prefix: "crmsync_bench", on: try Self.server(), logger: Self.logger)
        default:
            throw ValidationError("--store: sqlite or postgres, found \(kind)")
        }
    }

    /// The PostgreSQL server the benchmarks make their databases on: `CRMSYNC_BENCH_POSTGRES_URL`, else the tests'
    /// `CRMSYNC_TEST_POSTGRES_URL` (the password in `PGPASSWORD`).
    static func server() throws -> PostgresLocation {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["CRMSYNC_BENCH_POSTGRES_URL"] ?? environment["CRMSYNC_TEST_POSTGRES_URL"] else {
            throw ValidationError("--store postgres needs CRMSYNC_BENCH_POSTGRES_URL (and PGPASSWORD)")
        }
        return try PostgresLocation(url: url)
    }

    /// The `"store"` entry of the run's `sync.json` (with its trailing comma), or nothing for the default file.
    var storeSetting: String {
        guard let postgres else { return "" }
        return "\"store\": {\"url\": \"\(postgres.description)\"}, "
    }

    func drop() {
        guard let postgres else { return }
        try? PostgresAdministration.dropDatabase(
            postgres.database, on: postgres.database("postgres"), logger: Self.logger)
    }

    static let logger = Logger(label: "crmsync-bench.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
}
