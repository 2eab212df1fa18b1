import ArgumentParser
import Foundation
import SyncModel

/// Runs a command to completion and measures it from outside: wall time, peak RSS, exit status.
enum ChildProcess {
    /// posix_spawn and wait4 rather than Foundation's Process, which may reap the child (and its rusage) first.
    static func measure(
        _ executable: String, arguments: [String], in folder: URL, environment: [String: String] = [:]
    ) throws -> (seconds: Double, peakKiB: Int, status: Int32) {
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(folder.path)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 1, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let envp = variables.map { strdup($0) } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var pid: pid_t = 0
        let start = ContinuousClock.now
        let spawned = posix_spawn(&pid, executable, &fileActions, nil, argv, envp)
        guard spawned == 0 else { throw ArgumentParser.ValidationError("cannot start \(executable): error \(spawned)") }
        var status: Int32 = 0
        var usage = rusage()
        _ = wait4(pid, &status, 0, &usage)
        let elapsed = ContinuousClock.now - start
        return (elapsed.inSeconds, usage.ru_maxrss, (status >> 8) & 0xff)
    }

    static func siblingExecutable(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    }
}

/// `mock-hubspot` in a process of its own, on a free port, limits raised.
enum MockProcess {
    static func start(executable: String) throws -> (Process, URL) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--port", "0", "--token", "bench", "--rate-limit", "100000000/10s", "--daily-limit", "100000000",
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var banner = Data()
        while !banner.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            banner.append(chunk)
        }
        // "mock-hubspot listening on http://127.0.0.1:PORT (...)"
        let line = String(decoding: banner, as: UTF8.self)
        guard let range = line.range(of: "http://127.0.0.1:"),
            let url = URL(string: String(line[range.lowerBound...].prefix { !$0.isWhitespace }))
        else {
            process.terminate()
            throw ArgumentParser.ValidationError("mock-hubspot did not start: \(line)")
        }
        return (process, url)
    }
}
