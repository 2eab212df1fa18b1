import Foundation
import Logging
import PostgresRegister
import SyncModel
import SyncStore

/// The PostgreSQL server tests may use: `CRMSYNC_TEST_POSTGRES_URL` (a database whose user may create others, as
/// `.ci/postgres start` sets up) and `PGPASSWORD`. Each register a test makes is a new database of its own, dropped
/// when the test lets go of it.
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["CRMSYNC_TEST_POSTGRES_URL"]
    public static var isConfigured: Bool { url != nil }
    /// Set by CI: a run without a server fails instead of skipping the PostgreSQL tests.
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["CRMSYNC_REQUIRE_POSTGRES"] == "1" }
    /// `CRMSYNC_TEST_ENGINE_STORE=postgres`: the engine's end-to-end tests keep their register on the test server
    /// instead of in memory.
    public static var enginesUsePostgres: Bool {
        isConfigured && ProcessInfo.processInfo.environment["CRMSYNC_TEST_ENGINE_STORE"] == "postgres"
    }
    public static let logger = Logger(label: "crmsync.test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    public static func server() throws -> PostgresLocation { try PostgresLocation(url: url ?? "") }

    /// A new, empty database on the test server.
    public static func newDatabase() throws -> PostgresLocation {
        try PostgresAdministration.createUniqueDatabase(prefix: "crmsync_test", on: try server(), logger: logger)
    }

    public static func drop(_ name: String) throws {
        try PostgresAdministration.dropDatabase(name, on: try server(), logger: logger)
    }

    /// A register in a new database of the test server, and what drops it.
    public static func newStore(clock: any SyncClock) throws -> (store: SyncStore, drop: @Sendable () -> Void) {
        let location = try newDatabase()
        let store = try SyncStore.postgres(location, clock: clock)
        return (
            store,
            {
                try? store.close()
                try? drop(location.database)
            }
        )
    }
}
