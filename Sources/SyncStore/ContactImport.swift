import Foundation
import SubjectPolicy
import SyncModel

/// What an import did.
public struct ImportSummary: Sendable, Equatable {
    public var created = 0
    public var updated = 0
    public var unchanged = 0
    public var consentEvents = 0
    /// Rows not imported, by line, including those the file reader rejected.
    public var rejections: [ImportRejection] = []
    /// False when nothing was written because of `allOrNothing`.
    public var committed = true

    public init() {}
}

extension SyncStore {
    /// Imports the valid rows of `batch` in one transaction (or, with `allOrNothing`, none when any row is bad).
    ///
    /// Idempotent: a row that matches the store changes nothing, not even a timestamp. An empty cell leaves
    /// the stored value alone. An erased subject's row is refused without saying more. A grant that would
    /// override a recorded withdrawal is refused unless the row's `consentedAt` is later than the withdrawal:
    /// an old file must never re-subscribe someone who withdrew. A row's `lastActivityAt` becomes the
    /// contact's last activity, so a migrated register is not taken for all-new by the retention sweep.
    public func importContacts(_ batch: ImportBatch, allOrNothing: Bool = false, actor: String = "import") throws
        -> ImportSummary
    {
        if allOrNothing && !batch.rejections.isEmpty {
            var summary = ImportSummary()
            summary.rejections = batch.rejections
            summary.committed = false
            return summary
        }
        return try importContacts(allOrNothing: allOrNothing, singleTransaction: true, actor: actor) { each in
            try each(batch)
        }
    }

    /// Imports a file read in batches (`read` hands each batch to the closure it is given, as
    /// ``ImportFileReader/read(chunks:format:batchSize:each:)`` does): one transaction per batch, so memory stays
    /// bounded whatever the file's size and a crash keeps the batches before it (re-importing the file finishes
    /// it: a row that matches the store changes nothing). With `allOrNothing`, every batch goes in one
    /// transaction, rolled back when any row of the file is rejected.
    public func importContacts(
        allOrNothing: Bool = false, actor: String = "import",
        read: (_ each: (ImportBatch) throws -> Void) throws -> Void
    ) throws -> ImportSummary {
        try importContacts(allOrNothing: allOrNothing, singleTransaction: allOrNothing, actor: actor, read: read)
    }

    private func importContacts(
        allOrNothing: Bool, singleTransaction: Bool, actor: String,
        read: (_ each: (ImportBatch) throws -> Void) throws -> Void
    ) throws -> ImportSummary {
        var summary = ImportSummary()
        let now = self.now
        func apply(_ batch: ImportBatch, in db: any SQLSession) throws {
            summary.rejections += batch.rejections
            // With allOrNothing, a file with a rejected row writes nothing: the rest is only validated.
            if allOrNothing && !summary.rejections.isEmpty { return }
            for record in batch.records {
                do {
                    try self.apply(record, now: now, actor: actor, summary: &summary, in: db)
                } catch let rejection as ImportRejection {
                    summary.rejections.append(rejection)
                }
            }
        }
        if singleTransaction {
            try database.transaction { db in
                try read { batch in try apply(batch, in: db) }
                if allOrNothing && !summary.rejections.isEmpty {
                    summary.committed = false
                    return .rollback
                }
                return .commit
            }
        } else {
            try read { batch in
                try database.transaction { db in
                    try apply(batch, in: db)
                    return .commit
                }
            }
        }
        if !summary.committed {
            summary.created = 0
            summary.updated = 0
            summary.unchanged = 0
            summary.consentEvents = 0
        }
        summary.rejections.sort { $0.line < $1.line }
        return summary
    }

    private func apply(
        _ record: ImportRecord, now: Date, actor: String, summary: inout ImportSummary, in db: any SQLSession
    ) throws {
        if try Tombstones.isErased(subjectHash(of: record.email), in: db) {
            throw ImportRejection(line: record.line, reason: "that subject has been erased; import refused")
        }
        if let problem = record.futureTimesProblem(at: now) {
            throw ImportRejection(line: record.line, reason: problem)
        }
        let stamp = FieldStamp(at: now, origin: .local)
        let existing = try ContactRow.fetch(email: record.email, in: db)
        let activityBefore = try existing.flatMap { try ContactRow.lastActivity(id: $0.id, in: db) }
        var contact = existing ?? Contact(email: record.email, createdAt: now)
        var changedFields: [ContactField] = []
        for field in ContactField.allCases where field != .email {
            guard let value = record.fields[field] else { continue }
            if try contact.set(field, to: value, stamp: stamp) { changedFields.append(field) }
        }
        if existing == nil && contact.source == nil {
            try contact.set(.source, to: ContactSource.import.rawValue, stamp: stamp)
        }

        // Check consents before writing anything for this row, so a refused row leaves no trace.
        let occurredAt = record.consentedAt ?? now
        // Only `consent grant --lift-opt-out` lifts an opt-out: a file's grant for an opted-out contact is void.
        let isOptedOut =
            try record.optedOutOfAll
            || existing != nil && Suppressions.isActive(.optedOutOfAll, contactId: contact.id, in: db)
        var events: [ConsentEvent] = []
        for (purpose, state) in record.consents.sorted(by: { $0.key < $1.key }) {
            // `unknown` is never a decision: it neither records nor overrides anything.
            if state == .unknown || state == .granted && isOptedOut { continue }
            let current =
                existing == nil ? nil : try ConsentLedger.current(contactId: contact.id, purpose: purpose, in: db)
            if current?.state == state { continue }
            if let current, state == .granted, current.state == .withdrawn,
                record.consentedAt == nil || current.occurredAt >= occurredAt
            {
                throw ImportRejection(
                    line: record.line,
                    reason:
                        "\(purpose) is withdrawn in the store; a grant over it needs a consentedAt later than the withdrawal"
                )
            }
            events.append(
                ConsentEvent(
                    contactId: contact.id, purpose: purpose, state: state, legalBasis: record.legalBasis,
                    source: record.consentSource, occurredAt: occurredAt, origin: .local))
        }

        if existing == nil {
            try ContactRow.insert(contact, in: db)
            try AuditLog.append(action: "contact.created", actor: actor, contactId: contact.id, at: now, in: db)
            summary.created += 1
        } else if !changedFields.isEmpty {
            try ContactRow.update(contact, in: db)
            try SyncVersion.bump(contact.id, in: db)
            try AuditLog.append(
                action: "contact.updated", actor: actor, contactId: contact.id,
                detail: "fields=" + changedFields.map(\.rawValue).joined(separator: ","), at: now, in: db)
            summary.updated += 1
        }
        var consentChanged = false
        for event in events where try ConsentLedger.record(event, actor: actor, recordedAt: now, in: db) {
            summary.consentEvents += 1
            consentChanged = true
        }
        if let given = record.lastActivityAt?.millisecondsSince1970 {
            // The file says when the subject was last active: that, not this import, is the activity (an older
            // file never moves it back).
            try db.execute(
                sql: "UPDATE contact SET lastActivityAt = ? WHERE id = ?",
                arguments: [max(activityBefore ?? given, given), contact.id])
        }
        var suppressionChanged = false
        if record.optedOutOfAll {
            suppressionChanged = try Suppressions.set(
                .optedOutOfAll, active: true, contactId: contact.id, reason: "import: \(record.consentSource)",
                origin: .local, at: now, actor: actor, in: db)
        }
        if existing != nil && changedFields.isEmpty {
            if consentChanged || suppressionChanged { summary.updated += 1 } else { summary.unchanged += 1 }
        }
    }
}

extension ImportRejection: Error {}
