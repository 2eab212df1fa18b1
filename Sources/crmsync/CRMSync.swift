import ArgumentParser
import Foundation
import Logging
import SyncModel

@main
struct CRMSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crmsync",
        abstract: "Keeps a GDPR customer register and HubSpot in agreement: contacts, consent, opt-outs, erasure.",
        subcommands: [
            InitCommand.self, ImportCommand.self, ContactCommand.self, ConsentCommand.self, SuppressCommand.self,
            RestrictCommand.self, ExportCommand.self, SyncCommand.self, RunCommand.self, StatusCommand.self,
            ReconcileCommand.self,
            EraseCommand.self,
            ErasuresCommand.self,
            RetentionCommand.self, DemoCommand.self, CheckCommand.self,
        ]
    )

    /// Bootstraps swift-log once, for the executable only (libraries and tests never do), then runs the command.
    /// The level comes from `CRMSYNC_LOG_LEVEL` (trace, debug, info, notice, warning, error); default warning.
    static func main() async {
        // Whatever crmsync creates (the store, its -wal and -shm, reports, exports, lock files) can hold personal
        // data or keys: owner-only, whatever umask the operator's shell or unit left. Files are also created 0600
        // explicitly (`PrivateFiles`); this covers what SQLite or Foundation create on their own.
        umask(0o077)
        let level = ProcessInfo.processInfo.environment["CRMSYNC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        // Every line logged while a sync runs names the run (`sync.run`), whichever library logs it.
        let runMetadata = Logger.MetadataProvider {
            SyncRunID.current.map { ["sync.run": "\($0)"] } ?? [:]
        }
        LoggingSystem.bootstrap(
            { label, provider in
                var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                handler.logLevel = level ?? .warning
                return handler
            }, metadataProvider: runMetadata)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
