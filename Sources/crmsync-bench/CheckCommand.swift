import ArgumentParser
import Foundation
import PostgresRegister
import SyncChecking

/// The model-based checker's long run: many generated histories, each failure printed with its seed and
/// shrunk history for replay.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Runs the model-based checker over many generated histories; prints failing seeds, shrunk.",
        discussion: """
            Each sequence is a history of edits on both sides, consent and opt-out changes, restrictions, \
            erasures, syncs, dry runs and crashes, generated from its seed (seed S, S+1, ...), with the \
            README's promises checked after every sync and after a quiet end. By default the store is in \
            memory and the mock in-process without a socket; --loopback uses a store file and the in-process \
            mock on a loopback port; --process runs the CRM as a \
            mock-hubspot process (reset between sequences) and, with --faults, injects 5xx, 429 storms, \
            dropped and truncated responses during the history (off for the quiet end).
            """)

    @Option(help: "How many sequences.") var sequences = 1_000
    @Option(help: "The first seed.") var seed: UInt64 = 1
    @Flag(help: "Use a store file and the in-process mock on a loopback port instead of memory.") var loopback = false
    @Flag(help: "Run the CRM as a mock-hubspot process (and the store as a file).") var process = false
    @Flag(help: "Inject transport faults during each history (with --process).") var faults = false
    @Option(help: "Stop after this many failures.") var maxFailures = 5
    @Option(
        help:
            "With --process: the register's database, sqlite (a file) or postgres (a new database per sequence on the server CRMSYNC_BENCH_POSTGRES_URL or CRMSYNC_TEST_POSTGRES_URL names)."
    )
    var store = "sqlite"

    func run() async throws {
        let started = ContinuousClock.now
        var mock: (Process, URL)?
        if process {
            mock = try MockProcess.start(executable: ChildProcess.siblingExecutable("mock-hubspot"))
        }
        defer { mock?.0.terminate() }
        var postgres: PostgresLocation?
        switch store {
        case "sqlite": break
        case "postgres":
            guard process else { throw ValidationError("--store postgres needs --process") }
            postgres = try BenchRegister.server()
        default: throw ValidationError("--store: sqlite or postgres, found \(store)")
        }
        let checker = ModelChecker()
        var operations = 0
        var syncs = 0
        var failures = 0
        var kinds: [String: Int] = [:]
        for offset in 0..<UInt64(sequences) {
            let seed = seed + offset
            var generator = SeededGenerator(seed: seed)
            let history = CheckOperation.history(
                length: Int.random(in: checker.lengthRange, using: &generator), using: &generator)
            operations += history.count
            for operation in history { kinds[operation.kind, default: 0] += 1 }
            syncs += history.filter(\.isSync).count + 3
            let makeWorld = { () async throws -> CheckWorld in
                guard let (_, url) = mock else {
                    return try await loopback ? CheckWorld.inProcess() : CheckWorld.inMemory()
                }
                let world = try await CheckWorld.against(baseURL: url, token: "bench", postgres: postgres)
                try await world.configureMock(faults: faults ? seed : nil)
                return world
            }
            let world = try await makeWorld()
            let failure = await checker.run(history, in: world, faults: faults)
            await world.close()
            guard let failure else { continue }
            failures += 1
            print("FAIL seed \(seed): \(failure)")
            print("  history: \(history.map(\.description).joined(separator: ", "))")
            if let shrunk = try await checker.shrink(history, faults: faults, makeWorld: makeWorld) {
                print("  shrunk:  \(shrunk.history.map(\.description).joined(separator: ", ")) → \(shrunk.failure)")
            }
            if failures >= maxFailures { break }
        }
        let elapsed = ContinuousClock.now - started
        print(
            "crmsync-bench check: \(sequences) sequences from seed \(seed) (\(process ? "mock-hubspot process, register on \(store)" : loopback ? "store file, in-process mock on loopback" : "in memory")\(faults ? ", faults on" : "")), "
                + "\(operations) operations, \(syncs) syncs, \(failures) failure(s), \(elapsed.formatted(.units(allowed: [.seconds, .minutes])))"
        )
        print(
            "  generated: " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        let missing = CheckOperation.askedFor.filter { kinds[$0, default: 0] == 0 }
        if !missing.isEmpty { print("  asked for but not generated in this run: " + missing.joined(separator: ", ")) }
        if failures > 0 { throw ExitCode(1) }
    }
}

extension CheckOperation {
    /// The operation's kind: its name without arguments (`localCreate`, `crashingSync`).
    var kind: String { String(description.prefix { $0 != "(" }) }

    /// The kinds of the register's wider world the generator must produce (issue 19): a run names any it did not.
    static let askedFor = [
        "crmMerge", "crmDeleteByOther", "crmArchive", "crmRecreateByForm", "backupStore", "restoreBackup",
        "hostClockStep", "retention", "internationalAddress", "perInputRefusal",
    ]

    var isSync: Bool {
        switch self {
        case .sync, .dryRunThenSync, .crashingSync, .skewedSync: true
        default: false
        }
    }
}
