import Foundation
import MockHubSpot
import Synchronization
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
    func start(_ arguments: String...) async throws -> Process {
        try Self.launch(try Self.executable, arguments, folder: folder, environment: environment)
    }

    /// Waits for a started process on a thread of its own and collects its output.
    static func wait(for process: Process) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                process.waitUntilExit()
                continuation.resume(returning: collect(process))
            }.start()
        }
    }

    private static func runBlocking(
        _ executable: URL, _ arguments: [String], folder: URL, environment: [String: String]
    ) throws
        -> Result
    {
        let process = try launch(
            executable, arguments, folder: folder,
            environment: environment.merging(ProcessInfo.processInfo.environment) { own, _ in own })
        process.waitUntilExit()
        return collect(process)
    }

    /// Where each launched child writes its output: regular files, not pipes, so that no read of ours can be
    /// interrupted by a signal (SIGCHLD of another test's child ends a blocking pipe read with EINTR, which
    /// Foundation's `readDataToEndOfFile` turns into a crash).
    private static let outputFiles = Mutex<[Int32: (output: URL, errors: URL)]>([:])
    /// Foundation's `Process.run` is not safe to call from several threads at once on Linux.
    private static let launching = Mutex(())

    private static func launch(_ executable: URL, _ arguments: [String], folder: URL, environment: [String: String])
        throws -> Process
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stamp = UUID().uuidString
        let output = folder.appendingPathComponent(".out-\(stamp)")
        let errors = folder.appendingPathComponent(".err-\(stamp)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try launching.withLock { _ in try process.run() }
        outputFiles.withLock { $0[process.processIdentifier] = (output, errors) }
        return process
    }

    private static func collect(_ process: Process) -> Result {
        let files = outputFiles.withLock { $0.removeValue(forKey: process.processIdentifier) }
        (process.standardOutput as? FileHandle)?.closeFile()
        (process.standardError as? FileHandle)?.closeFile()
        let output = files.flatMap { FileManager.default.contents(atPath: $0.output.path) } ?? Data()
        let errors = files.flatMap { FileManager.default.contents(atPath: $0.errors.path) } ?? Data()
        for url in [files?.output, files?.errors].compactMap({ $0 }) { try? FileManager.default.removeItem(at: url) }
        return Result(
            status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
            errors: String(decoding: errors, as: UTF8.self))
    }
}
