import GRDB

/// The store's schema, one versioned migration per change. A migration, once released, is never edited.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: register, consent, suppression, tombstones, outbox, checkpoints, runs, audit") {
            db in
            try db.create(table: "metadata") { t in
                t.primaryKey("key", .text)
                t.column("value", .blob).notNull()
            }
            try db.create(table: "contact") { t in
                t.primaryKey("id", .text)
                t.column("crmId", .text).unique()
                t.column("email", .text).notNull().unique()
                t.column("firstName", .text)
                t.column("lastName", .text)
                t.column("phone", .text)
                t.column("mobile", .text)
                t.column("streetAddress", .text)
                t.column("city", .text)
                t.column("postalCode", .text)
                t.column("country", .text)
                t.column("jobTitle", .text)
                t.column("company", .text)
                t.column("industry", .text)
                t.column("revenueBand", .text)
                t.column("companySize", .text)
                t.column("lifecycleStage", .text)
                t.column("source", .text)
                t.column("createdAt", .integer).notNull()
                t.column("updatedAt", .integer).notNull()
                // Per-field modification stamps: `field=origin@epochMillis;...` (see ContactRow.encodeStamps).
                t.column("fieldStamps", .text).notNull()
            }
            try db.create(table: "consent") { t in
                t.column("contactId", .text).notNull().references("contact", onDelete: .cascade)
                t.column("purpose", .text).notNull()
                t.column("state", .text).notNull()
                t.column("legalBasis", .text)
                t.column("explanation", .text)
                t.column("source", .text).notNull()
                t.column("occurredAt", .integer).notNull()
                t.column("origin", .text).notNull()
                t.primaryKey(["contactId", "purpose"])
            }
            // Proof of consent: every decision ever recorded, never updated.
            try db.create(table: "consentEvent") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("contactId", .text).notNull().indexed().references("contact", onDelete: .cascade)
                t.column("purpose", .text).notNull()
                t.column("state", .text).notNull()
                t.column("legalBasis", .text)
                t.column("explanation", .text)
                t.column("source", .text).notNull()
                t.column("occurredAt", .integer).notNull()
                t.column("recordedAt", .integer).notNull()
                t.column("origin", .text).notNull()
            }
            try db.create(table: "suppression") { t in
                t.column("contactId", .text).notNull().references("contact", onDelete: .cascade)
                t.column("kind", .text).notNull()
                t.column("isActive", .boolean).notNull()
                t.column("reason", .text)
                t.column("changedAt", .integer).notNull()
                t.column("origin", .text).notNull()
                t.primaryKey(["contactId", "kind"])
            }
            try db.create(table: "tombstone") { t in
                t.primaryKey("subjectHash", .text)
                t.column("erasedAt", .integer).notNull()
                t.column("requestId", .text).notNull()
            }
            try db.create(table: "outbox") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull()
                t.column("contactId", .text).indexed()
                t.column("dedupeKey", .text).notNull().unique()
                t.column("payload", .blob).notNull()
                t.column("state", .text).notNull().defaults(to: "pending")
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("createdAt", .integer).notNull()
                t.column("nextAttemptAt", .integer).notNull()
                t.column("lastError", .text)
            }
            try db.create(table: "checkpoint") { t in
                t.primaryKey("name", .text)
                t.column("value", .text).notNull()
                t.column("updatedAt", .integer).notNull()
            }
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull()
                t.column("startedAt", .integer).notNull()
                t.column("finishedAt", .integer)
                t.column("status", .text).notNull()
                t.column("summary", .text)
            }
            // Who did what to whom and when; holds ids and purposes, never names or addresses.
            try db.create(table: "auditLog") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .integer).notNull()
                t.column("actor", .text).notNull()
                t.column("action", .text).notNull()
                t.column("contactId", .text).indexed()
                t.column("purpose", .text)
                t.column("detail", .text)
            }
        }
        migrator.registerMigration("v2: sync state (base values, dirty versions, CRM link state)") { db in
            try db.alter(table: "contact") { t in
                // Bumped by every local edit; the engine records the version it pushed in syncedVersion.
                t.add(column: "localVersion", .integer).notNull().defaults(to: 1)
                t.add(column: "syncedVersion", .integer).notNull().defaults(to: 0)
                // The CRM's lastmodifieddate (epoch ms) of the version last reconciled.
                t.add(column: "crmLastModified", .integer)
                t.add(column: "crmArchivedAt", .integer)
                // Set when the CRM merged this contact's record into one another local contact holds.
                t.add(column: "mergedIntoCrmId", .text)
            }
            try db.create(index: "contact_dirty", on: "contact", columns: ["syncedVersion", "localVersion"])
            // The value both sides agreed on at the last sync, per contact and key: a field name,
            // `consent.<purpose>`, or `optedOutOfAll`. What makes the merge three-way.
            try db.create(table: "syncBase") { t in
                t.column("contactId", .text).notNull().references("contact", onDelete: .cascade)
                t.column("key", .text).notNull()
                t.column("value", .text)
                t.primaryKey(["contactId", "key"])
            }
        }
        migrator.registerMigration("v3: erasure requests") { db in
            // One row per erasure request: no personal data, only the subject's keyed hash.
            try db.create(table: "erasureRequest") { t in
                t.primaryKey("id", .text)
                t.column("subjectHash", .text).notNull().indexed()
                t.column("reason", .text)
                t.column("receivedAt", .integer).notNull()
                t.column("deadline", .integer).notNull()
                // received → pending (erased locally) → sent (GDPR delete accepted) → verified; or failed.
                t.column("state", .text).notNull()
                t.column("sentAt", .integer)
                t.column("verifiedAt", .integer)
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("lastError", .text)
            }
        }
        migrator.registerMigration("v4: lease") { db in
            // One writer at a time, whoever starts it (daemon, cron, a person); expires so a crashed holder
            // does not block forever.
            try db.create(table: "lease") { t in
                t.primaryKey("name", .text)
                t.column("holder", .text).notNull()
                t.column("acquiredAt", .integer).notNull()
                t.column("expiresAt", .integer).notNull()
            }
        }
        migrator.registerMigration("v5: quarantine of records the CRM refuses") { db in
            // A contact whose push the CRM refused for good (a required property, a value that does not fit,
            // a blocklisted address): retried on a slower schedule, so it holds back no one else.
            try db.create(table: "quarantine") { t in
                t.primaryKey("contactId", .text).references("contact", onDelete: .cascade)
                // What to fix, without personal data: a category or property names.
                t.column("reason", .text).notNull()
                // The local version refused: a later local edit makes the contact due at once.
                t.column("localVersion", .integer).notNull()
                t.column("attempts", .integer).notNull()
                t.column("firstRefusedAt", .integer).notNull()
                t.column("lastRefusedAt", .integer).notNull()
                t.column("nextAttemptAt", .integer).notNull()
            }
        }
        migrator.registerMigration("v6: CRM id tombstones") { db in
            // The CRM records of erased subjects, known only by the keyed hash of their id: a pulled record with
            // one of these ids (or merged from one) is refused, whatever address it carries now.
            try db.create(table: "crmTombstone") { t in
                t.primaryKey("idHash", .text)
                t.column("erasedAt", .integer).notNull()
                t.column("requestId", .text).notNull()
            }
        }
        migrator.registerMigration("v7: erasure request notes; requests a later one for the same subject orphaned") {
            db in
            try db.alter(table: "erasureRequest") { t in
                // Why a request ended as it did when it is not its own story: carried out with another request
                // for the same subject, or for a subject already erased. No personal data.
                t.add(column: "note", .text)
            }
            // Before this version a second request for a subject took the first one's outbox entry over, so the
            // first was never finished. When a later request for the subject was verified, so was the erasure.
            try db.execute(
                sql: """
                    UPDATE erasureRequest SET state = 'verified',
                        verifiedAt = (SELECT MIN(later.verifiedAt) FROM erasureRequest later
                            WHERE later.subjectHash = erasureRequest.subjectHash AND later.state = 'verified'
                            AND later.receivedAt >= erasureRequest.receivedAt),
                        note = 'verified with a later request for the same subject', lastError = NULL
                    WHERE state != 'verified'
                    AND EXISTS (SELECT 1 FROM erasureRequest later
                        WHERE later.subjectHash = erasureRequest.subjectHash AND later.state = 'verified'
                        AND later.receivedAt >= erasureRequest.receivedAt)
                    AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.dedupeKey = 'erase:' || erasureRequest.subjectHash)
                    """)
        }
        migrator.registerMigration("v8: contact last activity") { db in
            try db.alter(table: "contact") { t in
                // When the subject was last active (epoch ms): every write of the contact, or the time an import
                // row gives (`lastActivityAt`); what the retention sweep measures inactivity by.
                t.add(column: "lastActivityAt", .integer)
            }
            try db.execute(sql: "UPDATE contact SET lastActivityAt = updatedAt")
        }
        migrator.registerMigration("v9: former addresses") { db in
            // The keyed hash of an address a contact had before a change (a sync taking the CRM's new address):
            // an erasure request naming the old address still finds the subject. Goes with the contact.
            try db.create(table: "formerAddress") { t in
                t.primaryKey("addressHash", .text)
                t.column("contactId", .text).notNull().indexed().references("contact", onDelete: .cascade)
                t.column("changedAt", .integer).notNull()
            }
        }
        migrator.registerMigration("v10: outbox without nextAttemptAt") { db in
            // `nextAttemptAt` was written at every enqueue and never read: nothing schedules outbox entries, a run
            // sends what is pending. The table is rebuilt, as SQLite's `DROP COLUMN` needs 3.35 (newer than some
            // supported Linux distributions ship).
            try db.create(table: "outboxWithoutNextAttempt") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull()
                t.column("contactId", .text)
                t.column("dedupeKey", .text).notNull().unique()
                t.column("payload", .blob).notNull()
                t.column("state", .text).notNull().defaults(to: "pending")
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("createdAt", .integer).notNull()
                t.column("lastError", .text)
            }
            try db.execute(
                sql: """
                    INSERT INTO outboxWithoutNextAttempt
                        (id, kind, contactId, dedupeKey, payload, state, attempts, createdAt, lastError)
                    SELECT id, kind, contactId, dedupeKey, payload, state, attempts, createdAt, lastError FROM outbox
                    """)
            try db.drop(table: "outbox")
            try db.rename(table: "outboxWithoutNextAttempt", to: "outbox")
            try db.create(index: "outbox_on_contactId", on: "outbox", columns: ["contactId"])
        }
        migrator.registerMigration("v11: a claim on sending an erasure's GDPR deletes") { db in
            // A sync and an `erase` may run at once: the one that claims a subject's erasure entry (state
            // `sending`) sends its deletes; the claim lapses at `claimExpiresAt` if its holder was killed.
            try db.alter(table: "outbox") { t in t.add(column: "claimExpiresAt", .integer) }
        }
        migrator.registerMigration("v12: the outbox carries erasures only") { db in
            // Push entries were written before each CRM write and never read: recovery comes from the contact's
            // versions and the base written before the request. Old entries mean nothing now.
            try db.execute(sql: "DELETE FROM outbox WHERE kind = 'contact.push'")
        }
        migrator.registerMigration("v13: the writer lease's fencing token") { db in
            // Bumped at every acquisition, kept when the lease is let go: a run's writes carry the epoch and the nonce
            // it acquired, and are refused once another acquisition has replaced them.
            try db.create(table: "leaseEpoch") { t in
                t.primaryKey("name", .text)
                t.column("epoch", .integer).notNull()
                t.column("nonce", .text).notNull()
            }
        }
        return migrator
    }
}
