import Foundation

/// A flag that stops processing regardless of per-purpose consent.
public enum SuppressionKind: String, Codable, Sendable, CaseIterable, Hashable {
    /// The notice's "markkinointikielto": objection to all direct marketing (HubSpot: unsubscribed from all email).
    case optedOutOfAll
    /// The right to restriction: stored, but not processed further (not pushed, not used for marketing).
    case processingRestricted
}

/// The current state of one suppression flag for one contact.
public struct Suppression: Sendable, Hashable, Codable {
    public var contactId: String
    public var kind: SuppressionKind
    public var isActive: Bool
    public var reason: String?
    /// When the flag was set, or when it was last lifted if inactive.
    public var changedAt: Date
    public var origin: ChangeOrigin

    public init(
        contactId: String, kind: SuppressionKind, isActive: Bool, reason: String?, changedAt: Date,
        origin: ChangeOrigin
    ) {
        self.contactId = contactId
        self.kind = kind
        self.isActive = isActive
        self.reason = reason
        self.changedAt = changedAt
        self.origin = origin
    }
}

/// What remains of an erased subject: a keyed hash of the normalised email, never the email itself.
public struct Tombstone: Sendable, Hashable, Codable {
    /// Hex HMAC-SHA256 of the normalised email under the store's secret.
    public var subjectHash: String
    public var erasedAt: Date
    public var requestId: String

    public init(subjectHash: String, erasedAt: Date, requestId: String) {
        self.subjectHash = subjectHash
        self.erasedAt = erasedAt
        self.requestId = requestId
    }
}
