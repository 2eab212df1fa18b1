import Foundation
import MockHubSpot
import Testing

/// Runs the built `crmsync` executable in a fresh temporary folder, as a user would.
final class CommandLineRunner {
    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    let folder: URL
    /// Extra environment for the child process (e.g. `HUBSPOT_TOKEN`).
    var environment: [String: String] = [:]

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// A mock CRM with token `test-token`, and a runner whose `sync.json` points at it; with `token`, the
    /// runner's environment carries `HUBSPOT_TOKEN` too.
    /// `apiVersion` goes into `crm.apiVersion` (nil: the default, `2026-09`).
    static func againstMock(_ options: MockHubSpotOptions, token: Bool = true, apiVersion: String? = nil) async throws
        -> (CommandLineRunner, MockHubSpotServer)
    {
        var options = options
        options.token = "test-token"
        let server = try await MockHubSpotServer.start(options)
        let cli = try CommandLineRunner()
        if token { cli.environment["HUBSPOT_TOKEN"] = "test-token" }
        let version = apiVersion.map { #", "apiVersion": "\#($0)""# } ?? ""
        try cli.write("sync.json", #"{"crm": {"baseURL": "\#(server.baseURL.absoluteString)"\#(version)}}"#)
        return (cli, server)
    }

    /// A mock with no rate limits whose every answer takes `latencyMs`: a run long enough to be scraped, interrupted
    /// or killed while it works.
    static func slowMock(latencyMs: Int) -> MockConfiguration {
        var mock = MockConfiguration()
        mock.rateLimit = .init(max: 1_000_000, intervalMs: 10_000)
        mock.searchPerSecond = 1_000_000
        mock.latencyMs = latencyMs
        return mock
    }

    /// The `crmsync` binary built next to the test bundle.
    static var executable: URL {
        get throws {
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<3 {
                let candidate = directory.appendingPathComponent("crmsync")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "../../.build/debug/crmsync")
            return try #require(
                FileManager.default.isExecutableFile(atPath: fallback.path) ? fallback : nil, "crmsync is not built")
        }
    }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Runs `crmsync` and waits for it on a thread of its own: blocking a thread of Swift's small
    /// cooperative pool would starve the in-process mock server the child is talking to.
    @discardableResult
    func run(_ arguments: String...) async throws -> Result { try await run(arguments) }

    func run(_ arguments: [String]) async throws -> Result {
        let executable = try Self.executable
        let folder = self.folder
        let environment = ProcessInfo.processInfo.environment.merging(self.environment) { $1 }
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    continuation.resume(
                        returning: try Self.runBlocking(executable, arguments, folder: folder, environment: environment)
                    )
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    /// Starts `crmsync` without waiting (for signal tests); see ``wait(for:)``.
    func start(_ arguments: String...) async throws -> ChildProcess {
        try ChildProcess.spawn(
            try Self.executable, arguments, folder: folder,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }

    /// Waits for a started process on a thread of its own and collects its output.
    static func wait(for process: ChildProcess) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(returning: process.waitForExit()) }.start()
        }
    }

    private static func runBlocking(
        _ executable: URL, _ arguments: [String], folder: URL, environment: [String: String]
    ) throws
        -> Result
    {
        try ChildProcess.spawn(executable, arguments, folder: folder, environment: environment).waitForExit()
    }
}

/// A child process started with `posix_spawn`, its output going to files.
///
/// Not Foundation's `Process`: on Linux (Swift 6.3.1) its `run()` intermittently crashes the whole test process
/// (an over-read of `/proc/self/fd` entries, swift-corelibs-foundation PR 5472), and its pipes' blocking reads
/// end in a crash when a signal interrupts them. Files are read only once the child has exited.
/// The child gets standard input from `/dev/null`, its output in two files, and no other descriptor of the test
/// process.
struct ChildProcess: Sendable {
    let pid: pid_t
    let output: URL
    let errors: URL

    var processIdentifier: Int32 { pid }

    /// SIGTERM, as `Process.terminate()` sends.
    func terminate() { kill(pid, SIGTERM) }

    static func spawn(_ executable: URL, _ arguments: [String], folder: URL, environment: [String: String]) throws
        -> ChildProcess
    {
        let stamp = UUID().uuidString
        let output = folder.appendingPathComponent(".out-\(stamp)")
        let errors = folder.appendingPathComponent(".err-\(stamp)")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errors.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of the test process: its descriptors are the in-process mocks' listening sockets and
        // connections (not all opened close-on-exec). A child holding a copy keeps a connection the mock closed open (no
        // FIN reaches its client, which waits out its 30 s timeout), keeps a stopped mock's port accepting, and outlives
        // a killed test run still holding them: its own requests to a port nobody serves then spin.
        closeInheritedDescriptors(&actions)
        // `env -C` runs the program in the test's folder (posix_spawn has no portable chdir).
        let argv = ["/usr/bin/env", "-C", folder.path, executable.path] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var cArgv = argv.map { strdup($0) } + [nil]
        var cEnvp = envp.map { strdup($0) } + [nil]
        defer {
            for pointer in cArgv { free(pointer) }
            for pointer in cEnvp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/usr/bin/env", &actions, nil, &cArgv, &cEnvp)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EINVAL) }
        return ChildProcess(pid: pid, output: output, errors: errors)
    }

    /// Blocks until the child exits; its exit status (or the signal that ended it) and its output.
    func waitForExit() -> CommandLineRunner.Result {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exited = status & 0x7f == 0
        let code = exited ? (status >> 8) & 0xff : status & 0x7f
        let out = FileManager.default.contents(atPath: output.path) ?? Data()
        let err = FileManager.default.contents(atPath: errors.path) ?? Data()
        try? FileManager.default.removeItem(at: output)
        try? FileManager.default.removeItem(at: errors)
        return CommandLineRunner.Result(
            status: code, output: String(decoding: out, as: UTF8.self), errors: String(decoding: err, as: UTF8.self))
    }
}

/// Closes every descriptor from 3 up in the spawned child: glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34
/// and later; looked up at run time, as Swift's Glibc module does not export it), else every descriptor the test
/// process has open now marked close-on-exec.
private func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        return
    }
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
        if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }
}
