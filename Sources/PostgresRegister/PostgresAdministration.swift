import Foundation
import Logging
import PostgresNIO
import SyncStore

/// Databases made and dropped on a server the register's user may create databases on: the tests' and the
/// benchmarks' throw-away registers.
public enum PostgresAdministration {
    /// Creates an empty database `name` on the server of `server` (connecting to its database) and returns its
    /// location.
    public static func createDatabase(
        _ name: String, on server: PostgresLocation, template: String? = nil, logger: Logger
    ) throws -> PostgresLocation {
        try run(
            "CREATE DATABASE \"\(name)\"" + (template.map { " TEMPLATE \"\($0)\"" } ?? ""), on: server,
            logger: logger)
        return server.database(name)
    }

    /// Creates a database named `prefix` and a random suffix (a throw-away register's), empty or a copy of the
    /// database `template` (which nobody may be connected to), and returns its location.
    public static func createUniqueDatabase(
        prefix: String, on server: PostgresLocation, template: String? = nil, logger: Logger
    ) throws -> PostgresLocation {
        let name = prefix + "_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return try createDatabase(name, on: server, template: template, logger: logger)
    }

    /// Drops the database `name` on the server of `server`, closing its connections first.
    public static func dropDatabase(_ name: String, on server: PostgresLocation, logger: Logger) throws {
        try run("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)", on: server, logger: logger)
    }

    private static func run(_ sql: String, on server: PostgresLocation, logger: Logger) throws {
        guard !sql.dropFirst(14).contains(";") else { throw StoreError.invalidValue("not a database name") }
        let connection = try PostgresRegisterDatabase.connect(server, logger: logger)
        defer { try? connection.close().wait() }
        do {
            _ = try connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait()
        } catch {
            throw StoreError.invalidValue(PostgresRegisterDatabase.describe(error))
        }
    }
}
