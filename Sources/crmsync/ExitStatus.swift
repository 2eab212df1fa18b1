import ArgumentParser

/// The exit codes crmsync documents for scripts and cron (README, "Exit codes").
enum ExitStatus: Int32, CaseIterable {
    case success = 0
    case failure = 1
    /// Some records were done, others failed or were rejected (an import with bad rows).
    case partialFailure = 3
    case erasuresOverdue = 4
    case leaseHeld = 5
    case crmUnavailable = 6
    /// No contact with that email in the store.
    case notFound = 7
    /// The subject was erased; the register refuses them.
    case subjectErased = 8
    case usage = 64
    /// Input data invalid: a malformed email argument, an import with nothing valid or refused whole.
    case invalidInput = 65
    /// An input file is missing or unreadable.
    case noInput = 66
    /// The store cannot be opened or written.
    case storeUnavailable = 74
    /// `sync.json` is malformed or invalid.
    case configuration = 78

    var exitCode: ExitCode { ExitCode(rawValue) }
}
