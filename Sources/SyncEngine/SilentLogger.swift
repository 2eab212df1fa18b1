import Logging

extension Logger {
    /// What a library logs when its caller injects no logger: nothing (tests stay quiet; the CLI injects its own).
    @usableFromInline static func silent(_ label: String) -> Logger {
        Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }
}
