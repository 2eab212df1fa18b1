import Foundation
import SubjectPolicy
import SyncModel

/// Which way a change goes.
public enum SyncDirection: String, Sendable, Codable {
    case toCRM
    case toLocal
}

/// One decided change of one key (a field, a purpose's consent, the opt-out, the record, its CRM link): what both
/// the report and the apply step use, so a dry run and a real run cannot disagree.
public struct PlannedChange: Sendable, Equatable, Codable {
    public var key: SyncKey
    public var direction: SyncDirection
    public var old: String?
    public var new: String?
    /// The rule that decided.
    public var rule: SyncRule
    /// Whether both sides had changed the key (a conflict decided by a policy).
    public var isConflict: Bool
}

/// What one contact needs, both ways.
public struct ContactPlan: Sendable {
    public enum Action: String, Sendable, Codable {
        case none
        case createLocal
        case createInCRM
        case update
        /// The CRM holds an erased subject: GDPR delete it there, never import it.
        case eraseInCRM
        /// Archived in the CRM: recorded locally, not re-created.
        case recordArchive
        /// The CRM merged this contact into another record held by another local contact.
        case recordMerge
        /// Skipped (restricted processing, invalid email in the CRM).
        case skip
    }

    public var action: Action
    public var localId: String?
    public var crmId: String?
    public var email: EmailAddress?
    /// The address as the CRM's record spells it (an internationalised domain in Unicode, say), when the plan has a
    /// record: HubSpot keys subscription statuses and opt-outs by the address as text, so they are written where
    /// they are read. Nil: the canonical form.
    public var crmAddress: String?
    public var changes: [PlannedChange] = []
    /// Why a contact was skipped, or a note for the report.
    public var note: String?

    // What the apply step needs beyond the changes:
    var remote: RemoteContact?
    var local: LocalSnapshotSummary?
    var toLocalValues: [ContactField: String?] = [:]
    var toCRMProperties: [String: String] = [:]
    var consentToLocal: [ConsentEvent] = []
    var consentToCRM: [(purpose: Purpose, state: ConsentState, legalBasis: LegalBasis?)] = []
    var optOutToLocal: Date?
    var optOutToCRM = false
    /// The base once both sides hold the plan's result.
    var newBase: [SyncKey: String?] = [:]
    /// The agreed opt-out the plan leaves in the base, typed (stored in ``newBase`` under `optedOutOfAll`).
    var optOutBase: OptOutBase? {
        get { newBase.optOutBase }
        set { newBase[.optedOutOfAll] = newValue.map { .some($0.stored) } }
    }
    var mergedIntoCrmId: String?
    /// A local edit this run does not push (a contact kept for review after a merge, listed every run until someone
    /// resolves it; one waiting out a refusal's quarantine): not settled either, so a later run still pushes it.
    var staysUnsynced = false
    /// The contact follows its person to a record re-created under its address: its stored base is replaced.
    var relinked = false

    /// Where HubSpot's address-keyed writes of this plan go: the record's spelling, else the canonical address.
    var addressInCRM: String? { crmAddress ?? email?.normalized }

    var hasCRMWrites: Bool {
        !toCRMProperties.isEmpty || !consentToCRM.isEmpty || optOutToCRM || action == .createInCRM
    }
    var conflicts: Int { changes.filter(\.isConflict).count }

    /// A contact the CRM refused whose next try is not due yet (the quarantine's wait): its property writes wait
    /// too, also when the change feed brings its record. What the CRM changed still comes in, and its consent and
    /// opt-out writes (another API, which a refused property does not concern) still go.
    mutating func withholdPropertyWrites() {
        guard !toCRMProperties.isEmpty else { return }
        toCRMProperties = [:]
        let pushed = Set(
            changes.filter { change in
                guard change.direction == .toCRM else { return false }
                if case .field = change.key { return true }
                return change.key == .record
            }.map(\.key))
        for key in pushed { newBase.removeValue(forKey: key) }
        changes.removeAll { $0.direction == .toCRM && pushed.contains($0.key) }
        staysUnsynced = true
        note = ([note].compactMap { $0 } + [Self.quarantineNote]).joined(separator: "; ")
    }

    static let quarantineNote = "refused by the CRM: its changes wait for the quarantine's next try"
}

/// The little of the local state the apply step needs after planning.
struct LocalSnapshotSummary: Sendable {
    var contact: Contact
    var localVersion: Int64
    var crmId: String?
    var isDirty: Bool
}
