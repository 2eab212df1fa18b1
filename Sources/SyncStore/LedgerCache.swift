import Foundation
import SyncModel

/// What a batch of sync updates reads of the consent ledger and the suppressions, read for the whole batch before
/// it writes (three queries, not several a decision), and kept up to date by the batch's own writes: the current
/// decision per purpose, the history's entries (for the ledger's duplicate check) and the suppressions of the
/// contacts it covers. Used inside one write transaction only, whose writer lock keeps everyone else out.
final class LedgerCache {
    /// An entry of the history as the duplicate check compares it.
    struct EventKey: Hashable {
        var contactId: String
        var purpose: String
        var state: String
        var occurredAt: Int64
        var source: String
        var origin: String

        init(_ event: ConsentEvent) {
            contactId = event.contactId
            purpose = event.purpose.rawValue
            state = event.state.rawValue
            occurredAt = event.occurredAt.millisecondsSince1970
            source = event.source
            origin = event.origin.rawValue
        }
    }

    private let covered: Set<String>
    private var current: [String: [Purpose: ConsentEvent]]
    private var events = Set<EventKey>()
    private var suppressions: [String: [SuppressionKind: Suppression]]

    /// Reads the ledger and suppressions of `contactIds` (those a batch may write decisions for).
    init(contactIds: [String], in db: any SQLSession) throws {
        covered = Set(contactIds)
        let ids = Array(covered)
        current = try ConsentLedger.current(contactIds: ids, in: db)
        suppressions = try Suppressions.all(contactIds: ids, in: db)
        try SyncStore.forEachRow(
            {
                "SELECT contactId, purpose, state, legalBasis, explanation, source, occurredAt, origin FROM consentEvent WHERE contactId IN (\($0))"
            }, in: ids, db
        ) { row in events.insert(EventKey(ConsentLedger.event(from: row))) }
    }

    /// The cache when it holds `contactId`'s ledger, else nil (the database is asked).
    func covering(_ contactId: String) -> LedgerCache? { covered.contains(contactId) ? self : nil }

    func contains(_ event: ConsentEvent) -> Bool { events.contains(EventKey(event)) }
    func recorded(_ event: ConsentEvent) { events.insert(EventKey(event)) }

    func current(contactId: String, purpose: Purpose) -> ConsentEvent? { current[contactId]?[purpose] }
    /// The current decisions of one contact, by purpose.
    func current(contactId: String) -> [ConsentEvent] {
        (current[contactId] ?? [:]).values.sorted { $0.purpose < $1.purpose }
    }
    func setCurrent(_ event: ConsentEvent) { current[event.contactId, default: [:]][event.purpose] = event }

    func suppression(_ kind: SuppressionKind, contactId: String) -> Suppression? { suppressions[contactId]?[kind] }
    func suppressions(contactId: String) -> [Suppression] {
        (suppressions[contactId] ?? [:]).values.sorted { $0.kind.rawValue < $1.kind.rawValue }
    }
    func set(_ suppression: Suppression) {
        suppressions[suppression.contactId, default: [:]][suppression.kind] = suppression
    }
}
