import Foundation
import GRDB
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

@Test func migrationsRunFromAnEmptyFileAndAgainOnReopen() throws {
    let fixture = try StoreFixture()
    #expect(try fixture.store.isUpToDate())
    let applied = try fixture.store.appliedMigrations()
    #expect(applied.count == 13)
    let reopened = try fixture.reopen()
    #expect(try reopened.appliedMigrations() == applied)
    let tables = try reopened.database.read { db in
        try String.fetchAll(
            db,
            sql:
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%' ORDER BY name"
        )
    }
    #expect(
        tables == [
            "auditLog", "checkpoint", "consent", "consentEvent", "contact", "crmTombstone", "erasureRequest",
            "formerAddress", "lease", "leaseEpoch", "metadata", "outbox", "quarantine",
            "run", "suppression",
            "syncBase", "tombstone",
        ])
}

@Test func subjectHashIsKeyedPerStoreAndStableAcrossReopen() throws {
    let first = try StoreFixture()
    let second = try StoreFixture()
    let address = email("aino@example.fi")
    let hash = first.store.subjectHash(of: address)
    #expect(hash.count == 64)
    #expect(try first.reopen().subjectHash(of: address) == hash)
    #expect(second.store.subjectHash(of: address) != hash)
}

@Test func unopenableStoreIsAClearError() {
    #expect(throws: StoreError.self) { try SyncStore(path: "/proc/no-such-dir/crmsync.sqlite") }
}

@Test func everyFieldRoundTrips() throws {
    let fixture = try StoreFixture()
    let created = Date(millisecondsSince1970: 1_748_859_072_345)
    var contact = Contact(crmId: "12345678901", email: email("aino@example.fi"), createdAt: created)
    let values: [ContactField: String] = [
        .firstName: "Aino", .lastName: "Laine", .phone: "+358 40 123 4567", .mobile: "+358 50 765 4321",
        .streetAddress: "Ylämyllyntie 79 E", .city: "Ylämylly", .postalCode: "80400", .country: "Finland",
        .jobTitle: "CTO", .company: "Coctio Ltd", .industry: "Automation", .revenueBand: "1-10M",
        .companySize: "11-50", .lifecycleStage: "customer", .source: "web form",
    ]
    for (offset, field) in ContactField.allCases.enumerated() where field != .email {
        let origin: ChangeOrigin = offset.isMultiple(of: 2) ? .crm : .local
        try contact.set(
            field, to: values[field], stamp: FieldStamp(at: created.addingTimeInterval(Double(offset)), origin: origin))
    }
    try fixture.store.saveContact(contact, actor: "test")
    let loaded = try #require(try fixture.reopen().contact(email: email("AINO@example.fi")))
    #expect(loaded == contact)
    for field in ContactField.allCases where field != .email { #expect(loaded[field] == values[field]) }
    #expect(loaded.stamps.count == ContactField.allCases.count)
    #expect(try fixture.store.contact(id: contact.id) == contact)
}

@Test func theErasureNotesMigrationFinishesRequestsALaterRequestForTheSameSubjectOrphaned() throws {
    let queue = try DatabaseQueue()
    try Schema.migrator.migrate(queue, upTo: "v6: CRM id tombstones")
    try queue.write { db in
        // Subject a: r1 was taken over by r2 (one outbox entry per subject) and r2 was verified. Subject b: still
        // under way, its outbox entry is there.
        for (id, subject, state, receivedAt, verifiedAt) in [
            ("r1", "a", "failed", 1, nil), ("r2", "a", "verified", 2, 3 as Int?), ("r3", "b", "failed", 4, nil),
        ] {
            try db.execute(
                sql: """
                    INSERT INTO erasureRequest (id, subjectHash, receivedAt, deadline, state, verifiedAt)
                    VALUES (?, ?, ?, 99, ?, ?)
                    """,
                arguments: [id, subject, receivedAt, state, verifiedAt])
        }
        try db.execute(
            sql: """
                INSERT INTO outbox (kind, dedupeKey, payload, createdAt, nextAttemptAt)
                VALUES ('erasure', 'erase:b', x'7B7D', 0, 0)
                """)
    }
    try Schema.migrator.migrate(queue)
    let rows = try queue.read { db in
        try Row.fetchAll(db, sql: "SELECT id, state, verifiedAt, note FROM erasureRequest ORDER BY id").map {
            "\($0["id"] as String) \($0["state"] as String) \(($0["verifiedAt"] as Int?).map(String.init) ?? "-")"
                + " \(($0["note"] as String?) ?? "-")"
        }
    }
    #expect(
        rows == [
            "r1 verified 3 verified with a later request for the same subject", "r2 verified 3 -", "r3 failed - -",
        ])
}

@Test func theOutboxMigrationKeepsEveryEntryAndDropsOnlyNextAttemptAt() throws {
    let queue = try DatabaseQueue()
    try Schema.migrator.migrate(queue, upTo: "v9: former addresses")
    try queue.write { db in
        try db.execute(
            sql: """
                INSERT INTO outbox (kind, contactId, dedupeKey, payload, state, attempts, createdAt, nextAttemptAt,
                    lastError)
                VALUES ('push', 'c1', 'push:c1', x'7B7D', 'pending', 2, 5, 6, 'HTTP 503'),
                    ('erasure', NULL, 'erase:b', x'7B7E', 'pending', 0, 7, 7, NULL)
                """)
    }
    try Schema.migrator.migrate(queue, upTo: "v10: outbox without nextAttemptAt")
    try queue.read { db in
        let columns = try db.columns(in: "outbox").map(\.name)
        #expect(
            columns == [
                "id", "kind", "contactId", "dedupeKey", "payload", "state", "attempts", "createdAt", "lastError",
            ])
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY id")
        #expect(rows.map { $0["dedupeKey"] as String } == ["push:c1", "erase:b"])
        #expect(rows.map { $0["id"] as Int64 } == [1, 2])
        #expect(rows[0]["payload"] as Data == Data("{}".utf8))
        #expect(rows[0]["attempts"] as Int == 2 && rows[0]["lastError"] as String? == "HTTP 503")
        #expect(try db.indexes(on: "outbox").contains { $0.columns == ["contactId"] })
        #expect(try db.indexes(on: "outbox").contains { $0.columns == ["dedupeKey"] && $0.isUnique })
    }
}

@Test func pushEntriesLeaveTheOutboxAndErasuresStay() throws {
    let queue = try DatabaseQueue()
    try Schema.migrator.migrate(queue, upTo: "v11: a claim on sending an erasure's GDPR deletes")
    try queue.write { db in
        try db.execute(
            sql: """
                INSERT INTO outbox (kind, contactId, dedupeKey, payload, state, attempts, createdAt)
                VALUES ('contact.push', 'c1', 'push:c1', x'7B7D', 'pending', 0, 5),
                    ('erasure', NULL, 'erase:b', x'7B7E', 'pending', 0, 7)
                """)
    }
    try Schema.migrator.migrate(queue)
    let keys = try queue.read { db in try String.fetchAll(db, sql: "SELECT dedupeKey FROM outbox") }
    #expect(keys == ["erase:b"])
}
