import Foundation
import SyncStore

/// Where a register on PostgreSQL is: `postgres://user@host:port/database` from `store.url`. The password is never
/// part of it: it comes from the environment (`PGPASSWORD`, as for psql), so no file in a repository holds it. TLS
/// is required for any host that is not loopback; on loopback it is used when `?sslmode=require` asks for it.
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var password: String?
    public var requiresTLS: Bool

    /// The environment variable the password comes from.
    public static let passwordVariable = "PGPASSWORD"

    /// Whether `url` names a PostgreSQL register (rather than a SQLite file).
    public static func isPostgres(_ url: String) -> Bool {
        url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    }

    /// Reads `url`; the password from `environment`. Throws a message that never repeats a password.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard Self.isPostgres(url), let components = URLComponents(string: url), let host = components.host,
            !host.isEmpty
        else {
            throw StoreError.invalidValue(
                "store.url is not a PostgreSQL address: expected postgres://user@host:port/database")
        }
        if components.password != nil {
            throw StoreError.invalidValue(
                "store.url holds a password: remove it, and give it in the environment (\(Self.passwordVariable))")
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreError.invalidValue("store.url names no user: expected postgres://user@host:port/database")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw StoreError.invalidValue("store.url names no database: expected postgres://user@host:port/database")
        }
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? ""
        guard ["", "disable", "require", "verify-full"].contains(sslMode) else {
            throw StoreError.invalidValue("store.url: sslmode must be require or verify-full (or disable on loopback)")
        }
        let loopback = Self.isLoopback(host)
        if !loopback && sslMode == "disable" {
            throw StoreError.invalidValue(
                "store.url: TLS is required for a database that is not on this host (\(host)); remove sslmode=disable")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user
        self.database = database
        self.password = environment[Self.passwordVariable]
        self.requiresTLS = !loopback || sslMode == "require" || sslMode == "verify-full"
    }

    public init(host: String, port: Int, user: String, database: String, password: String?, requiresTLS: Bool) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.password = password
        self.requiresTLS = requiresTLS
    }

    /// The address without a password: what messages and `crmsync status` show.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// The same server and user, another database.
    public func database(_ name: String) -> PostgresLocation {
        var location = self
        location.database = name
        return location
    }

    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }
}
