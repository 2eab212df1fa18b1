import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

/// What a sync run would do (dry run) or did: counts, every change with the rule that decided it, the
/// requests spent, failures. Holds personal values in memory; renderers mask them unless asked not to.
public struct SyncReport: Sendable, Codable {
    public struct Direction: Sendable, Codable, Equatable {
        public var creates = 0
        public var updates = 0
        public var consentChanges = 0
        public var suppressions = 0
        public var erasures = 0

        public init() {}
    }

    public struct Summary: Sendable, Codable, Equatable {
        public var toCRM = Direction()
        public var toLocal = Direction()
        public var conflicts = 0
        public var archived = 0
        public var merged = 0
        public var skipped = 0
        public var failures = 0
        /// Records the CRM refused for good this run (quarantined, retried later; they do not hold the checkpoint).
        public var refused = 0
        public var contactsExamined = 0

        init() {}

        /// Summaries stored by earlier versions lack newer counts: those read as 0.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            toCRM = try c.decodeIfPresent(Direction.self, forKey: .toCRM) ?? Direction()
            toLocal = try c.decodeIfPresent(Direction.self, forKey: .toLocal) ?? Direction()
            conflicts = try c.decodeIfPresent(Int.self, forKey: .conflicts) ?? 0
            archived = try c.decodeIfPresent(Int.self, forKey: .archived) ?? 0
            merged = try c.decodeIfPresent(Int.self, forKey: .merged) ?? 0
            skipped = try c.decodeIfPresent(Int.self, forKey: .skipped) ?? 0
            failures = try c.decodeIfPresent(Int.self, forKey: .failures) ?? 0
            refused = try c.decodeIfPresent(Int.self, forKey: .refused) ?? 0
            contactsExamined = try c.decodeIfPresent(Int.self, forKey: .contactsExamined) ?? 0
        }
    }

    public struct Change: Sendable, Codable, Equatable {
        /// The contact's email (masked in output unless PII is shown).
        public var contact: String
        public var localId: String?
        public var crmId: String?
        public var direction: SyncDirection
        public var field: String
        public var old: String?
        public var new: String?
        public var rule: String
        public var conflict: Bool
    }

    public struct Note: Sendable, Codable, Equatable {
        public var contact: String
        public var note: String
    }

    public struct Cost: Sendable, Codable, Equatable {
        /// Requests sent by this run (reads, and writes unless a dry run).
        public var requestsSent = 0
        /// Write requests the plan needs (sent, or to be sent by a real run).
        public var plannedWriteRequests = 0
        public var dailyBudgetRemaining = 0
        /// `plannedWriteRequests` as a share of `dailyBudgetRemaining`.
        public var shareOfRemainingBudget = 0.0
        public var retries = 0
        public var rateLimited = 0
        public var bytesReceived = 0
    }

    /// Whether the run applied its plan or only planned it.
    public enum Mode: String, Sendable, Codable, CustomStringConvertible {
        case dryRun = "dry-run"
        case applied
        public var description: String { rawValue }
    }

    public var mode: Mode
    public var startedAt: Date
    public var finishedAt: Date?
    public var summary = Summary()
    public var changes: [Change] = []
    public var notes: [Note] = []
    public var failures: [String] = []
    /// One masked line per refused record: what the CRM (or the portal's property definitions) refused.
    public var refused: [String] = []
    public var cost = Cost()
    /// Whether every change was listed (large runs may keep counts only).
    public var changesListed = true
    /// The local clock minus HubSpot's (by its `Date` header), in seconds, when it is larger than the
    /// consistency horizon: watermarks follow HubSpot's time, but local stamps (field and consent times) do not.
    public var clockSkewSeconds: Double?
    /// Stored decisions (consent, opt-outs, restrictions) dated beyond ``DecisionTime/futureTolerance`` after the
    /// run's start: a typo or a clock that ran fast. They win "newest wins" until then; decisions made with the
    /// command line are dated after them, so they still apply.
    public var futureDatedDecisions = 0

    init(mode: Mode, startedAt: Date) {
        self.mode = mode
        self.startedAt = startedAt
    }

    var isDryRun: Bool { mode == .dryRun }

    /// Adds one plan's counts and changes.
    mutating func add(_ plan: ContactPlan, listChanges: Bool) {
        summary.contactsExamined += 1
        summary.conflicts += plan.conflicts
        let contact = plan.email?.display ?? "(no email)"
        switch plan.action {
        case .createInCRM: summary.toCRM.creates += 1
        case .createLocal: summary.toLocal.creates += 1
        case .eraseInCRM: summary.toCRM.erasures += 1
        case .recordArchive: summary.archived += 1
        case .recordMerge: summary.merged += 1
        case .skip: summary.skipped += 1
        case .update, .none: break
        }
        if plan.action == .update {
            if plan.changes.contains(where: { $0.direction == .toCRM && $0.key.field != nil }) {
                summary.toCRM.updates += 1
            }
            if plan.changes.contains(where: { $0.direction == .toLocal && $0.key.field != nil }) {
                summary.toLocal.updates += 1
            }
        }
        for change in plan.changes {
            switch change.key {
            case .consent:
                if change.direction == .toCRM {
                    summary.toCRM.consentChanges += 1
                } else {
                    summary.toLocal.consentChanges += 1
                }
            case .optedOutOfAll:
                if change.direction == .toCRM {
                    summary.toCRM.suppressions += 1
                } else {
                    summary.toLocal.suppressions += 1
                }
            case .field, .record, .crmId:
                break
            }
        }
        if plan.changes.contains(where: { $0.key == .crmId && $0.rule == .mergedInCRM }) { summary.merged += 1 }
        if let note = plan.note, listChanges { notes.append(Note(contact: contact, note: note)) }
        guard listChanges else {
            changesListed = false
            return
        }
        for change in plan.changes {
            changes.append(
                Change(
                    contact: contact, localId: plan.localId, crmId: plan.crmId, direction: change.direction,
                    field: change.key.rawValue, old: change.old, new: change.new, rule: change.rule.description,
                    conflict: change.isConflict))
        }
    }

    /// The report with personal data masked: emails as `a***@example.fi`, names and contact details as `A***`.
    public func masked() -> SyncReport {
        var copy = self
        copy.changes = changes.map { change in
            var masked = change
            masked.contact = PersonalData.mask(email: change.contact)
            if let field = ContactField(rawValue: change.field), field.isPersonal {
                masked.old = change.old.map {
                    field == .email ? PersonalData.mask(email: $0) : PersonalData.mask(name: $0)
                }
                masked.new = change.new.map {
                    field == .email ? PersonalData.mask(email: $0) : PersonalData.mask(name: $0)
                }
            }
            return masked
        }
        copy.notes = notes.map { Note(contact: PersonalData.mask(email: $0.contact), note: $0.note) }
        return copy
    }
}
