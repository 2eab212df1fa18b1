import Foundation

/// One valid row of an import file, ready for the store.
public struct ImportRecord: Sendable, Equatable {
    public var line: Int
    public var email: EmailAddress
    /// Validated values of the fields the row gives; a field it leaves empty is absent (not cleared).
    public var fields: [ContactField: String]
    public var consents: [Purpose: ConsentState]
    public var consentSource: String
    public var legalBasis: LegalBasis?
    /// When the consents were given; the import time when the file does not say.
    public var consentedAt: Date?
    /// True to record an opt-out of all marketing.
    public var optedOutOfAll: Bool
    /// When the subject was last active, as the file says (a register migrated from another system); the
    /// retention sweep counts it instead of the import itself.
    public var lastActivityAt: Date?
}

/// A row that was not imported, by its line in the file (the header is line 1).
public struct ImportRejection: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    /// Why, without the rejected values.
    public var reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { "line \(line): \(reason)" }
}

/// The problem that stops a whole file from being read (a bad header, an unreadable encoding).
public struct ImportFileError: Error, LocalizedError, Sendable {
    public var problem: String
    public init(_ problem: String) { self.problem = problem }
    public var errorDescription: String? { problem }
}

/// What an import file holds once read: the valid rows and the rejected ones.
public struct ImportBatch: Sendable {
    public var records: [ImportRecord]
    public var rejections: [ImportRejection]
}
