import Foundation
import SyncModel

/// What the engine knows about one local contact when it plans: the contact, its consents and
/// suppressions, the base agreed at the last sync, and whether it has unsynced local edits.
public struct LocalContactState: Sendable {
    public var contact: Contact
    public var consents: [Purpose: ConsentEvent]
    public var suppressions: [SuppressionKind: Suppression]
    /// Key → agreed value (`nil` value: agreed the field was empty).
    public var base: [SyncKey: String?]
    public var localVersion: Int64
    public var syncedVersion: Int64
    public var crmLastModified: Date?
    public var crmArchivedAt: Date?
    public var mergedIntoCrmId: String?

    public init(
        contact: Contact, consents: [Purpose: ConsentEvent], suppressions: [SuppressionKind: Suppression],
        base: [SyncKey: String?], localVersion: Int64, syncedVersion: Int64, crmLastModified: Date?,
        crmArchivedAt: Date?, mergedIntoCrmId: String?
    ) {
        self.contact = contact
        self.consents = consents
        self.suppressions = suppressions
        self.base = base
        self.localVersion = localVersion
        self.syncedVersion = syncedVersion
        self.crmLastModified = crmLastModified
        self.crmArchivedAt = crmArchivedAt
        self.mergedIntoCrmId = mergedIntoCrmId
    }

    public var isDirty: Bool { localVersion > syncedVersion }
    public var isOptedOut: Bool { suppressions[.optedOutOfAll]?.isActive == true }
    public var isRestricted: Bool { suppressions[.processingRestricted]?.isActive == true }
}

/// Local changes the engine applies in one transaction per contact: values from the CRM, consent and
/// suppression evidence from the CRM, the new base, the CRM link.
public struct LocalSyncUpdate: Sendable {
    public var contactId: String
    /// The contact as it should be stored (fields from the CRM stamped with origin crm); nil: unchanged.
    public var contact: Contact?
    public var consentEvents: [ConsentEvent] = []
    public var suppressionChanges: [(kind: SuppressionKind, active: Bool, reason: String, at: Date)] = []
    /// Base entries to set.
    public var base: [SyncKey: String?] = [:]
    /// Whether the stored base goes first (a contact re-linked to a new record: nothing was agreed with it).
    public var replacesBase = false
    public var crmId: String??
    public var crmLastModified: Date?
    public var crmArchivedAt: Date??
    public var mergedIntoCrmId: String??
    /// The local version this update accounts for (marks the contact synced up to it); nil leaves it.
    public var syncedVersion: Int64?
    /// The contact's local version the update was planned from (compare-and-set): when the contact was edited
    /// since (its version moved) or erased, nothing of this update is written and the contact is left for the
    /// next run. Nil for a contact the update creates, and for updates that hold whatever was edited.
    public var expectedLocalVersion: Int64?

    public init(contactId: String) { self.contactId = contactId }

    /// Whether applying this update would write nothing.
    public var isEmpty: Bool {
        contact == nil && consentEvents.isEmpty && suppressionChanges.isEmpty && base.isEmpty && !replacesBase
            && crmId == nil
            && crmLastModified == nil && crmArchivedAt == nil && mergedIntoCrmId == nil && syncedVersion == nil
    }
}

/// What ``RegisterPort/applySyncUpdates(_:actor:)`` did with each contact's update.
public struct SyncApplyResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case applied
        /// Edited since it was planned (its local version moved): untouched, left for the next run.
        case edited
        /// Erased since it was planned (or its address is tombstoned): untouched; the erasure handles the CRM.
        case erased
    }

    /// Contact id → outcome.
    public var outcomes: [String: Outcome] = [:]

    public init() {}

    public func outcome(of contactId: String) -> Outcome? { outcomes[contactId] }
}

/// A contact a sync is about to write to the CRM, as it was planned.
public struct PlannedSubject: Sendable {
    public var contactId: String
    public var email: EmailAddress?
    public var crmId: String?
    /// The local version it was planned from; nil: checked for erasure only.
    public var localVersion: Int64?

    public init(contactId: String, email: EmailAddress?, crmId: String?, localVersion: Int64?) {
        self.contactId = contactId
        self.email = email
        self.crmId = crmId
        self.localVersion = localVersion
    }
}
