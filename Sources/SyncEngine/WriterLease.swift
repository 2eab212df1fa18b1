import Foundation
import SyncStore

/// Another run holds the writer lease.
public struct LeaseHeld: Error, LocalizedError, Sendable {
    public var holder: LeaseHolder

    public var errorDescription: String? {
        "another crmsync run holds the lease (\(holder.holder), since \(holder.acquiredAt.formatted(.iso8601)), "
            + "expires \(holder.expiresAt.formatted(.iso8601)))"
    }
}

/// One writer at a time against a store, whether runs come from the daemon, cron or a terminal.
public struct WriterLease: Sendable {
    public static let name = "writer"
    let store: SyncStore
    public let holder: String
    let ttl: Duration

    /// `holder` defaults to host and process id.
    public init(store: SyncStore, holder: String? = nil, ttl: Duration = .seconds(900)) {
        self.store = store
        self.holder = holder ?? "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        self.ttl = ttl
    }

    /// Runs `body` holding the lease; throws ``LeaseHeld`` without running it when someone else holds it.
    public func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        if let current = try store.acquireLease(Self.name, holder: holder, ttl: ttl) {
            throw LeaseHeld(holder: current)
        }
        do {
            let result = try await body()
            try? store.releaseLease(Self.name, holder: holder)
            return result
        } catch {
            try? store.releaseLease(Self.name, holder: holder)
            throw error
        }
    }

    /// Extends the lease during a long run (called between batches).
    public func renew() { _ = try? store.renewLease(Self.name, holder: holder, ttl: ttl) }
}
