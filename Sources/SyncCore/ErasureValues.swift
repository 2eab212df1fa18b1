import Foundation
import SyncModel

/// Where an erasure request stands.
public enum ErasureState: String, Sendable, Codable, CaseIterable {
    /// Recorded; the local erasure has not run yet.
    case received
    /// Erased locally (tombstone written); the CRM delete is still to be sent.
    case pending
    /// The CRM accepted the GDPR delete; the verification read is still to come.
    case sent
    /// The CRM answers 404 for the subject: done.
    case verified
    /// The last attempt failed; retried on later runs.
    case failed
}

/// An erasure request as `crmsync erasures` lists it. Holds no personal data.
public struct ErasureRequest: Sendable, Equatable, Codable {
    public var id: String
    public var subjectHash: String
    public var reason: String?
    public var receivedAt: Date
    /// One month from receipt, as the GDPR sets.
    public var deadline: Date
    public var state: ErasureState
    public var sentAt: Date?
    public var verifiedAt: Date?
    public var attempts: Int
    /// The CRM's category and a message without personal data.
    public var lastError: String?
    /// Why the request ends as it does when that is not its own story (carried out together with another
    /// request for the same subject, or the subject was already erased). No personal data.
    public var note: String?

    public init(
        id: String, subjectHash: String, reason: String?, receivedAt: Date, deadline: Date, state: ErasureState,
        sentAt: Date?, verifiedAt: Date?, attempts: Int, lastError: String?, note: String?
    ) {
        self.id = id
        self.subjectHash = subjectHash
        self.reason = reason
        self.receivedAt = receivedAt
        self.deadline = deadline
        self.state = state
        self.sentAt = sentAt
        self.verifiedAt = verifiedAt
        self.attempts = attempts
        self.lastError = lastError
        self.note = note
    }

    public func isOverdue(at now: Date) -> Bool { state != .verified && now > deadline }
}

/// The work an unfinished erasure of one subject still needs: the address and the CRM ids are read from the
/// outbox, where they stay only until the CRM delete is verified. Every unfinished request for the subject
/// is carried out together, so none is left behind.
public struct PendingErasure: Sendable {
    /// The earliest unfinished request (whose deadline comes first).
    public var request: ErasureRequest
    /// Every unfinished request for the subject, oldest first; they move on together.
    public var requests: [ErasureRequest]
    public var email: EmailAddress
    /// Every CRM record the subject was linked to: each is GDPR-deleted by id and must read 404.
    public var crmIds: [String]
    /// Whether the CRM delete also goes by email: only when no CRM record of the subject is known and the
    /// subject was not erased before, since HubSpot blocklists an address that matches no record.
    public var deletesByEmail: Bool

    public init(
        request: ErasureRequest, requests: [ErasureRequest], email: EmailAddress, crmIds: [String], deletesByEmail: Bool
    ) {
        self.request = request
        self.requests = requests
        self.email = email
        self.crmIds = crmIds
        self.deletesByEmail = deletesByEmail
    }
}

/// The answer to a claim on sending a subject's GDPR deletes.
public enum ErasureClaim: Sendable, Equatable {
    /// This caller sends them.
    case claimed
    /// This caller sends them, taking over a claim whose holder never let go (killed while sending): the deletes
    /// may have gone through, so the CRM is read before anything is sent.
    case takenOver
    /// Another run (a sync, or an `erase`) is sending them now.
    case heldByAnother
    /// They were sent (or the erasure is finished): only the verification is left.
    case alreadySent
}

/// Another person's withdrawals and opt-outs that an erasure's GDPR delete takes with a record (HubSpot drops every
/// address's statuses with it). They are read before the delete and kept in the erasure's outbox entry until they
/// are written back, so a run killed, or a write-back given up, between the delete and the write-back writes them on
/// the erasure's next attempt; only what was read is kept, never a grant.
public struct HeldObjections: Codable, Sendable, Equatable {
    /// A withdrawn subscription of an address, with the legal basis HubSpot gave it.
    public struct Withdrawal: Codable, Sendable, Equatable, Hashable {
        public var email: String
        public var subscriptionId: Int
        public var legalBasis: String?
        public var legalBasisExplanation: String?

        public init(email: String, subscriptionId: Int, legalBasis: String?, legalBasisExplanation: String?) {
            self.email = email
            self.subscriptionId = subscriptionId
            self.legalBasis = legalBasis
            self.legalBasisExplanation = legalBasisExplanation
        }
    }

    public var withdrawals: [Withdrawal]
    /// Addresses opted out of all email.
    public var optedOut: [String]

    public init(withdrawals: [Withdrawal] = [], optedOut: [String] = []) {
        self.withdrawals = withdrawals
        self.optedOut = optedOut
    }

    public var isEmpty: Bool { withdrawals.isEmpty && optedOut.isEmpty }

    /// Both sets, each entry once (the first read of a withdrawal keeps its basis).
    public func adding(_ other: HeldObjections) -> HeldObjections {
        var seen = Set(withdrawals.map { WrittenKey(email: $0.email, subscriptionId: $0.subscriptionId) })
        var merged = self
        for withdrawal in other.withdrawals
        where seen.insert(WrittenKey(email: withdrawal.email, subscriptionId: withdrawal.subscriptionId)).inserted {
            merged.withdrawals.append(withdrawal)
        }
        for address in other.optedOut where !merged.optedOut.contains(address) { merged.optedOut.append(address) }
        return merged
    }

    private struct WrittenKey: Hashable {
        var email: String
        var subscriptionId: Int
    }
}
