import Foundation
import SyncModel

/// Everything the store holds about one subject: the answer to a request of access or portability.
public struct SubjectExport: Sendable, Codable, Equatable {
    public struct ContactData: Sendable, Codable, Equatable {
        public var id: String
        public var crmId: String?
        /// Field name → value, for every field that has one.
        public var fields: [String: String]
        /// Field name → when and by which side it was last modified.
        public var fieldStamps: [String: FieldStamp]
        public var createdAt: Date
        public var updatedAt: Date
    }

    public var exportedAt: Date
    public var contact: ContactData
    /// Current state per purpose.
    public var consents: [ConsentEvent]
    /// Every consent decision ever recorded, oldest first.
    public var consentHistory: [ConsentEvent]
    public var suppressions: [Suppression]
    public var auditLog: [AuditEntry]
    /// CRM changes about this subject not yet confirmed by the CRM.
    public var pendingCRMChanges: Int

    /// Pretty JSON with ISO 8601 times, the form `crmsync export` writes.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(
                date.formatted(
                    .iso8601.year().month().day().time(includingFractionalSeconds: true)
                        .timeZone(separator: .omitted)))
        }
        return try encoder.encode(self)
    }
}

extension SyncStore {
    /// The contact with `email`, or nil.
    public func contact(email: EmailAddress) throws -> Contact? {
        try database.read { db in try ContactRow.fetch(email: email, in: db) }
    }

    /// The local contact holding each of `emails`, by normalized address: address → contact id (absent: none).
    public func contactIds(holding emails: [EmailAddress]) throws -> [String: String] {
        let addresses = Array(Set(emails.map(\.normalized)))
        return try database.read { db in
            var holders: [String: String] = [:]
            try Self.forEachRow({ "SELECT email, id FROM contact WHERE email IN (\($0))" }, in: addresses, db) {
                holders[$0["email"]] = $0["id"]
            }
            return holders
        }
    }

    /// The contact with local id `id`, or nil.
    public func contact(id: String) throws -> Contact? {
        try database.read { db in try ContactRow.fetch(id: id, in: db) }
    }

    public func contactCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact") ?? 0 }
    }

    /// Everything held about the subject with `email`; throws ``StoreError/subjectNotFound()`` when there is
    /// none, ``StoreError/subjectErased()`` when the subject was erased.
    public func export(email: EmailAddress) throws -> SubjectExport {
        let now = self.now
        return try database.read { db in
            guard let contact = try ContactRow.fetch(email: email, in: db) else {
                throw try Tombstones.isErased(subjectHash(of: email), in: db)
                    ? StoreError.subjectErased() : StoreError.subjectNotFound()
            }
            var fields: [String: String] = [:]
            for field in ContactField.allCases { if let value = contact[field] { fields[field.rawValue] = value } }
            let stamps = Dictionary(uniqueKeysWithValues: contact.stamps.map { ($0.key.rawValue, $0.value) })
            let pending =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM outbox WHERE contactId = ? AND state != 'done'",
                    arguments: [contact.id]
                ) ?? 0
            return SubjectExport(
                exportedAt: now,
                contact: .init(
                    id: contact.id, crmId: contact.crmId, fields: fields, fieldStamps: stamps,
                    createdAt: contact.createdAt, updatedAt: contact.updatedAt),
                consents: try ConsentLedger.current(contactId: contact.id, in: db),
                consentHistory: try ConsentLedger.history(contactId: contact.id, in: db),
                suppressions: try Suppressions.all(contactId: contact.id, in: db),
                auditLog: try AuditLog.entries(contactId: contact.id, in: db),
                pendingCRMChanges: pending)
        }
    }
}
