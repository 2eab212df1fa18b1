import Foundation
import PropertyBased
import SyncCore
import SyncModel
import SyncTesting
import Testing

/// The register port's promises, asked of every adapter through the port alone (``Adapter``): what the engine
/// relies on whichever database holds the register.
@Suite struct RegisterContractTests {
    @Test(arguments: Adapter.allCases)
    func aContactASyncCreatesIsFoundByAddressAndRecordAndIsNotDirty(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        try await scene.create(0..<3)

        let byRecord = try await scene.port.localStates(crmIds: ["crm-1"], emails: [])
        #expect(byRecord.map(\.contact.email) == [Scene.address(1)])
        #expect(try await scene.port.contact(email: Scene.address(2))?.firstName == "Created")
        #expect(try await scene.port.dirtyCount() == 0)
        #expect(try await scene.port.linkedCount() == 3)
        #expect(try await scene.port.linkedCRMIds().keys.sorted() == ["crm-0", "crm-1", "crm-2"])
        let holders = try await scene.port.contactIds(holding: [Scene.address(0), Scene.address(9)])
        #expect(holders.keys.sorted() == [Scene.address(0).normalized])
    }

    /// Compare-and-set: an update planned from a version the contact has moved on from writes nothing of itself
    /// (field, consent, base, link), and says so; planned from the current version, it is written whole.
    @Test(arguments: Adapter.allCases)
    func anUpdatePlannedBeforeALocalEditWritesNothing(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let planned = try #require(try await scene.create(0..<1).first)
        try await scene.register.grant(Scene.address(0), .newsletter)
        let edited = try #require(try await scene.state(0))
        #expect(edited.localVersion > planned.localVersion && edited.isDirty)

        var stale = Scene.renaming(planned, to: "FromCRM")
        stale.consentEvents = [
            ConsentEvent(
                contactId: planned.contact.id, purpose: .blog, state: .granted, source: "crm",
                occurredAt: scene.clock.now, origin: .crm)
        ]
        stale.base = [.field(.firstName): "FromCRM"]
        stale.syncedVersion = planned.localVersion
        let refused = try await scene.port.applySyncUpdates([stale], actor: "contract")

        #expect(refused.outcome(of: planned.contact.id) == .edited)
        let after = try #require(try await scene.state(0))
        #expect(after.contact.firstName == "Created")
        #expect(after.consents[.blog] == nil)
        #expect(after.base[.field(.firstName)] == "Created")
        #expect(after.localVersion == edited.localVersion && after.isDirty)

        stale.expectedLocalVersion = after.localVersion
        stale.syncedVersion = after.localVersion
        let applied = try await scene.port.applySyncUpdates([stale], actor: "contract")
        #expect(applied.outcome(of: planned.contact.id) == .applied)
        let synced = try #require(try await scene.state(0))
        #expect(synced.contact.firstName == "FromCRM")
        #expect(synced.consents[.blog]?.state == .granted)
        #expect(!synced.isDirty)
    }

    /// Holds, read just before a CRM write: an edit since planning, an erasure, or nothing.
    @Test(arguments: Adapter.allCases)
    func holdsNameTheEditedAndTheErasedAndNoOneElse(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let states = try await scene.create(0..<3)
        let byAddress = Dictionary(uniqueKeysWithValues: states.map { ($0.contact.email, $0) })
        try await scene.register.grant(Scene.address(0), .newsletter)
        try await scene.port.eraseLocally(email: Scene.address(1), requestId: "r1", actor: "contract", crmIds: [])
        let subjects = (0..<3).map { index in
            let state = byAddress[Scene.address(index)]!
            return PlannedSubject(
                contactId: state.contact.id, email: state.contact.email, crmId: state.contact.crmId,
                localVersion: state.localVersion)
        }

        let holds = try await scene.port.holds(for: subjects)

        #expect(holds[subjects[0].contactId] == .edited)
        #expect(holds[subjects[1].contactId] == .erased)
        #expect(holds[subjects[2].contactId] == nil)
        // Erased by its record alone (the address unknown to the caller): still held.
        let byRecord = PlannedSubject(contactId: "gone", email: nil, crmId: "crm-1", localVersion: nil)
        #expect(try await scene.port.holds(for: [byRecord])["gone"] == .erased)
    }

    /// A tombstone: the contact and its evidence go; the address and its records are known erased by keyed hash
    /// only; a sync can never create the subject again, by address or by record.
    @Test(arguments: Adapter.allCases)
    func anErasedSubjectIsTombstonedAndNeverCreatedAgain(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        try await scene.create(0..<2)
        let removed = try await scene.port.eraseLocally(
            email: Scene.address(0), requestId: "r1", actor: "contract", crmIds: ["crm-old"])

        #expect(removed)
        #expect(try await scene.port.contact(email: Scene.address(0)) == nil)
        #expect(try await scene.port.isErased(Scene.address(0)))
        #expect(!(try await scene.port.isErased(Scene.address(1))))
        let erasedAddresses = try await scene.port.erasedAddresses(among: [Scene.address(0), Scene.address(1)])
        #expect(erasedAddresses == [Scene.address(0).normalized])
        let erasedIds = try await scene.port.erasedCRMIds(among: ["crm-0", "crm-old", "crm-1"])
        #expect(erasedIds == ["crm-0", "crm-old"])
        let hash = scene.port.subjectHash(of: Scene.address(0))
        #expect(!hash.contains("person0") && hash == scene.port.subjectHash(of: Scene.address(0)))
        #expect(hash != scene.port.subjectHash(of: Scene.address(1)))
        let again = scene.creation(0)
        let result = try await scene.port.applySyncUpdates([again], actor: "contract")
        #expect(result.outcome(of: again.contactId) == .erased)
        #expect(try await scene.port.contact(email: Scene.address(0)) == nil)
        // A record of an erased subject's copy, tombstoned by id.
        try await scene.port.tombstoneStaleCopy(crmId: "crm-copy")
        #expect(try await scene.port.erasedCRMIds(among: ["crm-copy"]) == ["crm-copy"])
    }

    /// One claim on sending a subject's deletes at a time, however many callers ask at once; let go, it can be taken
    /// again; once the deletes are sent, only the verification is left.
    @Test(arguments: Adapter.allCases)
    func erasureClaimsAreExclusive(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let subject = try await scene.erasedSubject()
        let port = scene.port

        let claims = try await withThrowingTaskGroup(of: ErasureClaim.self) { group in
            for _ in 0..<8 { group.addTask { try await port.claimErasureDeletes(of: subject) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }

        #expect(claims.filter { $0 == .claimed }.count == 1)
        #expect(claims.filter { $0 == .heldByAnother }.count == 7)
        try await port.releaseErasureClaim(of: subject)
        #expect(try await port.claimErasureDeletes(of: subject) == .claimed)
        try await port.updateErasures(["r1"], state: .sent)
        #expect(try await port.claimErasureDeletes(of: subject) == .alreadySent)
    }

    /// An erasure request's outbox carries the subject's address and records until the deletes are verified.
    @Test(arguments: Adapter.allCases)
    func anUnfinishedErasureCarriesItsSubjectUntilVerified(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        try await scene.create(0..<2)
        let recorded = try await scene.port.recordErasureRequest(
            email: Scene.address(1), requestId: "r1", reason: "asked")
        #expect(recorded.state == .received && recorded.deadline > recorded.receivedAt)
        try await scene.port.eraseLocally(requestId: "r1")
        try await scene.port.addCRMRecords(["crm-9"], mergedFrom: [], toErasureOf: Scene.address(1), requestId: "r1")

        let pending = try #require(try await scene.port.pendingErasure(requestId: "r1"))
        #expect(pending.email == Scene.address(1))
        #expect(Set(pending.crmIds) == ["crm-1", "crm-9"])
        #expect(try await scene.port.pendingErasures().map(\.request.id) == ["r1"])
        #expect(try await scene.port.erasureRequest(id: "r1")?.state == .pending)

        try await scene.port.updateErasures(["r1"], state: .verified)
        #expect(try await scene.port.pendingErasures().isEmpty)
        #expect(try await scene.port.pendingErasure(requestId: "r1") == nil)
        #expect(try await scene.port.erasureRequest(id: "r1")?.state == .verified)
    }

    /// Another person's objections an erasure holds stay until let go, and are kept whole.
    @Test(arguments: Adapter.allCases)
    func heldObjectionsStayUntilLetGo(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let subject = try await scene.erasedSubject()
        let held = HeldObjections(
            withdrawals: [
                .init(
                    email: "other@example.fi", subscriptionId: 7, legalBasis: "LEGITIMATE_INTEREST_OTHER",
                    legalBasisExplanation: "asked")
            ],
            optedOut: ["third@example.fi"])

        try await scene.port.holdObjections(held, forErasureOf: subject)

        #expect(try await scene.port.heldObjections(ofErasureOf: subject) == held)
        try await scene.port.releaseHeldObjections(ofErasureOf: subject)
        #expect(try await scene.port.heldObjections(ofErasureOf: subject)?.isEmpty ?? true)
    }

    @Test(arguments: Adapter.allCases)
    func aCheckpointReadsWhatWasLastSet(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        #expect(try await scene.port.checkpoint("contacts.modifiedSince") == nil)
        try await scene.port.setCheckpoint("contacts.modifiedSince", to: "1000")
        try await scene.port.setCheckpoint("contacts.archiveSweep", to: "5")
        try await scene.port.setCheckpoint("contacts.modifiedSince", to: "2000")
        #expect(try await scene.port.checkpoint("contacts.modifiedSince") == "2000")
        #expect(try await scene.port.checkpoint("contacts.archiveSweep") == "5")
    }

    /// A refused contact waits: due again at the next run after its first refusal, an hour after its second; a local
    /// edit makes it due at once; an accepted write takes it out.
    @Test(arguments: Adapter.allCases)
    func aQuarantinedContactWaitsUntilDueEditedOrReleased(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let states = try await scene.create(0..<2)
        let (first, second) = (states[0].contact.id, states[1].contact.id)
        for id in [first, second] {
            try await scene.port.quarantine(contactId: id, localVersion: 0, reason: "refused")
        }
        #expect(try await scene.port.quarantinedNotDue().isEmpty)
        for id in [first, second] {
            try await scene.port.quarantine(contactId: id, localVersion: 0, reason: "refused again")
        }
        #expect(try await scene.port.quarantinedNotDue() == [first, second])
        try await scene.register.grant(states[0].contact.email, .blog)
        #expect(try await scene.port.quarantinedNotDue() == [second])
        scene.clock.advance(by: .seconds(3_601))
        #expect(try await scene.port.quarantinedNotDue().isEmpty)
        try await scene.port.quarantine(contactId: second, localVersion: 0, reason: "third")
        #expect(try await scene.port.quarantinedNotDue() == [second])
        try await scene.port.releaseFromQuarantine([second])
        try await scene.port.quarantine(contactId: second, localVersion: 0, reason: "first again")
        #expect(try await scene.port.quarantinedNotDue().isEmpty)
    }

    /// A batch of updates is one transaction: one that fails half-way (its consent evidence names a contact the
    /// register does not hold, which the database refuses) leaves nothing of the batch, not even the updates before it.
    @Test(arguments: Adapter.allCases)
    func aBatchThatFailsHalfWayLeavesNothing(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let states = try await scene.create(0..<2)
        let renamed = Scene.renaming(states[0], to: "Renamed")
        let created = scene.creation(5)
        var broken = LocalSyncUpdate(contactId: states[1].contact.id)
        broken.base = [.field(.lastName): "Broken"]
        broken.consentEvents = [
            ConsentEvent(
                contactId: "no-such-contact", purpose: .blog, state: .granted, source: "crm",
                occurredAt: scene.clock.now, origin: .crm)
        ]
        broken.expectedLocalVersion = states[1].localVersion

        await #expect(throws: (any Error).self) {
            try await scene.port.applySyncUpdates([renamed, created, broken], actor: "contract")
        }

        #expect(try await scene.state(0)?.contact.firstName == "Created")
        #expect(try await scene.state(5) == nil)
        #expect(try await scene.state(1)?.base[.field(.lastName)] == nil)
        #expect(try await scene.port.linkedCount() == 2)
    }

    /// One contact per record: an update that links a record to a contact takes the link from the contact that
    /// held it (a CRM merge moved the record's person).
    @Test(arguments: Adapter.allCases)
    func aRecordLinkMovesToTheContactAnUpdateGivesIt(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let states = try await scene.create(0..<2)
        var move = LocalSyncUpdate(contactId: states[1].contact.id)
        move.crmId = .some("crm-0")
        move.expectedLocalVersion = states[1].localVersion

        let result = try await scene.port.applySyncUpdates([move], actor: "contract")

        #expect(result.outcome(of: states[1].contact.id) == .applied)
        #expect(
            try await scene.port.localStates(crmIds: ["crm-0"], emails: []).map(\.contact.id) == [states[1].contact.id])
        #expect(try await scene.state(0)?.contact.crmId == nil)
        #expect(try await scene.port.linkedCRMIds() == ["crm-0": states[1].contact.id])
    }

    /// Two CRM merges met by one batch: the records of two contacts trade places (each takes the other's), and a third
    /// contact's record moves to a new id, in either order within the batch. The batch skips letting go of a record
    /// nobody else holds (its own tracking of who holds what), so a holder it lost track of would break the unique link.
    @Test(arguments: Adapter.allCases, [false, true])
    func recordsTradedBetweenContactsInOneBatchEndLinkedOnceEach(adapter: Adapter, reversed: Bool) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let states = try await scene.create(0..<3)
        func link(_ index: Int, to crmId: String) -> LocalSyncUpdate {
            var update = LocalSyncUpdate(contactId: states[index].contact.id)
            update.crmId = .some(crmId)
            update.expectedLocalVersion = states[index].localVersion
            return update
        }
        let updates = [link(0, to: "crm-1"), link(1, to: "crm-0"), link(2, to: "crm-9")]

        let result = try await scene.port.applySyncUpdates(reversed ? updates.reversed() : updates, actor: "contract")

        #expect(result.outcomes.values.allSatisfy { $0 == .applied })
        #expect(
            try await scene.port.linkedCRMIds() == [
                "crm-1": states[0].contact.id, "crm-0": states[1].contact.id, "crm-9": states[2].contact.id,
            ])

        // A record new to the register given to one contact and then, in the same batch, to another: the second
        // takes it from the first, which the batch knows holds it only from its own earlier write.
        let after = try await scene.state(0..<3)
        var first = LocalSyncUpdate(contactId: after[0].contact.id)
        first.crmId = .some("crm-7")
        var second = LocalSyncUpdate(contactId: after[2].contact.id)
        second.crmId = .some("crm-7")

        let again = try await scene.port.applySyncUpdates([first, second], actor: "contract")

        #expect(again.outcomes.values.allSatisfy { $0 == .applied })
        #expect(
            try await scene.port.linkedCRMIds() == ["crm-0": after[1].contact.id, "crm-7": after[2].contact.id])
    }

    /// Fencing: once another run has acquired the writer lease, every write of the run that held it before (and the
    /// holds it reads before each CRM write) is refused whole, while the new holder and the edit commands, which
    /// carry no token, write on.
    @Test(arguments: Adapter.allCases)
    func aStaleFencingTokenIsRefused(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let states = try await scene.create(0..<2)
        let first = try await scene.register.acquireLease(holder: "host-a")
        let stale = scene.register.fenced(by: first)
        try await stale.setCheckpoint("contacts.modifiedSince", to: "1000")

        let second = try await scene.register.acquireLease(holder: "host-b")

        #expect(second.epoch > first.epoch)
        let renamed = Scene.renaming(states[0], to: "Stale")
        await #expect(throws: StaleLease.self) { try await stale.applySyncUpdates([renamed], actor: "host-a") }
        await #expect(throws: StaleLease.self) { try await stale.setCheckpoint("contacts.modifiedSince", to: "2000") }
        await #expect(throws: StaleLease.self) {
            try await stale.quarantine(contactId: states[1].contact.id, localVersion: 0, reason: "refused")
        }
        let subject = PlannedSubject(
            contactId: states[0].contact.id, email: states[0].contact.email, crmId: nil, localVersion: 0)
        await #expect(throws: StaleLease.self) { try await stale.holds(for: [subject]) }
        #expect(try await scene.state(0)?.contact.firstName == "Created")
        #expect(try await scene.port.checkpoint("contacts.modifiedSince") == "1000")
        #expect(try await scene.port.quarantinedNotDue().isEmpty)

        let current = scene.register.fenced(by: second)
        #expect(
            try await current.applySyncUpdates([renamed], actor: "host-b").outcome(of: renamed.contactId) == .applied)
        try await current.setCheckpoint("contacts.modifiedSince", to: "3000")
        try await scene.register.grant(states[1].contact.email, .blog)
        #expect(try await scene.state(0)?.contact.firstName == "Stale")
        #expect(try await scene.port.checkpoint("contacts.modifiedSince") == "3000")
        #expect(try await scene.state(1)?.isDirty == true)
    }

    /// Paging through the dirty contacts returns each once, in id order, whatever the page size, and none that is
    /// not dirty (generated: which of up to 30 contacts are edited, and the page size).
    @Test(arguments: Adapter.allCases)
    func pagingReturnsEveryDirtyContactOnce(adapter: Adapter) async throws {
        await propertyCheck(count: 25, input: Gen.bool.array(of: 1...30), Gen.int(in: 1...12)) { edits, size in
            let scene = try Scene(adapter)
            defer { scene.close() }
            let states = try await scene.create(0..<edits.count)
            let edited = Set(zip(states, edits).filter(\.1).map(\.0.contact.id))
            for state in states where edited.contains(state.contact.id) {
                try await scene.register.grant(state.contact.email, .newsletter)
            }
            #expect(try await scene.port.dirtyCount() == edited.count)
            var seen: [String] = []
            var after = ""
            while true {
                let page = try await scene.port.dirtyStates(after: after, limit: size)
                guard let last = page.last else { break }
                #expect(page.count <= size && page.allSatisfy(\.isDirty))
                seen += page.map(\.contact.id)
                after = last.contact.id
            }
            #expect(seen == seen.sorted())
            #expect(Set(seen).count == seen.count)
            #expect(Set(seen) == edited)
        }
    }

    /// What the register keeps outlives the process: opened again, it still names the erased subject (its address and
    /// CRM record, through the subject key the tombstones are keyed with), the unfinished erasure, and a checkpoint.
    @Test(arguments: Adapter.allCases)
    func aRegisterOpenedAgainKeepsItsTombstonesErasuresAndCheckpoints(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let erased = try await scene.erasedSubject()
        try await scene.port.setCheckpoint("contacts.modifiedSince", to: "1234")
        guard let again = try scene.register.reopened(clock: scene.clock) else { return }
        let port = again.port
        #expect(try await port.isErased(erased))
        #expect(try await port.erasedCRMIds(among: ["crm-0", "crm-1"]) == ["crm-0"])
        #expect(port.subjectHash(of: erased) == scene.port.subjectHash(of: erased))
        #expect(try await port.pendingErasures().map(\.request.id) == ["r1"])
        #expect(try await port.checkpoint("contacts.modifiedSince") == "1234")
        let creation = scene.creation(0)
        #expect(
            try await port.applySyncUpdates([creation], actor: "contract").outcome(of: creation.contactId) == .erased)
    }

    /// A batch decides each contact on the register as the batch's earlier writes left it (an adapter may read what it
    /// decides on ahead, for the whole batch): an address a contact moved off earlier in the batch is free for a
    /// contact the batch creates, and one it moves off only later is still taken when the creation comes first.
    @Test(arguments: Adapter.allCases)
    func aBatchDecidesEachContactOnItsOwnEarlierWrites(adapter: Adapter) async throws {
        let scene = try Scene(adapter)
        defer { scene.close() }
        let states = try await scene.create(0..<2)
        func moving(_ state: LocalContactState, to index: Int) -> LocalSyncUpdate {
            var update = Scene.renaming(state, to: state.contact.firstName ?? "")
            update.contact?.email = Scene.address(index)
            return update
        }
        func creating(_ index: Int, at address: Int) -> LocalSyncUpdate {
            var update = scene.creation(index)
            update.contact?.email = Scene.address(address)
            return update
        }
        // Moved off first, then taken: both apply.
        let moveFirst = moving(states[0], to: 5)
        let takeAfter = creating(9, at: 0)
        let first = try await scene.port.applySyncUpdates([moveFirst, takeAfter], actor: "contract")
        #expect(first.outcome(of: moveFirst.contactId) == .applied)
        #expect(first.outcome(of: takeAfter.contactId) == .applied)
        #expect(
            try await scene.port.contactIds(holding: [Scene.address(0)]) == ["person0@example.fi": takeAfter.contactId])
        // Taken first, moved off after: the creation waits for the next run, the move applies.
        let takeBefore = creating(8, at: 1)
        let moveAfter = moving(states[1], to: 6)
        let second = try await scene.port.applySyncUpdates([takeBefore, moveAfter], actor: "contract")
        #expect(second.outcome(of: takeBefore.contactId) == .edited)
        #expect(second.outcome(of: moveAfter.contactId) == .applied)
        #expect(
            try await scene.port.contactIds(holding: [Scene.address(6)]) == ["person6@example.fi": states[1].contact.id]
        )
        #expect(try await scene.port.contactIds(holding: [Scene.address(1)]).isEmpty)
    }

    /// Where no PostgreSQL server is configured the PostgreSQL adapter's runs are left out, visibly (this test is
    /// reported skipped); CI sets `CRMSYNC_REQUIRE_POSTGRES=1`, and there a missing server fails.
    @Test(
        .disabled(
            if: !TestPostgres.isConfigured,
            "PostgreSQL is not configured (CRMSYNC_TEST_POSTGRES_URL, PGPASSWORD): the PostgreSQL adapter is not tested"
        ))
    func thePostgresAdapterIsUnderTheContract() throws {
        #expect(Adapter.allCases.contains(.postgres))
    }

    @Test(.enabled(if: TestPostgres.isRequired))
    func aRunThatRequiresPostgresHasIt() {
        #expect(TestPostgres.isConfigured, "CRMSYNC_REQUIRE_POSTGRES=1 but CRMSYNC_TEST_POSTGRES_URL is not set")
    }
}
