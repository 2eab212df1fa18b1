import Foundation

/// One problem in a configuration file: where it is and what was expected.
public struct ConfigurationProblem: Sendable, Hashable, CustomStringConvertible {
    /// JSON path of the offending key, e.g. `crm.rateLimit.requestsPerInterval`.
    public var path: String
    /// What is wrong, with the expected value, e.g. `must be 1...250, found 0`.
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// Everything wrong with a configuration file, reported at once so a user fixes it in one pass.
public struct ConfigurationError: Error, LocalizedError, Sendable {
    public var file: String
    public var problems: [ConfigurationProblem]

    public init(file: String, problems: [ConfigurationProblem]) {
        self.file = file
        self.problems = problems
    }

    public var errorDescription: String? {
        problems.map { "\(file): \($0)" }.joined(separator: "\n")
    }
}
