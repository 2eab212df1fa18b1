import Foundation
import MockHubSpot
import SubjectPolicy
import SyncCore
import SyncEngine
import SyncModel
import SyncTesting
import Testing

@testable import SyncStore

/// A decision made now is applied: never silently older than what it follows (issue 19, findings 5 and 6).
@Suite struct DecisionTimeTests {
    /// A grant an earlier version imported with a typo for its time (`2099-01-01`; imports now refuse such rows).
    static func plantFutureGrant(_ fixture: EngineFixture, _ address: String) throws {
        let contact = try #require(try fixture.local(address))
        try fixture.store.database.write { db in
            try ConsentLedger.record(
                ConsentEvent(
                    contactId: contact.id, purpose: .newsletter, state: .granted, legalBasis: nil, explanation: nil,
                    source: "import", occurredAt: Date(iso8601: "2099-01-01T00:00:00Z")!, origin: .local),
                actor: "old import", recordedAt: fixture.time.now, in: db)
        }
    }

    @Test func aWithdrawalAfterAGrantDatedInTheFutureIsAppliedAndReachesHubSpot() async throws {
        let fixture = try await EngineFixture()
        try fixture.importCSV("email,newsletter\naino@example.fi,granted\n")
        try Self.plantFutureGrant(fixture, "aino@example.fi")
        let first = try await fixture.sync()
        #expect(first.futureDatedDecisions == 1)
        #expect(ReportRenderer.render(first, format: .text, showPII: false).contains("dated in the future: 1"))
        fixture.tick()
        // The subject unsubscribes in HubSpot, and tells the operator too.
        try await fixture.crmWriteStatus("aino@example.fi", .newsletter, "UNSUBSCRIBED")
        fixture.tick()
        let outcome = try fixture.store.recordConsent(
            email: email("aino@example.fi"), purpose: .newsletter, state: .withdrawn, source: "phone", actor: "t")
        #expect(outcome == .changed)
        #expect(try fixture.consent("aino@example.fi", .newsletter) == .withdrawn)
        fixture.tick()
        try await fixture.sync()
        #expect(try fixture.consent("aino@example.fi", .newsletter) == .withdrawn)
        #expect(try await fixture.crmStatuses("aino@example.fi")[7] == "UNSUBSCRIBED")
    }

    /// A host clock running slow: HubSpot dates the status of the grant crmsync pushed by its own clock, after the
    /// withdrawal the register records next. That status is crmsync's write, not a decision since: the withdrawal
    /// wins and reaches HubSpot. Before, the sync took the pushed grant back as the newer decision, undoing the
    /// subject's withdrawal (the checker's open "slow clock against crmsync's own push").
    @Test(arguments: [600, 90, 2])
    func aWithdrawalOnASlowClockAfterAPushedGrantIsNotUndoneByThatPush(slowBySeconds: Int) async throws {
        let host = ManualClock(now: Date(millisecondsSince1970: 1_796_112_000_000 - Int64(slowBySeconds) * 1000))
        let slow = try await EngineFixture(storeClock: host)
        try slow.importCSV("email,newsletter\naino@example.fi,granted\n")
        try await slow.sync()
        #expect(try await slow.crmStatuses("aino@example.fi")[7] == "SUBSCRIBED")
        slow.tick()
        host.advance(by: .seconds(1))
        #expect(
            try slow.store.recordConsent(
                email: email("aino@example.fi"), purpose: .newsletter, state: .withdrawn, source: "phone", actor: "t")
                == .changed)
        slow.tick()
        let report = try await slow.sync()
        #expect(try slow.consent("aino@example.fi", .newsletter) == .withdrawn)
        #expect(try await slow.crmStatuses("aino@example.fi")[7] == "UNSUBSCRIBED")
        #expect(report.changes.contains { $0.rule == SyncRule.consentMovedOnOneSide(.local).description })
        // And it stays so, settled.
        slow.tick()
        #expect(try await slow.sync().changes.isEmpty)
        #expect(try slow.consent("aino@example.fi", .newsletter) == .withdrawn)
        #expect(try await slow.crmStatuses("aino@example.fi")[7] == "UNSUBSCRIBED")
    }

    /// A host clock running fast: the register's agreed grant is dated after the subject's later withdrawal in
    /// HubSpot. The register has not moved since the sync, so HubSpot's change wins, whatever the clocks say.
    @Test func aWithdrawalInHubSpotAfterAGrantDatedByAFastClockIsTaken() async throws {
        let host = ManualClock(now: Date(millisecondsSince1970: 1_796_112_000_000 + 240_000))
        let fast = try await EngineFixture(storeClock: host)
        try fast.importCSV("email,newsletter\naino@example.fi,granted\n")
        try await fast.sync()
        fast.tick()
        try await fast.crmWriteStatus("aino@example.fi", .newsletter, "UNSUBSCRIBED")
        fast.tick()
        try await fast.sync()
        #expect(try fast.consent("aino@example.fi", .newsletter) == .withdrawn)
        #expect(try await fast.crmStatuses("aino@example.fi")[7] == "UNSUBSCRIBED")
        // Settled: the next run plans nothing for it.
        fast.tick()
        #expect(try await fast.sync().changes.isEmpty)
    }

    @Test(arguments: [-600, -90, -1])
    func aWithdrawalJustAfterTheClockSteppedBackIsApplied(stepSeconds: Int) async throws {
        let clock = ManualClock(now: Date(millisecondsSince1970: 1_796_112_000_000))
        let fixture = try await EngineFixture(storeClock: clock)
        try fixture.importCSV("email\naino@example.fi\n")
        #expect(
            try fixture.store.recordConsent(
                email: email("aino@example.fi"), purpose: .blog, state: .granted, source: "web form", actor: "t")
                == .changed)
        // NTP corrects a clock that ran fast.
        clock.advance(by: .seconds(stepSeconds))
        #expect(
            try fixture.store.recordConsent(
                email: email("aino@example.fi"), purpose: .blog, state: .withdrawn, source: "phone", actor: "t")
                == .changed)
        #expect(try fixture.consent("aino@example.fi", .blog) == .withdrawn)
        // And a re-grant after that is applied too, dated after the withdrawal.
        #expect(
            try fixture.store.recordConsent(
                email: email("aino@example.fi"), purpose: .blog, state: .granted, source: "web form 2", actor: "t")
                == .changed)
        #expect(try fixture.consent("aino@example.fi", .blog) == .granted)
    }

    @Test func aDecisionIsDatedByTheClockOrJustAfterWhatItFollows() {
        let now = Date(millisecondsSince1970: 1_000_000)
        #expect(DecisionTime.stamp(now: now, following: [nil]) == now)
        #expect(DecisionTime.stamp(now: now, following: [Date(millisecondsSince1970: 999_999)]) == now)
        #expect(
            DecisionTime.stamp(now: now, following: [Date(millisecondsSince1970: 1_000_000)])
                == Date(millisecondsSince1970: 1_000_001))
        #expect(
            DecisionTime.stamp(now: now, following: [nil, Date(millisecondsSince1970: 5_000_000)])
                == Date(millisecondsSince1970: 5_000_001))
    }

    /// A lift is dated after the restriction it ends, also after the clock stepped back.
    @Test func aLiftAfterTheClockSteppedBackIsDatedAfterTheRestriction() async throws {
        let clock = ManualClock(now: Date(millisecondsSince1970: 1_796_112_000_000))
        let fixture = try await EngineFixture(storeClock: clock)
        try fixture.importCSV("email\naino@example.fi\n")
        let address = email("aino@example.fi")
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: address, reason: "r", actor: "t")
        clock.advance(by: .seconds(-600))
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: false, email: address, reason: nil, actor: "t")
        let contact = try #require(try fixture.local("aino@example.fi"))
        let restriction = try #require(
            try fixture.store.suppressions(contactId: contact.id).first { $0.kind == .processingRestricted })
        #expect(!restriction.isActive)
        #expect(restriction.changedAt > Date(millisecondsSince1970: 1_796_112_000_000))
    }
}

extension DecisionTimeTests {
    /// The base was agreed about one address; a CRM merge puts the contact on a record with another address, whose
    /// old grant HubSpot read now. "The register has not moved since the sync" says nothing about that address's
    /// statuses: newest wins, so the register's later withdrawal stands (review finding; fails without the address
    /// binding: the old grant was taken and re-dated after the withdrawal).
    @Test func aMergeOntoAnotherAddressDoesNotLetItsOldGrantBeatTheRegistersWithdrawal() async throws {
        let fixture = try await EngineFixture()
        // HubSpot has held the other address subscribed for long (statuses are the address's, record or none).
        try await fixture.crmWriteStatus("survivor@example.fi", .marketingEmail, "SUBSCRIBED")
        fixture.tick()
        try fixture.importCSV("email,marketingEmail\naino@example.fi,withdrawn\n")
        try await fixture.sync()
        let aino = try #require(try fixture.local("aino@example.fi")?.crmId)
        fixture.tick()
        // A form creates a record for the other address, and a CRM user merges Aino's record into it before any sync.
        try await fixture.mergeIntoNewRecord(aino, address: "survivor@example.fi")
        fixture.tick()
        try await fixture.sync()
        fixture.tick()
        try await fixture.sync()
        // The contact followed the merge to the survivor's address, and its withdrawal went there.
        #expect(try fixture.store.contactCount() == 1)
        #expect(try fixture.consent("survivor@example.fi", .marketingEmail) == .withdrawn)
        #expect(try await fixture.crmStatuses("survivor@example.fi")[8] == "UNSUBSCRIBED")
    }
}

extension DecisionTimeTests {
    /// HubSpot held a grant for the address before crmsync created the record; the register had no decision. The
    /// host clock runs slow, and the subject withdraws here after that sync: the withdrawal is the newer decision
    /// (checker seed 9401483; fails without: the sync that created the record recorded no base, and HubSpot's grant
    /// won by time).
    @Test func aWithdrawalOnASlowClockAfterTheCreatingSyncBeatsTheGrantHubSpotHeldForTheAddress() async throws {
        let host = ManualClock(now: Date(millisecondsSince1970: 1_796_112_000_000 - 600_000))
        let fixture = try await EngineFixture(storeClock: host)
        try fixture.importCSV("email\naino@example.fi\n")
        try await fixture.crmWriteStatus("aino@example.fi", .eventInvitations, "SUBSCRIBED")
        fixture.tick()
        try await fixture.sync()
        fixture.tick()
        host.advance(by: .seconds(2))
        _ = try fixture.store.recordConsent(
            email: email("aino@example.fi"), purpose: .eventInvitations, state: .withdrawn, source: "phone", actor: "t")
        fixture.tick()
        try await fixture.sync()
        fixture.tick()
        try await fixture.sync()
        #expect(try fixture.consent("aino@example.fi", .eventInvitations) == .withdrawn)
        #expect(try await fixture.crmStatuses("aino@example.fi")[9] == "UNSUBSCRIBED")
    }
}

extension DecisionTimeTests {
    /// A grant's status write lands in HubSpot but its answer is lost (the run dies before it records HubSpot's time
    /// in the base); the rerun settles with the register's decision, and a withdrawal recorded after the crash wins.
    @Test(arguments: [false, true])
    func aStatusWriteWhoseAnswerWasLostSettlesOnTheRerun(withdrawnAfterTheCrash: Bool) async throws {
        var fixture = try await EngineFixture()
        try fixture.importCSV("email,newsletter\naino@example.fi,withdrawn\n")
        try await fixture.sync()
        fixture.tick()
        _ = try fixture.store.recordConsent(
            email: email("aino@example.fi"), purpose: .newsletter, state: .granted, source: "form", actor: "t")
        fixture.tick()
        fixture.transport = LostReplyTransport(
            losingTheReplyTo: "/statuses/batch/write", inner: fixture.crmTransport, thenDown: true)
        _ = try? await fixture.sync()
        #expect(try await fixture.crmStatuses("aino@example.fi")[7] == "SUBSCRIBED")
        fixture.transport = fixture.crmTransport
        fixture.tick()
        if withdrawnAfterTheCrash {
            _ = try fixture.store.recordConsent(
                email: email("aino@example.fi"), purpose: .newsletter, state: .withdrawn, source: "phone", actor: "t")
            fixture.tick()
        }
        try await fixture.sync()
        fixture.tick()
        #expect(try await fixture.sync().changes.isEmpty)
        let expected: ConsentState = withdrawnAfterTheCrash ? .withdrawn : .granted
        #expect(try fixture.consent("aino@example.fi", .newsletter) == expected)
        #expect(
            try await fixture.crmStatuses("aino@example.fi")[7]
                == (withdrawnAfterTheCrash ? "UNSUBSCRIBED" : "SUBSCRIBED"))
    }
}
