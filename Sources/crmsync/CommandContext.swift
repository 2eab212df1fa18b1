import ArgumentParser
import Foundation
import HubSpotClient
import Logging
import PostgresRegister
import SyncCore
import SyncEngine
import SyncModel
import SyncStore

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Path of the configuration file.")
    var config: String = "sync.json"

    /// Whether `--config` was left at its default, in which case a missing file means "use the defaults".
    var isDefaultConfigPath: Bool { config == "sync.json" }
}

/// Output format of reading commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// Loads configuration, opens the store and maps every failure to a clear message and an exit code.
struct CommandContext {
    let options: GlobalOptions
    let configuration: SyncConfiguration
    let logger: Logger

    /// The operator recorded in the audit log.
    var actor: String {
        let user =
            ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown"
        return "cli:\(user)"
    }

    init(_ options: GlobalOptions) throws {
        self.options = options
        logger = Logger(label: "crmsync")
        configuration = try Self.loadConfiguration(options)
    }

    static func loadConfiguration(_ options: GlobalOptions) throws -> SyncConfiguration {
        let path = options.config
        guard FileManager.default.fileExists(atPath: path) else {
            if options.isDefaultConfigPath { return SyncConfiguration() }
            throw fail(.noInput, "\(path): no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail(.noInput, "\(path): cannot be read")
        }
        do {
            return try SyncConfiguration.decode(data, file: (path as NSString).lastPathComponent)
        } catch {
            throw fail(.configuration, error.errorDescription ?? "\(path): invalid")
        }
    }

    /// The store; `existingOnly` (dry runs) creates and migrates nothing. `startNewJournal` starts a new erasure
    /// journal where the store has had one and it is missing (`crmsync init --new-erasure-journal`).
    func openStore(existingOnly: Bool = false, startNewJournal: Bool = false) throws -> SyncStore {
        do {
            switch configuration.store.location {
            case .sqlite(let path):
                return try SyncStore(
                    path: path, logger: Logger(label: "crmsync.store"), existingOnly: existingOnly,
                    erasureJournal: configuration.store.erasureJournal, startNewJournal: startNewJournal)
            case .postgres(let url):
                return try SyncStore.postgres(
                    try PostgresLocation(url: url), logger: Logger(label: "crmsync.store"), existingOnly: existingOnly,
                    erasureJournal: configuration.store.erasureJournal, startNewJournal: startNewJournal)
            }
        } catch {
            throw Self.fail(.storeUnavailable, (error as? LocalizedError)?.errorDescription ?? "cannot open the store")
        }
    }

    /// The CRM token from the environment variable `sync.json` names (never from a file).
    func token() throws -> String {
        let name = configuration.crm.tokenEnvironmentVariable
        guard let token = ProcessInfo.processInfo.environment[name], !token.isEmpty else {
            throw Self.fail(
                .configuration,
                "\(name) is not set: export the HubSpot Service Key (or legacy private-app token) in \(name)")
        }
        return token
    }

    /// The HubSpot client for this configuration, with the token from the environment.
    func client() throws -> HubSpotClient {
        do {
            let configuration = try HubSpotClientConfiguration(configuration, token: try token())
            return HubSpotClient(configuration: configuration, logger: Logger(label: "crmsync.hubspot"))
        } catch let error as ExitCode {
            throw error
        } catch {
            throw Self.fail(.configuration, (error as? LocalizedError)?.errorDescription ?? "invalid CRM settings")
        }
    }

    /// The engine for this configuration: the store, a HubSpot client with the token from the environment.
    func engine(store: SyncStore) throws -> SyncEngine {
        let client = try client()
        return SyncEngine(
            store: ThreadedRegister(store), client: client, settings: SyncSettings(configuration),
            logger: Logger(label: "crmsync.engine")
        )
    }

    /// Runs a run's CRM work holding the writer lease: `body` gets the store fenced by the lease's token, so its
    /// writes are refused if another run has taken the lease over meanwhile.
    func performHoldingLease<T: Sendable>(store: SyncStore, _ body: (SyncStore) async throws -> T) async throws -> T {
        try await performRemote {
            try await WriterLease(store: store).run { token in try await body(store.fenced(by: token)) }
        }
    }

    /// Runs CRM work, turning errors into messages and exit codes.
    func performRemote<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as LeaseHeld {
            throw Self.fail(.leaseHeld, error.errorDescription ?? "another run holds the lease")
        } catch let error as StaleLease {
            throw Self.fail(.leaseHeld, error.errorDescription ?? "the lease was taken over")
        } catch let error as LeaseUnavailable {
            throw Self.fail(.storeUnavailable, error.errorDescription ?? "cannot take the lease")
        } catch let error as HubSpotError where error.status == 401 || error.status == 403 {
            throw Self.fail(.configuration, (error.errorDescription ?? "") + ": check the token and its scopes")
        } catch let error as HubSpotError {
            throw Self.fail(.crmUnavailable, error.errorDescription ?? "the CRM failed")
        } catch let error as SyncError where error.kind == .mappingInvalid {
            throw Self.fail(.configuration, error.detail)
        } catch let error as SyncError {
            throw Self.fail(.crmUnavailable, error.detail)
        } catch let error as StoreError {
            throw Self.fail(.storeUnavailable, error.detail)
        }
    }

    /// Prints progress on standard error when it is a terminal; silent otherwise (cron, logs).
    static func progressPrinter() -> @Sendable (SyncProgress) -> Void {
        let isTerminal = isatty(STDERR_FILENO) == 1
        return { progress in
            guard isTerminal else { return }
            FileHandle.standardError.write(
                Data(
                    "\r  batches \(progress.batches), contacts planned \(progress.contactsPlanned), write requests \(progress.writeRequests)   "
                        .utf8))
        }
    }

    func email(_ raw: String) throws -> EmailAddress {
        do { return try EmailAddress(raw) } catch { throw Self.fail(.invalidInput, "--email: \(error.description)") }
    }

    func purpose(_ raw: String) throws -> Purpose {
        let purposes = configuration.allPurposes
        guard let purpose = purposes.first(where: { $0.rawValue.lowercased() == raw.lowercased() }) else {
            throw Self.fail(
                .invalidInput,
                "--purpose: unknown purpose; configured: \(purposes.map(\.rawValue).joined(separator: ", "))")
        }
        return purpose
    }

    /// Runs a store operation, turning store errors into messages and exit codes.
    func perform<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            let status: ExitStatus =
                error.isSubjectNotFound
                ? .notFound
                : error.isSubjectErased
                    ? .subjectErased
                    : error.isCannotOpen ? .storeUnavailable : .invalidInput
            throw Self.fail(status, error.detail)
        }
    }

    /// A warning for each of the store's files (the database, `-wal`, `-shm`) that others on the host may read or
    /// write: `crmsync status` and `crmsync check` show them. crmsync creates them 0600; a looser mode was set by hand
    /// or by an older version.
    static func storeModeWarnings(_ location: StoreLocation) -> [String] {
        guard case .sqlite(let path) = location else { return [] }
        return PrivateFiles.looselyProtected(storePath: path).map { file in
            let who = file.mode & 0o007 != 0 ? "every user of this host" : "its group"
            return "\(file.path) is open to \(who) (mode \(PrivateFiles.octal(file.mode))); it holds personal data: "
                + "chmod 600 \(file.path)"
        }
    }

    /// Writes a report or an export owner-only (0600): both can hold personal data.
    static func writePrivate(_ text: String, to path: String) throws {
        do {
            try PrivateFiles.write(Data(text.utf8), toPath: path)
        } catch {
            throw fail(.noInput, error.errorDescription ?? "\(path): cannot be written")
        }
    }

    /// Prints `message` on standard error and returns the error that ends the command with `status`.
    static func fail(_ status: ExitStatus, _ message: String) -> ExitCode {
        StandardError.print("crmsync: \(message)")
        return status.exitCode
    }
}

enum StandardError {
    static func print(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// JSON for `--format json`: sorted keys, ISO 8601 times.
enum JSONOutput {
    static func render<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
