import ArgumentParser
import Foundation
import SyncModel

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the store, and sync.json with every default if it is missing; --check then checks the portal."
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Then check the portal against sync.json, as `crmsync check` does.") var check = false
    @Flag(
        help: """
            Start a new erasure journal from the store when the store has had one and it is missing (only after \
            checking that the store is not a backup older than erasures the lost journal held).
            """)
    var newErasureJournal = false

    func run() async throws {
        if !FileManager.default.fileExists(atPath: global.config) {
            let written = FileManager.default.createFile(
                atPath: global.config, contents: SyncConfiguration().encodedJSON() + Data("\n".utf8))
            guard written else { throw CommandContext.fail(.noInput, "\(global.config): cannot be created") }
            print("wrote \(global.config) with the default configuration")
        }
        let context = try CommandContext(global)
        let store = try context.openStore(startNewJournal: newErasureJournal)
        let migrations = try context.perform { try store.appliedMigrations() }
        print("store ready at \(store.place) (\(migrations.count) migration(s) applied)")
        if store.journalRestored > 0 {
            print("erasure journal: \(store.journalRestored) erasure record(s) the store lacked applied again")
        }
        if check {
            var command = try CheckCommand.parse(["--config", global.config])
            try await command.run()
        }
    }
}
