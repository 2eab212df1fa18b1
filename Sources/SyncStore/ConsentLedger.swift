import Foundation
import SubjectPolicy
import SyncModel

/// Consent evidence: an append-only history per contact and purpose, and the current state derived from it.
///
/// The current state is the newest decision; on equal times the more restrictive one wins, so a grant
/// and a withdrawal recorded for the same instant leave the purpose withdrawn.
enum ConsentLedger {
    /// Appends `event` to the history and updates the current state if the event is newer (or equally new
    /// and more restrictive). An event identical to one already in the history is ignored, which makes
    /// replays and re-imports idempotent. Returns whether anything was written. With `cache` (a sync batch's), what
    /// it reads of the contact's ledger comes from the cache, and what it writes goes to the cache too.
    @discardableResult
    static func record(
        _ event: ConsentEvent, actor: String, recordedAt: Date, in db: any SQLSession, bumpsVersion: Bool = true,
        cache: LedgerCache? = nil
    ) throws -> Bool {
        let cache = cache?.covering(event.contactId)
        func current() throws -> ConsentEvent? {
            if let cache { return cache.current(contactId: event.contactId, purpose: event.purpose) }
            return try Self.current(contactId: event.contactId, purpose: event.purpose, in: db)
        }
        func setCurrent() throws {
            try Self.setCurrent(event, in: db)
            cache?.setCurrent(event)
        }
        let duplicate =
            try cache.map { $0.contains(event) } ?? Bool.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT EXISTS (SELECT 1 FROM consentEvent WHERE contactId = ? AND purpose = ? AND state = ?
                        AND occurredAt = ? AND source = ? AND origin = ?)
                        """),
                arguments: [
                    event.contactId, event.purpose.rawValue, event.state.rawValue,
                    event.occurredAt.millisecondsSince1970,
                    event.source, event.origin.rawValue,
                ]) ?? false
        if duplicate {
            // Already in the history; the current state still follows it if it should (a current state that went
            // missing or fell behind must not leave a decision the sync offers again every run unapplied).
            let current = try current()
            guard current.map({ supersedes(event, $0) }) ?? true else { return false }
            try setCurrent()
            return true
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO consentEvent (contactId, purpose, state, legalBasis, explanation, source, occurredAt,
                recordedAt, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            event.contactId, event.purpose.rawValue, event.state.rawValue, event.legalBasis?.rawValue,
            event.explanation, event.source, event.occurredAt.millisecondsSince1970,
            recordedAt.millisecondsSince1970, event.origin.rawValue,
        ])
        cache?.recorded(event)
        if bumpsVersion && event.origin == .local { try SyncVersion.bump(event.contactId, in: db) }
        if let current = try current(), !supersedes(event, current) {
            return true
        }
        try setCurrent()
        try AuditLog.append(
            action: "consent.\(event.state.rawValue)", actor: actor, contactId: event.contactId,
            purpose: event.purpose, detail: "source=\(event.source) origin=\(event.origin.rawValue)",
            at: recordedAt, in: db)
        return true
    }

    private static func setCurrent(_ event: ConsentEvent, in db: any SQLSession) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO consent (contactId, purpose, state, legalBasis, explanation, source, occurredAt, origin)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (contactId, purpose) DO UPDATE SET state = excluded.state,
                    legalBasis = excluded.legalBasis, explanation = excluded.explanation, source = excluded.source,
                    occurredAt = excluded.occurredAt, origin = excluded.origin
                """
        ).execute(arguments: [
            event.contactId, event.purpose.rawValue, event.state.rawValue, event.legalBasis?.rawValue,
            event.explanation, event.source, event.occurredAt.millisecondsSince1970, event.origin.rawValue,
        ])
    }

    /// Whether `candidate` replaces `current` as the current state (``ConsentPrecedence``): newer, or as new and more
    /// restrictive; `unknown` is never a decision, so it never replaces a grant or a withdrawal, and either replaces it.
    static func supersedes(_ candidate: ConsentEvent, _ current: ConsentEvent) -> Bool {
        ConsentPrecedence.prevails(candidate.stated, over: current.stated)
    }

    static func current(contactId: String, purpose: Purpose, in db: any SQLSession) throws -> ConsentEvent? {
        try SQLRow.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM consent WHERE contactId = ? AND purpose = ?"),
            arguments: [contactId, purpose.rawValue]
        ).map(event(from:))
    }

    static func current(contactId: String, in db: any SQLSession) throws -> [ConsentEvent] {
        try SQLRow.fetchAll(
            db.cachedStatement(sql: "SELECT * FROM consent WHERE contactId = ? ORDER BY purpose"),
            arguments: [contactId]
        ).map(event(from:))
    }

    /// The current decisions of many contacts, by contact and purpose (one query per 500 contacts).
    static func current(contactIds: [String], in db: any SQLSession) throws -> [String: [Purpose: ConsentEvent]] {
        var current: [String: [Purpose: ConsentEvent]] = [:]
        try SyncStore.forEachRow({ "SELECT * FROM consent WHERE contactId IN (\($0))" }, in: contactIds, db) { row in
            let event = event(from: row)
            current[event.contactId, default: [:]][event.purpose] = event
        }
        return current
    }

    static func history(contactId: String, in db: any SQLSession) throws -> [ConsentEvent] {
        try SQLRow.fetchAll(
            db, sql: "SELECT * FROM consentEvent WHERE contactId = ? ORDER BY occurredAt, id", arguments: [contactId]
        ).map(event(from:))
    }

    static func event(from row: SQLRow) -> ConsentEvent {
        ConsentEvent(
            contactId: row["contactId"], purpose: Purpose(rawValue: row["purpose"]),
            state: ConsentState(rawValue: row["state"]) ?? .unknown,
            legalBasis: (row["legalBasis"] as String?).flatMap(LegalBasis.init(rawValue:)),
            explanation: row["explanation"], source: row["source"],
            occurredAt: Date(millisecondsSince1970: row["occurredAt"]),
            origin: ChangeOrigin(rawValue: row["origin"]) ?? .local)
    }
}

/// How a register edit ended.
public enum EditOutcome: String, Sendable, Equatable {
    case changed
    /// The store already said so; nothing was written.
    case unchanged
}

extension SyncStore {
    /// How many current consent states and suppressions are dated more than ``DecisionTime/futureTolerance`` after
    /// `now`: what a sync report names.
    public func futureDatedDecisions(now: Date) throws -> Int {
        let limit = now.addingTimeInterval(DecisionTime.futureTolerance).millisecondsSince1970
        return try database.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT COUNT(*) FROM consent WHERE occurredAt > ?)
                    + (SELECT COUNT(*) FROM suppression WHERE changedAt > ?)
                    """, arguments: [limit, limit]) ?? 0
        }
    }

    /// The current consent state per purpose of one contact.
    public func consents(contactId: String) throws -> [ConsentEvent] {
        try database.read { db in try ConsentLedger.current(contactId: contactId, in: db) }
    }

    /// Every consent decision recorded for one contact, oldest first: the proof of consent.
    public func consentHistory(contactId: String) throws -> [ConsentEvent] {
        try database.read { db in try ConsentLedger.history(contactId: contactId, in: db) }
    }

    /// Records a consent decision made now for the contact with `email` (the register's own edit).
    ///
    /// A grant while the contact has opted out of all marketing is refused unless `liftingOptOut` is true:
    /// then the grant is the explicit re-consent that lifts the opt-out, and both are recorded together
    /// (the grant always, even over a purpose already granted, since it is the proof of the re-consent).
    /// Only the purpose named is granted again: the opt-out withdrew the others.
    public func recordConsent(
        email: EmailAddress, purpose: Purpose, state: ConsentState, source: String, legalBasis: LegalBasis? = nil,
        explanation: String? = nil, liftingOptOut: Bool = false, actor: String
    ) throws -> EditOutcome {
        let now = self.now
        return try write { db in
            guard let contact = try ContactRow.fetch(email: email, in: db) else {
                throw try Tombstones.isErased(subjectHash(of: email), in: db)
                    ? StoreError.subjectErased() : StoreError.subjectNotFound()
            }
            let current = try ConsentLedger.current(contactId: contact.id, purpose: purpose, in: db)
            // Dated after the decisions it follows, so that it applies even after the clock stepped back or
            // over a decision dated in the future (README, "Decisions made now").
            var followed = [current?.occurredAt]
            var isReConsent = false
            if state == .granted, try Suppressions.isActive(.optedOutOfAll, contactId: contact.id, in: db) {
                guard liftingOptOut else {
                    throw StoreError.invalidValue(
                        "the contact has opted out of all marketing; a grant needs --lift-opt-out to record it as the re-consent that lifts the opt-out"
                    )
                }
                followed += try Suppressions.all(contactId: contact.id, in: db).map(\.changedAt)
                let at = DecisionTime.stamp(now: now, following: followed)
                try Suppressions.set(
                    .optedOutOfAll, active: false, contactId: contact.id, reason: "re-consent: \(source)",
                    origin: .local,
                    at: at, actor: actor, in: db)
                isReConsent = true
            }
            if !isReConsent && current?.state == state && current?.source == source { return .unchanged }
            let event = ConsentEvent(
                contactId: contact.id, purpose: purpose, state: state, legalBasis: legalBasis, explanation: explanation,
                source: source, occurredAt: DecisionTime.stamp(now: now, following: followed), origin: .local)
            return try ConsentLedger.record(event, actor: actor, recordedAt: now, in: db) ? .changed : .unchanged
        }
    }
}
