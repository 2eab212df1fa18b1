import ArgumentParser
import Foundation
import Logging
import SyncModel

@main
struct CRMSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crmsync",
        abstract: "Keeps a GDPR customer register and HubSpot in agreement: contacts, consent, opt-outs, erasure.",
        version: "crmsync \(CRMSyncVersion.current)",
        subcommands: [
            InitCommand.self, ImportCommand.self, ContactCommand.self, ConsentCommand.self, SuppressCommand.self,
            RestrictCommand.self, ExportCommand.self, SyncCommand.self, RunCommand.self, StatusCommand.self,
            ReconcileCommand.self,
            EraseCommand.self,
            ErasuresCommand.self,
            RetentionCommand.self, DemoCommand.self, CheckCommand.self, StoreCommand.self,
        ]
    )

    /// `crmsync --version [--config PATH]`: crmsync's version and the HubSpot API version the configuration selects
    /// (`crm.apiVersion`; the default where there is no `sync.json`).
    static func versionText(arguments: [String]) -> String {
        let options = (try? GlobalOptions.parse(arguments)) ?? (try! GlobalOptions.parse([]))
        let api: String
        if let configuration = try? CommandContext.loadConfiguration(options) {
            api = configuration.crm.apiVersion.rawValue
        } else {
            api = "\(SyncConfiguration().crm.apiVersion.rawValue) (default; \(options.config) could not be read)"
        }
        return "crmsync \(CRMSyncVersion.current)\nHubSpot API \(api)"
    }

    /// Bootstraps swift-log once, for the executable only (libraries and tests never do), then runs the command.
    /// The level comes from `CRMSYNC_LOG_LEVEL` (trace, debug, info, notice, warning, error); default warning.
    /// `CRMSYNC_LOG_FORMAT=json` writes one JSON object per line instead of text.
    static func main() async {
        // Whatever crmsync creates (the store, its -wal and -shm, reports, exports, lock files) can hold personal
        // data or keys: owner-only, whatever umask the operator's shell or unit left. Files are also created 0600
        // explicitly (`PrivateFiles`); this covers what SQLite or Foundation create on their own.
        umask(0o077)
        let environment = ProcessInfo.processInfo.environment
        let level = environment["CRMSYNC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        let json: Bool
        switch environment["CRMSYNC_LOG_FORMAT"] ?? "text" {
        case "text", "": json = false
        case "json": json = true
        default:
            FileHandle.standardError.write(Data("crmsync: CRMSYNC_LOG_FORMAT must be text or json\n".utf8))
            Foundation.exit(ExitStatus.usage.rawValue)
        }
        // Every line logged while a sync runs names the run (`sync.run`), whichever library logs it.
        let runMetadata = Logger.MetadataProvider {
            SyncRunID.current.map { ["sync.run": "\($0)"] } ?? [:]
        }
        LoggingSystem.bootstrap(
            { label, provider in
                if json {
                    var handler = JSONLogHandler(label: label, metadataProvider: provider)
                    handler.logLevel = level ?? .warning
                    return handler
                }
                var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                handler.logLevel = level ?? .warning
                return handler
            }, metadataProvider: runMetadata)
        if CommandLine.arguments.dropFirst().first == "--version" {
            print(versionText(arguments: Array(CommandLine.arguments.dropFirst(2))))
            return
        }
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
