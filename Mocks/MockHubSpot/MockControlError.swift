import Foundation

/// A call to the mock's control surface that did not get the answer it asked for: the mock refused it (a non-2xx
/// status, with the mock's message), answered something unreadable, or could not be reached.
public struct MockControlError: Error, LocalizedError, Sendable, CustomStringConvertible {
    /// What went wrong, as an opaque code: adding a case breaks no caller.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String {
            case refused = "refused"
            case unreadableReply = "unreadable reply"
            case unreachable = "unreachable"
        }

        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The mock answered with a status outside 200...299.
        public static let refused = Code(.refused)
        /// The mock answered 2xx with a body that is not what the endpoint returns.
        public static let unreadableReply = Code(.unreadableReply)
        /// No HTTP answer at all (the mock is not listening, or the connection failed).
        public static let unreachable = Code(.unreachable)

        public var description: String { kind.rawValue }
    }

    public var code: Code
    /// The call, e.g. `PUT /__mock/config`.
    public var endpoint: String
    /// The HTTP status, when the mock answered.
    public var status: Int?
    /// The mock's message (its validation texts name keys and limits, never a record's values), or the cause.
    public var message: String

    public init(_ code: Code, endpoint: String, status: Int? = nil, message: String) {
        self.code = code
        self.endpoint = endpoint
        self.status = status
        self.message = message
    }

    public var errorDescription: String? {
        "mock control \(endpoint): \(code)\(status.map { " (HTTP \($0))" } ?? ""): \(message)"
    }

    public var description: String { errorDescription ?? "mock control error" }
}
