import ArgumentParser
import Foundation
import SyncModel

/// Times `crmsync import` of a synthetic CSV in a child process and reads the child's peak memory.
struct ImportBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import N synthetic contacts from CSV with the real CLI; print time and peak RSS.")

    @Option(help: "How many contacts.") var contacts: Int = 100_000
    @Option(help: "Path of the crmsync executable (default: next to this one).") var crmsync: String?

    func run() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let executable =
            crmsync
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("crmsync").path
        var register = SyntheticRegister(seed: 42)
        let csv = folder.appendingPathComponent("register.csv")
        // Written 10,000 rows at a time: the file, not this process, holds a million.
        FileManager.default.createFile(atPath: csv.path, contents: Data((SyntheticRegister.csvHeader + "\n").utf8))
        let writer = try FileHandle(forWritingTo: csv)
        try writer.seekToEnd()
        var index = 0
        while index < contacts {
            var text = ""
            for row in index..<min(index + 10_000, contacts) { text += register.csvRow(index: row) + "\n" }
            try writer.write(contentsOf: Data(text.utf8))
            index += 10_000
        }
        try writer.close()
        let size = (try FileManager.default.attributesOfItem(atPath: csv.path)[.size] as? Int) ?? 0
        try Data(#"{"store": {"path": "bench.sqlite"}}"#.utf8).write(to: folder.appendingPathComponent("sync.json"))
        print(
            "crmsync-bench import: \(contacts) contacts, CSV \(size / 1_048_576) MiB, \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        let parseStart = ContinuousClock.now
        let handle = try FileHandle(forReadingFrom: csv)
        defer { try? handle.close() }
        var rows = 0
        try ImportFileReader(purposes: Purpose.standard).read(
            chunks: {
                let chunk = handle.readData(ofLength: 1 << 20)
                return chunk.isEmpty ? nil : Array(chunk)
            }, format: .csv, batchSize: 1_000
        ) { rows += $0.records.count }
        let parse = ContinuousClock.now - parseStart
        print(
            "  parse + validate only   \(parse.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 2)))) for \(rows) rows (in this process, streamed)"
        )
        for label in ["first import", "re-import (no change)"] {
            let measured = try ChildProcess.measure(executable, arguments: ["import", csv.path], in: folder)
            let rate = Double(contacts) / measured.seconds
            print(
                "  \(label.padding(toLength: 22, withPad: " ", startingAt: 0))"
                    + String(
                        format: " %7.2f s  %9.0f contacts/s  peak RSS %6.1f MiB  exit %d", measured.seconds, rate,
                        Double(measured.peakKiB) / 1024, measured.status))
        }
    }
}
