import SyncCore

/// The register is an adapter of the core's port: each of its methods is one transaction of its database, run on the
/// caller's thread (SQLite answers in microseconds; the port is `async` for adapters on a network database).
extension SyncStore: RegisterPort {}
