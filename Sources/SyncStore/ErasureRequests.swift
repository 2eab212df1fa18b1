import Foundation
import SubjectPolicy
import SyncCore
import SyncModel

/// What an erasure's outbox entry (one per subject) carries to the CRM. v3 entries hold `email`, `crmId`
/// ("" for none) and `requestId` only; the requests of the subject are found by its hash now.
struct ErasurePayload: Codable {
    var email: String
    var requestId: String?
    var crmId: String?
    var crmIds: [String]?
    var deletesByEmail: Bool?
    /// Another person's objections the deletes take, until they are written back.
    var heldObjections: HeldObjections?

    var allCRMIds: [String] {
        var ids = crmIds ?? []
        if let crmId, !crmId.isEmpty, !ids.contains(crmId) { ids.append(crmId) }
        return ids
    }

    mutating func add(crmIds more: [String]) {
        var ids = allCRMIds
        for id in more where !ids.contains(id) { ids.append(id) }
        crmIds = ids
        crmId = nil
    }

    static func decode(_ data: Data) -> ErasurePayload? { try? JSONDecoder().decode(ErasurePayload.self, from: data) }
    func encoded() throws -> Data { try JSONEncoder().encode(self) }
}

extension SyncStore {
    static let erasureOutboxKind = "erasure"

    /// Step 1, durable before anything else: the request and the outbox entry that carries the address and
    /// the CRM ids the subject is linked to (its record and, after a merge, the survivor) to the CRM.
    /// Re-recording the same request id for the same subject changes nothing; for another subject it is refused.
    public func recordErasureRequest(email: EmailAddress, requestId: String, reason: String?) throws -> ErasureRequest {
        let hash = subjectHash(of: email)
        let now = self.now
        let deadline =
            Calendar(identifier: .gregorian).date(byAdding: .month, value: 1, to: now)
            ?? now.addingTimeInterval(30 * 86_400)
        return try write { db in
            if let existing = try Self.erasureRequest(id: requestId, in: db) {
                guard existing.subjectHash == hash else {
                    throw StoreError.invalidValue("request id \(requestId) already names another subject's erasure")
                }
                return existing
            }
            let dedupeKey = "erase:\(hash)"
            let linked = try linkedCRMIds(email: email, in: db)
            let unfinished = try Data.fetchOne(
                db, sql: "SELECT payload FROM outbox WHERE dedupeKey = ?", arguments: [dedupeKey]
            ).flatMap(ErasurePayload.decode)
            var payload = unfinished ?? ErasurePayload(email: email.normalized)
            // A second request for the subject joins the unfinished one; after a finished one, the CRM is
            // checked again (and a record found there deleted by id), without a delete by email.
            let earlier = try Self.latestRequest(subjectHash: hash, in: db)
            let note: String? =
                if let earlier, unfinished != nil {
                    "same subject as request \(earlier.id): carried out together"
                } else if let earlier, earlier.state == .verified {
                    "subject already erased by request \(earlier.id): the CRM is checked again"
                } else {
                    nil
                }
            if payload.deletesByEmail == nil {
                let erasedBefore = try Tombstones.isErased(hash, in: db)
                payload.deletesByEmail = linked.isEmpty && payload.allCRMIds.isEmpty && !erasedBefore
            }
            if !linked.isEmpty { payload.deletesByEmail = false }
            payload.add(crmIds: linked)
            try db.execute(
                sql: """
                    INSERT INTO erasureRequest (id, subjectHash, reason, receivedAt, deadline, state, note)
                    VALUES (?, ?, ?, ?, ?, 'received', ?)
                    """,
                arguments: [requestId, hash, reason, now.millisecondsSince1970, deadline.millisecondsSince1970, note])
            try db.execute(
                sql: """
                    INSERT INTO outbox (kind, contactId, dedupeKey, payload, state, attempts, createdAt)
                    VALUES (?, NULL, ?, ?, 'pending', 0, ?)
                    ON CONFLICT(dedupeKey) DO UPDATE SET payload = excluded.payload,
                    state = CASE outbox.state WHEN 'sending' THEN 'sending' ELSE 'pending' END
                    """,
                arguments: [Self.erasureOutboxKind, dedupeKey, try payload.encoded(), now.millisecondsSince1970])
            try AuditLog.append(
                action: "erasure.received", actor: "erasure", contactId: nil, detail: "request=\(requestId)", at: now,
                in: db)
            try journalCapture(db)
            return try Self.erasureRequest(id: requestId, in: db)!
        }
    }

    /// Step 2, one transaction: the contact, its consent evidence and suppressions go, its audit entries
    /// lose their link and detail, the tombstone is written, the request moves to `pending`.
    public func eraseLocally(requestId: String) throws {
        guard let pending = try pendingErasure(requestId: requestId),
            pending.requests.first(where: { $0.id == requestId })?.state == .received
        else { return }
        try eraseLocally(email: pending.email, requestId: requestId, actor: "erasure", crmIds: pending.crmIds)
        try updateErasure(requestId, state: .pending)
    }

    /// The unfinished erasure a request belongs to, or nil when it is finished.
    public func pendingErasure(requestId: String) throws -> PendingErasure? {
        try pendingErasures().first { $0.requests.contains { $0.id == requestId } }
    }

    /// Unfinished erasures (some request not verified), one per subject, with the address from the outbox.
    public func pendingErasures() throws -> [PendingErasure] {
        try database.read { db in
            var result: [PendingErasure] = []
            for row in try SQLRow.fetchAll(
                db, sql: "SELECT payload, dedupeKey FROM outbox WHERE kind = ? ORDER BY id",
                arguments: [Self.erasureOutboxKind])
            {
                guard let payload = ErasurePayload.decode(row[0]), let email = try? EmailAddress(payload.email)
                else { continue }
                let hash = String((row[1] as String).dropFirst("erase:".count))
                let requests = try SQLRow.fetchAll(
                    db,
                    sql:
                        "SELECT * FROM erasureRequest WHERE subjectHash = ? AND state != 'verified' ORDER BY receivedAt, id",
                    arguments: [hash]
                ).map(Self.erasureRequest(from:))
                guard let request = requests.first else { continue }
                let ids = payload.allCRMIds
                result.append(
                    PendingErasure(
                        request: request, requests: requests, email: email, crmIds: ids,
                        deletesByEmail: payload.deletesByEmail ?? ids.isEmpty))
            }
            return result
        }
    }

    /// Adds CRM records found to hold the subject (e.g. a record the CRM holds under the address but never
    /// linked) to its erasure: tombstoned by id at once, deleted and verified with the others. Other contacts linked
    /// to them, or to the ids merged into them (`mergedFrom`), are released (``releaseContacts(linkedTo:in:)``).
    public func addCRMRecords(
        _ crmIds: [String], mergedFrom: [String] = [], toErasureOf email: EmailAddress, requestId: String
    ) throws {
        guard !crmIds.isEmpty else { return }
        let dedupeKey = "erase:\(subjectHash(of: email))"
        let now = self.now
        try write { db in
            guard try Self.updateErasurePayload(dedupeKey: dedupeKey, in: db, { $0.add(crmIds: crmIds) }) else {
                return
            }
            for crmId in crmIds {
                try Tombstones.insert(crmIdHash: crmIdHash(of: crmId), erasedAt: now, requestId: requestId, in: db)
            }
            try Self.releaseContacts(linkedTo: Set(crmIds + mergedFrom), in: db)
            try journalCapture(db)
        }
    }

    /// Keeps `objections` (added to any already held) in the subject's unfinished erasure, before the GDPR delete
    /// that takes them; nothing when the erasure is finished.
    public func holdObjections(_ objections: HeldObjections, forErasureOf email: EmailAddress) throws {
        guard !objections.isEmpty else { return }
        try updateErasurePayload(of: email) { payload in
            payload.heldObjections = (payload.heldObjections ?? HeldObjections()).adding(objections)
        }
    }

    /// The objections the subject's unfinished erasure still has to write back, or nil.
    public func heldObjections(ofErasureOf email: EmailAddress) throws -> HeldObjections? {
        try readBeforeCRMWrite { db in
            try Data.fetchOne(
                db, sql: "SELECT payload FROM outbox WHERE dedupeKey = ?",
                arguments: ["erase:\(subjectHash(of: email))"]
            ).flatMap(ErasurePayload.decode)?.heldObjections
        }
    }

    /// Forgets the held objections once they are written back.
    public func releaseHeldObjections(ofErasureOf email: EmailAddress) throws {
        try updateErasurePayload(of: email) { $0.heldObjections = nil }
    }

    /// Drops the erased addresses (by keyed hash) from every unfinished erasure's held objections: the subject's
    /// address is kept nowhere in the store once erased, and nothing is written back under it.
    func forgetHeldObjections(of erased: Set<String>, in db: any SQLSession) throws {
        for row in try SQLRow.fetchAll(
            db, sql: "SELECT dedupeKey, payload FROM outbox WHERE kind = ?", arguments: [Self.erasureOutboxKind])
        {
            guard var payload = ErasurePayload.decode(row[1]), var held = payload.heldObjections else { continue }
            func isErased(_ address: String) -> Bool {
                (try? EmailAddress(address)).map { erased.contains(subjectHash(of: $0)) } ?? false
            }
            let before = held
            held.withdrawals.removeAll { isErased($0.email) }
            held.optedOut.removeAll(where: isErased)
            guard held != before else { continue }
            payload.heldObjections = held.isEmpty ? nil : held
            try db.execute(
                sql: "UPDATE outbox SET payload = ? WHERE dedupeKey = ?",
                arguments: [try payload.encoded(), row[0] as String])
        }
    }

    private func updateErasurePayload(of email: EmailAddress, _ change: (inout ErasurePayload) -> Void) throws {
        let dedupeKey = "erase:\(subjectHash(of: email))"
        try write { db in _ = try Self.updateErasurePayload(dedupeKey: dedupeKey, in: db, change) }
    }

    /// Changes the payload of the unfinished erasure `dedupeKey` names; false when there is none.
    private static func updateErasurePayload(
        dedupeKey: String, in db: any SQLSession, _ change: (inout ErasurePayload) -> Void
    ) throws -> Bool {
        guard
            var payload = try Data.fetchOne(
                db, sql: "SELECT payload FROM outbox WHERE dedupeKey = ?", arguments: [dedupeKey]
            ).flatMap(ErasurePayload.decode)
        else { return false }
        change(&payload)
        try db.execute(
            sql: "UPDATE outbox SET payload = ? WHERE dedupeKey = ?", arguments: [try payload.encoded(), dedupeKey])
        return true
    }

    /// How long a claim on sending a subject's GDPR deletes holds when its holder never lets go of it (a
    /// process killed while it sent them); the next claimer then checks the CRM before sending anything.
    public static let erasureClaimDuration: TimeInterval = 15 * 60

    /// Claims sending the GDPR deletes of a subject's unfinished erasure, in one transaction (the outbox entry
    /// moves to `sending`), so that a sync and an `erase` running at once never both send them: at most one
    /// delete per request. Released with ``releaseErasureClaim(of:)``, or by ``updateErasures(_:state:error:)``
    /// moving the requests to `sent` or `verified`.
    public func claimErasureDeletes(of email: EmailAddress) throws -> ErasureClaim {
        let hash = subjectHash(of: email)
        let now = self.now.millisecondsSince1970
        return try write { db in
            guard
                let row = try SQLRow.fetchOne(
                    db, sql: "SELECT state, claimExpiresAt FROM outbox WHERE dedupeKey = ?",
                    arguments: ["erase:\(hash)"]
                )
            else { return .alreadySent }
            let sent = try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM erasureRequest
                    WHERE subjectHash = ? AND state != 'verified' AND sentAt IS NOT NULL)
                    """,
                arguments: [hash])
            if sent == true { return .alreadySent }
            let claimed = (row["state"] as String) == "sending"
            if claimed && ((row["claimExpiresAt"] as Int64?) ?? 0) > now { return .heldByAnother }
            try db.execute(
                sql: "UPDATE outbox SET state = 'sending', claimExpiresAt = ? WHERE dedupeKey = ?",
                arguments: [now + Int64(Self.erasureClaimDuration * 1000), "erase:\(hash)"])
            return claimed ? .takenOver : .claimed
        }
    }

    /// Lets go of a claim taken with ``claimErasureDeletes(of:)``.
    public func releaseErasureClaim(of email: EmailAddress) throws {
        // Not fenced: letting go of a claim only lets another sender on, and a run whose lease was taken over must
        // not leave its claim to lapse (the new holder would wait for it).
        try database.write { db in
            try db.execute(
                sql: "UPDATE outbox SET state = 'pending' WHERE dedupeKey = ? AND state = 'sending'",
                arguments: ["erase:\(subjectHash(of: email))"])
        }
    }

    /// Moves a request on; `verified` also removes the outbox entry (and with it the last copy of the address)
    /// and checkpoints the write-ahead log so no copy lingers there.
    public func updateErasure(_ requestId: String, state: ErasureState, error: String? = nil) throws {
        try updateErasures([requestId], state: state, error: error)
    }

    /// Moves requests on together, in one transaction (the requests of one subject: `verified` removes the
    /// subject's outbox entry, so none may be left behind).
    public func updateErasures(_ requestIds: [String], state: ErasureState, error: String? = nil) throws {
        let now = self.now.millisecondsSince1970
        try write { db in
            for requestId in requestIds { try updateErasure(requestId, state: state, error: error, now: now, in: db) }
        }
        if state == .verified {
            try database.purgeDeletedRows()
        }
    }

    private func updateErasure(
        _ requestId: String, state: ErasureState, error: String?, now: Int64, in db: any SQLSession
    )
        throws
    {
        guard let request = try Self.erasureRequest(id: requestId, in: db) else { return }
        switch state {
        case .sent:
            try db.execute(
                sql:
                    "UPDATE erasureRequest SET state = 'sent', sentAt = ?, attempts = attempts + 1, lastError = NULL WHERE id = ?",
                arguments: [now, requestId])
            try db.execute(
                sql: "UPDATE outbox SET state = 'pending' WHERE dedupeKey = ? AND state = 'sending'",
                arguments: ["erase:\(request.subjectHash)"])
        case .verified:
            // A sync and an `erase` may both verify the same request: it is verified once.
            guard request.state != .verified else { return }
            try db.execute(
                sql: "UPDATE erasureRequest SET state = 'verified', verifiedAt = ?, lastError = NULL WHERE id = ?",
                arguments: [now, requestId])
            // Another request for the subject may have joined while this one was carried through (edit commands
            // never wait for a sync): its entry stays, marked sent, so it is verified (not deleted again) and ends
            // verified too. The entry goes with the last request.
            try db.execute(
                sql: """
                    UPDATE erasureRequest SET state = 'sent', sentAt = COALESCE(sentAt, ?)
                    WHERE subjectHash = ? AND state != 'verified' AND id != ?
                    """,
                arguments: [now, request.subjectHash, requestId])
            let others =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM erasureRequest WHERE subjectHash = ? AND state != 'verified'",
                    arguments: [request.subjectHash]) ?? 0
            if others == 0 {
                try db.execute(
                    sql: "DELETE FROM outbox WHERE dedupeKey = ?", arguments: ["erase:\(request.subjectHash)"])
            }
            try AuditLog.append(
                action: "erasure.verified", actor: "erasure", contactId: nil, detail: "request=\(requestId)",
                at: Date(millisecondsSince1970: now), in: db)
        case .failed:
            try db.execute(
                sql:
                    "UPDATE erasureRequest SET state = 'failed', attempts = attempts + 1, lastError = ? WHERE id = ?",
                arguments: [error, requestId])
        case .pending, .received:
            try db.execute(
                sql: "UPDATE erasureRequest SET state = ? WHERE id = ?", arguments: [state.rawValue, requestId])
        }
    }

    /// One request by id, or nil.
    public func erasureRequest(id: String) throws -> ErasureRequest? {
        try database.read { db in try Self.erasureRequest(id: id, in: db) }
    }

    /// Every request, newest first.
    public func erasureRequests() throws -> [ErasureRequest] {
        try database.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM erasureRequest ORDER BY receivedAt DESC").map(
                Self.erasureRequest(from:))
        }
    }

    static func erasureRequest(id: String, in db: any SQLSession) throws -> ErasureRequest? {
        try SQLRow.fetchOne(db, sql: "SELECT * FROM erasureRequest WHERE id = ?", arguments: [id]).map(
            erasureRequest(from:))
    }

    static func latestRequest(subjectHash: String, in db: any SQLSession) throws -> ErasureRequest? {
        try SQLRow.fetchOne(
            db, sql: "SELECT * FROM erasureRequest WHERE subjectHash = ? ORDER BY receivedAt DESC LIMIT 1",
            arguments: [subjectHash]
        ).map(erasureRequest(from:))
    }

    static func erasureRequest(from row: SQLRow) -> ErasureRequest {
        ErasureRequest(
            id: row["id"], subjectHash: row["subjectHash"], reason: row["reason"],
            receivedAt: Date(millisecondsSince1970: row["receivedAt"]),
            deadline: Date(millisecondsSince1970: row["deadline"]),
            state: ErasureState(rawValue: row["state"]) ?? .failed,
            sentAt: (row["sentAt"] as Int64?).map(Date.init(millisecondsSince1970:)),
            verifiedAt: (row["verifiedAt"] as Int64?).map(Date.init(millisecondsSince1970:)), attempts: row["attempts"],
            lastError: row["lastError"], note: row["note"])
    }

    /// Marketing-only contacts with no activity since `cutoff`: candidates of the retention sweep.
    /// Marketing-only: no customer relationship (lifecycle stage empty, subscriber, lead, marketing-qualified or other).
    /// No activity: the contact's last activity (its last write in the register, from an edit, an import or a
    /// sync, or the `lastActivityAt` an import row gave) and every consent decision it has (when it was made)
    /// are older than `cutoff`. A contact whose processing is restricted is never a candidate: restriction is what
    /// a subject asks for instead of erasure (GDPR art. 18), so retention holds it (``retentionHeld(inactiveSince:)``).
    public func retentionCandidates(inactiveSince cutoff: Date) throws -> [EmailAddress] {
        try retentionDue(inactiveSince: cutoff, restricted: false)
    }

    /// The contacts retention would erase but for their restriction of processing: held, and listed by the report.
    public func retentionHeld(inactiveSince cutoff: Date) throws -> [EmailAddress] {
        try retentionDue(inactiveSince: cutoff, restricted: true)
    }

    private func retentionDue(inactiveSince cutoff: Date, restricted: Bool) throws -> [EmailAddress] {
        try database.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT c.email FROM contact c
                    WHERE (c.lifecycleStage IS NULL OR c.lifecycleStage IN (\(Self.marketingOnlyStagesSQL)))
                    AND COALESCE(c.lastActivityAt, c.updatedAt) < ?
                    AND NOT EXISTS (SELECT 1 FROM consentEvent e WHERE e.contactId = c.id AND e.occurredAt >= ?)
                    AND \(restricted ? "" : "NOT ") EXISTS (
                        SELECT 1 FROM suppression s
                        WHERE s.contactId = c.id AND s.kind = 'processingRestricted' AND s.isActive = 1)
                    ORDER BY c.email
                    """,
                arguments: [cutoff.millisecondsSince1970, cutoff.millisecondsSince1970]
            ).compactMap { try? EmailAddress($0) }
        }
    }

    /// Whether the contact holding `email` has its processing restricted now.
    public func isProcessingRestricted(_ email: EmailAddress) throws -> Bool {
        try database.read { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM contact c JOIN suppression s ON s.contactId = c.id
                    WHERE c.email = ? AND s.kind = 'processingRestricted' AND s.isActive = 1)
                    """, arguments: [email.normalized]) ?? false
        }
    }

    /// The lifecycle stages of a marketing-only contact (no customer relationship), as SQL literals.
    private static let marketingOnlyStagesSQL = MarketingOnly.lifecycleStages.sorted().map { "'\($0)'" }.joined(
        separator: ", ")

    /// Records that the CRM shows the subject active at `at` (a change there the register has not synced yet, or a
    /// customer relationship): the contact's last activity moves to `at` (never back), so retention keeps it.
    public func recordCRMActivity(email: EmailAddress, at: Date, reason: String) throws {
        try write { db in
            guard
                let id = try String.fetchOne(
                    db, sql: "SELECT id FROM contact WHERE email = ?", arguments: [email.normalized])
            else { return }
            try db.execute(
                sql: "UPDATE contact SET lastActivityAt = ? WHERE id = ? AND COALESCE(lastActivityAt, 0) < ?",
                arguments: [at.millisecondsSince1970, id, at.millisecondsSince1970])
            try AuditLog.append(
                action: "retention.kept", actor: "retention", contactId: id, detail: reason, at: now, in: db)
        }
    }
}

extension SyncStore {
    /// Entries in the outbox: erasures whose CRM deletes are not verified yet (each holds the subject's address
    /// and CRM ids until then). Pushes need none: a contact stays dirty until the CRM confirmed its write.
    public func outboxCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0 }
    }
}
