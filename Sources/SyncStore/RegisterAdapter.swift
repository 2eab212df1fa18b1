import SyncCore

/// The register is an adapter of the core's port: each of its methods is one transaction of its database, run on the
/// caller's thread. On SQLite that is microseconds; on PostgreSQL the thread waits for each answer of the server (a
/// NIO future): the port is `async`, but this adapter does not yet give the thread back while it waits.
extension SyncStore: RegisterPort {}
