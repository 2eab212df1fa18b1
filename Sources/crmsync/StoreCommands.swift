import ArgumentParser
import Foundation
import Logging
import PostgresRegister
import SyncModel
import SyncStore

/// `crmsync store …`: moving the register between databases.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Move the register to another database.",
        subcommands: [StoreCopyCommand.self])
}

/// `crmsync store copy --to postgres://…`: the configured register, whole, into an empty PostgreSQL database.
struct StoreCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy the register whole (ledger, tombstones and their key, erasure requests, checkpoints, logs).",
        discussion: """
            The target must be an empty database (its password in PGPASSWORD); its schema is created first. The copy \
            is one transaction: whole or nothing. It holds the writer lease, so no sync runs meanwhile; stop edits \
            (consent, suppress, import, erase) until store.url names the target. --dry-run says what would be copied \
            and writes nothing.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The target: postgres://user@host:port/database (password in PGPASSWORD).") var to: String
    @Flag(help: "Say what would be copied; write nothing.") var dryRun = false

    func run() async throws {
        let context = try CommandContext(global)
        let target: PostgresLocation
        do {
            target = try PostgresLocation(url: to)
        } catch {
            throw CommandContext.fail(.usage, (error as? LocalizedError)?.errorDescription ?? "--to is not valid")
        }
        let source = try context.openStore(existingOnly: dryRun)
        let database: PostgresRegisterDatabase
        do {
            database = try PostgresRegisterDatabase(
                location: target, readOnly: dryRun, logger: Logger(label: "crmsync.store"))
        } catch {
            throw CommandContext.fail(.storeUnavailable, (error as? LocalizedError)?.errorDescription ?? "\(error)")
        }
        defer { try? database.close() }
        let summary: RegisterCopySummary
        if dryRun {
            summary = try context.perform { try RegisterCopy.plan(from: source, to: database) }
        } else {
            // Holding the source's writer lease: no sync writes to it while it is copied.
            summary = try await context.performRemote {
                try await WriterLease(store: source).run { _ in
                    try context.perform {
                        try database.migrate()
                        return try RegisterCopy.copy(from: source, to: database)
                    }
                }
            }
        }
        let counts = summary.rows.filter { $0.count > 0 }.map { "\($0.table) \($0.count)" }.joined(separator: ", ")
        print(
            "\(dryRun ? "would copy" : "copied") \(summary.total) row(s) from \(source.place) to \(target.description)"
                + (counts.isEmpty ? "" : ": \(counts)"))
        if !dryRun {
            print(
                "next: set store.url to \(target.description) in \(global.config); keep the erasure journal by naming "
                    + "it in store.erasureJournal")
        }
    }
}
