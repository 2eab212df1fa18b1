import Foundation
import SubjectPolicy
import SyncModel

/// Opt-out of all marketing and restriction of processing, one row per contact and kind; every change
/// is also written to the audit log with its reason.
///
/// An opt-out of all marketing withdraws every purpose (recorded as withdrawals with the source
/// ``optOutSource``, for the standard purposes and any other the contact has a state for), as HubSpot's
/// unsubscribe-all does: it is a decision newer than any before it, and lifting it later grants only the
/// purposes re-consented. A restriction of processing changes no consent.
enum Suppressions {
    /// The source of the withdrawals an opt-out of all marketing records.
    static let optOutSource = "opt-out of all marketing"

    @discardableResult
    static func set(
        _ kind: SuppressionKind, active: Bool, contactId: String, reason: String?, origin: ChangeOrigin, at: Date,
        actor: String, in db: any SQLSession, bumpsVersion: Bool = true, recordedAt: Date? = nil,
        cache: LedgerCache? = nil
    ) throws -> Bool {
        // A sync batch's cache answers for the contacts it covers; otherwise the database does.
        let cache = cache?.covering(contactId)
        let stored: Suppression? =
            if let cache {
                cache.suppression(kind, contactId: contactId)
            } else {
                try all(contactId: contactId, in: db).first { $0.kind == kind }
            }
        if (stored?.isActive ?? false) == active {
            return false
        }
        if !active && stored == nil {
            return false
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO suppression (contactId, kind, isActive, reason, changedAt, origin)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (contactId, kind) DO UPDATE SET isActive = excluded.isActive, reason = excluded.reason,
                    changedAt = excluded.changedAt, origin = excluded.origin
                """
        ).execute(arguments: [contactId, kind.rawValue, active, reason, at.millisecondsSince1970, origin.rawValue])
        cache?.set(
            Suppression(
                contactId: contactId, kind: kind, isActive: active, reason: reason, changedAt: at, origin: origin))
        if bumpsVersion && origin == .local { try SyncVersion.bump(contactId, in: db) }
        try AuditLog.append(
            action: "suppression.\(kind.rawValue).\(active ? "set" : "lifted")", actor: actor, contactId: contactId,
            detail: "origin=\(origin.rawValue)", at: at, in: db)
        if kind == .optedOutOfAll && active {
            let currents = Dictionary(
                try (cache?.current(contactId: contactId) ?? ConsentLedger.current(contactId: contactId, in: db)).map {
                    ($0.purpose, $0)
                }, uniquingKeysWith: { a, _ in a })
            for purpose in Set(Purpose.standard).union(currents.keys).sorted() {
                let current = currents[purpose]
                // Already withdrawn at (or after) the opt-out: nothing to add.
                if let current, current.state == .withdrawn && current.occurredAt >= at { continue }
                // Never older than the grant it ends, so it always supersedes it (on a tie, withdrawn wins).
                let withdrawal = ConsentEvent(
                    contactId: contactId, purpose: purpose, state: .withdrawn, legalBasis: current?.legalBasis,
                    source: optOutSource, occurredAt: max(at, current?.occurredAt ?? at), origin: origin)
                try ConsentLedger.record(
                    withdrawal, actor: actor, recordedAt: recordedAt ?? at, in: db, bumpsVersion: bumpsVersion,
                    cache: cache)
            }
        }
        return true
    }

    static func isActive(_ kind: SuppressionKind, contactId: String, in db: any SQLSession) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT isActive FROM suppression WHERE contactId = ? AND kind = ?"),
            arguments: [contactId, kind.rawValue]) ?? false
    }

    static func all(contactId: String, in db: any SQLSession) throws -> [Suppression] {
        try SQLRow.fetchAll(
            db, sql: "SELECT * FROM suppression WHERE contactId = ? ORDER BY kind", arguments: [contactId]
        )
        .map(suppression(from:))
    }

    /// The suppressions of many contacts, by contact and kind (one query per 500 contacts).
    static func all(contactIds: [String], in db: any SQLSession) throws -> [String: [SuppressionKind: Suppression]] {
        var all: [String: [SuppressionKind: Suppression]] = [:]
        try SyncStore.forEachRow({ "SELECT * FROM suppression WHERE contactId IN (\($0))" }, in: contactIds, db) {
            row in
            let suppression = suppression(from: row)
            all[suppression.contactId, default: [:]][suppression.kind] = suppression
        }
        return all
    }

    static func suppression(from row: SQLRow) -> Suppression {
        Suppression(
            contactId: row["contactId"], kind: SuppressionKind(rawValue: row["kind"]) ?? .optedOutOfAll,
            isActive: row["isActive"], reason: row["reason"], changedAt: Date(millisecondsSince1970: row["changedAt"]),
            origin: ChangeOrigin(rawValue: row["origin"]) ?? .local)
    }
}

extension SyncStore {
    /// The suppression flags of one contact, active or lifted.
    public func suppressions(contactId: String) throws -> [Suppression] {
        try database.read { db in try Suppressions.all(contactId: contactId, in: db) }
    }

    /// Sets or lifts a suppression for the contact with `email` (the register's own edit).
    ///
    /// An opt-out of all marketing cannot be lifted here: only an explicit re-consent lifts it
    /// (``recordConsent(email:purpose:state:source:legalBasis:explanation:liftingOptOut:actor:)``).
    public func setSuppression(
        _ kind: SuppressionKind, active: Bool, email: EmailAddress, reason: String?, actor: String
    ) throws -> EditOutcome {
        if kind == .optedOutOfAll && !active {
            throw StoreError.invalidValue(
                "an opt-out of all marketing is lifted only by an explicit re-consent (consent grant --lift-opt-out)")
        }
        let now = self.now
        return try write { db in
            guard let contact = try ContactRow.fetch(email: email, in: db) else {
                throw try Tombstones.isErased(subjectHash(of: email), in: db)
                    ? StoreError.subjectErased() : StoreError.subjectNotFound()
            }
            // Dated after the change it follows (a lift after its restriction, even after the clock stepped back).
            let previous = try Suppressions.all(contactId: contact.id, in: db).first { $0.kind == kind }?.changedAt
            let changed = try Suppressions.set(
                kind, active: active, contactId: contact.id, reason: reason, origin: .local,
                at: DecisionTime.stamp(now: now, following: [previous]), actor: actor, in: db)
            return changed ? .changed : .unchanged
        }
    }
}
