import Foundation

/// A store operation that could not be done, with a reason a user can act on and no personal data.
public struct StoreError: Error, LocalizedError, Sendable, Equatable {
    private enum Code: Sendable, Equatable {
        case subjectNotFound, subjectErased, cannotOpen, invalidValue
    }

    private let code: Code
    /// What went wrong, free of personal data.
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// No contact with the given email (or id) is in the store.
    public static func subjectNotFound() -> StoreError {
        .init(.subjectNotFound, "no contact with that email in the store")
    }
    /// The subject was erased; nothing about them may be stored again.
    public static func subjectErased() -> StoreError {
        .init(.subjectErased, "that subject has been erased; the register refuses to store them again")
    }
    public static func cannotOpen(_ reason: String) -> StoreError { .init(.cannotOpen, reason) }
    public static func invalidValue(_ reason: String) -> StoreError { .init(.invalidValue, reason) }

    public var isSubjectNotFound: Bool { code == .subjectNotFound }
    public var isSubjectErased: Bool { code == .subjectErased }
    public var isCannotOpen: Bool { code == .cannotOpen }

    public var errorDescription: String? { detail }
    public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }
}
