import ArgumentParser
import Foundation
import SyncCore
import SyncModel
import SyncStore

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import contacts from CSV (header row) or JSON Lines, with optional consent columns.",
        discussion: """
            Rows that fail validation are reported by line (the header is line 1) and skipped. The file is read \
            as a stream and imported 1,000 rows to a transaction, so its size does not decide the memory used; a \
            run stopped midway keeps the batches before it, and re-importing the same file changes nothing (so a \
            rerun finishes it). With --all-or-nothing the whole file is one transaction. Exit 0 when every row was \
            imported, 3 when some were rejected, 65 when the file is refused whole.
            """)

    /// Rows a transaction takes, and bytes read at a time.
    static let batchSize = 1_000
    static let chunkSize = 1 << 20

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The file: .csv, or .jsonl/.ndjson for JSON Lines.")
    var file: String

    @Flag(help: "Import nothing if any row is invalid.")
    var allOrNothing = false

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let context = try CommandContext(global)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue,
            let handle = FileHandle(forReadingAtPath: file)
        else {
            throw CommandContext.fail(.noInput, "\(file): no such file or not readable")
        }
        defer { try? handle.close() }
        // A read that fails midway ends the file for the reader, and the import fails after the batch it was in
        // (all-or-nothing: nothing is kept).
        struct ReadFailed: Error {}
        var readFailed = false
        let reader = ImportFileReader(purposes: context.configuration.allPurposes)
        let store = try context.openStore()
        let summary: ImportSummary
        do {
            summary = try context.perform {
                try store.importContacts(allOrNothing: allOrNothing, actor: context.actor) { each in
                    try reader.read(
                        chunks: {
                            do {
                                guard let chunk = try handle.read(upToCount: Self.chunkSize), !chunk.isEmpty else {
                                    return nil
                                }
                                return Array(chunk)
                            } catch {
                                readFailed = true
                                return nil
                            }
                        }, format: .init(path: file), batchSize: Self.batchSize,
                        each: { batch in
                            if readFailed { throw ReadFailed() }
                            try each(batch)
                        })
                    if readFailed { throw ReadFailed() }
                }
            }
        } catch let error as ImportFileError {
            throw CommandContext.fail(.invalidInput, "\(file): \(error.problem)")
        } catch is ReadFailed {
            throw CommandContext.fail(
                .noInput,
                "\(file): a read failed midway; the rows before it are imported (none with --all-or-nothing), import the file again"
            )
        }
        switch format {
        case .text: print(Self.text(summary, file: file))
        case .json: print(JSONOutput.render(ImportReport(summary)))
        }
        if !summary.committed { throw ExitStatus.invalidInput.exitCode }
        if !summary.rejections.isEmpty { throw ExitStatus.partialFailure.exitCode }
    }

    static func text(_ summary: ImportSummary, file: String) -> String {
        var lines: [String] = []
        if summary.committed {
            lines.append(
                "\(file): \(summary.created) created, \(summary.updated) updated, \(summary.unchanged) unchanged, "
                    + "\(summary.rejections.count) rejected; \(summary.consentEvents) consent decision(s) recorded")
        } else {
            lines.append("\(file): nothing imported (--all-or-nothing): \(summary.rejections.count) row(s) rejected")
        }
        lines += summary.rejections.map { "  line \($0.line): \($0.reason)" }
        return lines.joined(separator: "\n")
    }
}

struct ImportReport: Encodable {
    struct Rejection: Encodable {
        var line: Int
        var reason: String
    }
    var committed: Bool
    var created: Int
    var updated: Int
    var unchanged: Int
    var consentEvents: Int
    var rejected: [Rejection]

    init(_ summary: ImportSummary) {
        committed = summary.committed
        created = summary.created
        updated = summary.updated
        unchanged = summary.unchanged
        consentEvents = summary.consentEvents
        rejected = summary.rejections.map { Rejection(line: $0.line, reason: $0.reason) }
    }
}
