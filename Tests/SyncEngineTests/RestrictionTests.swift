import Foundation
import HubSpotClient
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Issue 13, item 4: a restriction of processing, and its lifting, never fabricate consent decisions.
@Suite struct RestrictionTests {
    enum DecisionDuringRestriction: String, CaseIterable, Sendable {
        case none
        case localWithdrawal
        case crmWithdrawal
        case localOptOut
    }

    @Test(arguments: DecisionDuringRestriction.allCases)
    func restrictionAndItsLiftFabricateNoConsentDecisions(meanwhile: DecisionDuringRestriction) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "restricted@example.fi"
        try fixture.importCSV("email,newsletter,marketingEmail,blog\n\(address),granted,granted,withdrawn\n")
        try await fixture.sync()
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        try await fixture.sync()
        try await fixture.sync()
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")  // the restriction spread
        #expect(try !fixture.isOptedOut(address))
        #expect(try fixture.consent(address, .newsletter) == .granted)
        #expect(try fixture.consent(address, .marketingEmail) == .granted)

        fixture.tick()
        switch meanwhile {
        case .none: break
        case .localWithdrawal:
            _ = try fixture.store.recordConsent(
                email: email(address), purpose: .newsletter, state: .withdrawn, source: "phone", actor: "t")
        case .crmWithdrawal:
            try await fixture.crmWriteStatus(address, .newsletter, "UNSUBSCRIBED")
        case .localOptOut:
            _ = try fixture.store.setSuppression(
                .optedOutOfAll, active: true, email: email(address), reason: "asked", actor: "t")
        }
        try await fixture.sync()
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: false, email: email(address), reason: "lifted", actor: "t")
        let lifted = try await fixture.sync()
        #expect(lifted.summary.failures == 0, "\(lifted.failures)")
        try await fixture.sync()

        let optedOut = meanwhile == .localOptOut
        let newsletterGranted = meanwhile == .none
        #expect(try fixture.isOptedOut(address) == optedOut)
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == (optedOut ? "true" : "false"))
        #expect(try fixture.consent(address, .newsletter) == (newsletterGranted ? .granted : .withdrawn))
        #expect(try fixture.consent(address, .blog) == .withdrawn)
        #expect(try await fixture.crmStatus(address, .blog) == "UNSUBSCRIBED")
        #expect(
            try await fixture.crmStatus(address, .newsletter) == (newsletterGranted ? "SUBSCRIBED" : "UNSUBSCRIBED"))
        // The subject's own opt-out withdrew every purpose; nothing else changed them.
        #expect(try fixture.consent(address, .marketingEmail) == (optedOut ? .withdrawn : .granted))
        #expect(try await fixture.crmStatus(address, .marketingEmail) == (optedOut ? "UNSUBSCRIBED" : "SUBSCRIBED"))
        #expect(try fixture.consent(address, .eventInvitations) == (optedOut ? .withdrawn : nil))
        #expect(
            try await fixture.crmStatus(address, .eventInvitations) == (optedOut ? "UNSUBSCRIBED" : "NOT_SPECIFIED"))
        // Only the subject's own decisions are in the evidence: none from the CRM unless made there.
        let fromCRM = try fixture.history(address).filter { $0.origin == .crm }
        #expect(fromCRM.map(\.purpose) == (meanwhile == .crmWithdrawal ? [.newsletter] : []), "\(fromCRM)")
        let suppressions = try fixture.store.suppressions(contactId: try #require(try fixture.local(address)).id)
        #expect(!suppressions.contains { $0.kind == .optedOutOfAll && $0.origin == .crm })
        try await fixture.expectSettled()
    }

    /// The reply to the spread is lost, the network still up: the CRM's state is read back, the spread marked.
    @Test func restrictionSpreadWhoseReplyWasLostIsReadBackAndNotTakenForAnOptOut() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "lost@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        fixture.transport = LostReplyTransport(losingTheReplyTo: "/batch/unsubscribe-all", inner: fixture.crmTransport)
        let lost = try await fixture.sync()
        #expect(lost.summary.failures == 0, "\(lost.failures)")
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        fixture.transport = fixture.crmTransport
        try await fixture.sync()
        try await fixture.sync()
        #expect(try !fixture.isOptedOut(address))
        #expect(try fixture.consent(address, .newsletter) == .granted)
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: false, email: email(address), reason: "lifted", actor: "t")
        try await fixture.sync()
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "false")
        #expect(try await fixture.crmStatus(address, .newsletter) == "SUBSCRIBED")
        #expect(try !fixture.isOptedOut(address))
        try await fixture.expectSettled()
    }

    /// Found by the checker (seed 109221): a run died before its spread went out, and the subject then opted out
    /// in HubSpot. The old build had marked the spread before sending it, took the subject's opt-out for it, and
    /// re-granted the purposes when the restriction was lifted.
    @Test func theSubjectsOwnCRMOptOutAfterASpreadThatNeverWentOutIsTaken() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "never.sent@example.fi"
        try fixture.importCSV("email,newsletter,blog\n\(address),granted,granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        fixture.transport = KilledBeforeWriteTransport(
            killedBefore: "/batch/unsubscribe-all", inner: fixture.crmTransport)
        _ = try? await fixture.sync()
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "false", "the spread never went out")
        fixture.transport = fixture.crmTransport
        fixture.tick()
        try await fixture.crmOptOut(address)
        try await fixture.sync()
        try await fixture.sync()
        #expect(try fixture.isOptedOut(address), "the subject's own opt-out is in the register")
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: false, email: email(address), reason: "lifted", actor: "t")
        try await fixture.sync()
        try await fixture.sync()
        #expect(try fixture.isOptedOut(address))
        #expect(try fixture.consent(address, .blog) != .granted)
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        #expect(try await fixture.crmStatus(address, .blog) == "UNSUBSCRIBED")
        #expect(try await fixture.crmStatus(address, .newsletter) == "UNSUBSCRIBED")
        try await fixture.expectSettled()
    }

    /// The spread went out and was marked; in HubSpot the subject then subscribed (which ends an opt-out of all
    /// email) and opted out again before the next sync. That opt-out has its own time: it is the subject's.
    @Test func anOptOutOfTheSubjectsAfterTheSpreadWasEndedInTheCRMIsTaken() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "again@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        try await fixture.sync()
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        fixture.tick()
        try await fixture.crmWriteStatus(address, .newsletter, "SUBSCRIBED")
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "false")
        fixture.tick()
        try await fixture.crmOptOut(address)
        try await fixture.sync()
        try await fixture.sync()
        #expect(try fixture.isOptedOut(address), "the subject's own opt-out is in the register")
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: false, email: email(address), reason: "lifted", actor: "t")
        try await fixture.sync()
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        #expect(try await fixture.crmStatus(address, .newsletter) == "UNSUBSCRIBED")
        try await fixture.expectSettled()
    }

    /// Found in review: another write of the same contact failing (here a subscription the portal lacks) must
    /// not leave the spread HubSpot took unmarked; the old build let the next run take it as the subject's.
    @Test func aSpreadHubSpotTookIsMarkedThoughAnotherWriteOfTheContactFailed() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "partly@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),granted\n")
        try await fixture.sync()
        fixture.configuration.purposes["blog"]?.subscriptionId = "99"
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        _ = try fixture.store.recordConsent(
            email: email(address), purpose: .blog, state: .withdrawn, source: "phone", actor: "t")
        let failing = try await fixture.sync()
        #expect(failing.summary.failures + failing.summary.refused == 1, "the blog write fails")
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true", "the spread went out")
        let base = try fixture.store.localStates(crmIds: [], emails: [email(address)]).first?.base
        #expect(base?[.optedOutOfAll]??.hasPrefix("restriction@") == true)
        try await fixture.sync()
        #expect(try !fixture.isOptedOut(address), "crmsync's spread is not the subject's opt-out")
        #expect(try fixture.consent(address, .newsletter) == .granted)
    }

    /// The spread's time cannot be read back after HubSpot answered it: unmarked, it is taken as the subject's
    /// opt-out (safety first). The old build marked it crmsync's whatever its time, so a later opt-out of the
    /// subject's would have been lost.
    @Test func aSpreadWhoseTimeCannotBeReadBackIsLeftUnmarked() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "undated@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        fixture.transport = KilledBeforeWriteTransport(
            killedBefore: "/unsubscribe-all/read", inner: fixture.crmTransport)
        let spread = try await fixture.sync()
        #expect(spread.summary.failures == 0, "\(spread.failures)")
        let base = try fixture.store.localStates(crmIds: [], emails: [email(address)]).first?.base
        #expect(base?[.optedOutOfAll]??.hasPrefix("restriction") != true)
        fixture.transport = fixture.crmTransport
        try await fixture.sync()
        #expect(try fixture.isOptedOut(address))
    }

    /// The reply to the spread is lost and nothing more can be read in that run: crmsync cannot tell its opt-out
    /// from one of the subject's, and takes it as the subject's (safety first; README, "Restriction of processing").
    @Test func anUnmarkedSpreadIsTakenAsTheSubjectsOptOut() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "unmarked@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        fixture.transport = LostReplyTransport(
            losingTheReplyTo: "/batch/unsubscribe-all", inner: fixture.crmTransport, thenDown: true)
        await #expect(throws: LostReplyTransport.Lost.self) { try await fixture.sync() }
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        fixture.transport = fixture.crmTransport
        try await fixture.sync()
        #expect(try fixture.isOptedOut(address))
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: false, email: email(address), reason: "lifted", actor: "t")
        try await fixture.sync()
        #expect(try fixture.isOptedOut(address))
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        try await fixture.expectSettled()
    }

    /// Found by the checker (seeds 602457, 602605, 609424): a restricted contact HubSpot holds no record of is
    /// never created there, so the old build never looked at the decisions HubSpot holds for its address, and
    /// the register kept a grant the subject had withdrawn. A newer decision is taken; an older one is not.
    @Test func aRestrictedContactNotInTheCRMTakesTheNewerDecisionsHubSpotHoldsForItsAddress() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "restricted.local@example.fi"
        try await fixture.crmWriteStatus(address, .newsletter, "UNSUBSCRIBED")  // older than the register's grant
        fixture.tick()
        try fixture.importCSV("email,newsletter,marketingEmail\n\(address),granted,granted\n")
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        fixture.tick()
        try await fixture.crmWriteStatus(address, .marketingEmail, "UNSUBSCRIBED")  // the subject, in HubSpot
        try await fixture.crmWriteStatus(address, .blog, "SUBSCRIBED")
        let dry = try await fixture.sync(dryRun: true)
        let report = try await fixture.sync()
        #expect(dry.summary.toLocal == report.summary.toLocal)
        #expect(report.summary.toLocal.consentChanges == 2, "\(report.changes)")
        #expect(try fixture.consent(address, .marketingEmail) == .withdrawn)
        #expect(try fixture.consent(address, .blog) == .granted)
        #expect(try fixture.consent(address, .newsletter) == .granted, "an older CRM withdrawal is not taken")
        #expect(
            try fixture.history(address).filter { $0.origin == .crm }.map(\.purpose).sorted() == [
                .blog, .marketingEmail,
            ])
        #expect(try await fixture.crmCount() == 0, "a restricted contact is not created in the CRM")
        try await fixture.expectSettled()
    }

    /// Found by the grown checker (`localCreate, restrict, localOptOut`): a restricted contact HubSpot holds no
    /// record of took HubSpot's decisions for its address, but its own objection never went there, so a record a
    /// form created later would start subscribed. Now the objection and a withdrawal reach the address (never a
    /// grant, never a record).
    @Test func aRestrictedContactNotInTheCRMSendsItsObjectionToItsAddress() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "objects@example.fi"
        try await fixture.crmWriteStatus(address, .newsletter, "SUBSCRIBED")  // an old sign-up, no record
        fixture.tick()
        try fixture.importCSV("email,newsletter,blog\n\(address),granted,granted\n")
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        _ = try fixture.store.recordConsent(
            email: email(address), purpose: .newsletter, state: .withdrawn, source: "phone", actor: "t")
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .optedOutOfAll, active: true, email: email(address), reason: "objects", actor: "t")
        fixture.tick()
        _ = try await fixture.sync()
        #expect(try await AddressFollowsPersonTests.isOptedOutInHubSpot(fixture, address))
        #expect(try await fixture.crmStatus(address, .newsletter) == "UNSUBSCRIBED")
        #expect(try await fixture.crmStatus(address, .blog) != "SUBSCRIBED", "no grant reaches the address")
        #expect(try await fixture.crmCount() == 0, "a restricted contact is not created in the CRM")
        #expect(try fixture.isOptedOut(address))
        try await fixture.expectSettled()
    }

    /// Found by the checker (seed 1500263): after the restriction was lifted, the subject subscribed to one
    /// purpose in HubSpot before the next sync, which ends the spread opt-out there. The old build then took the
    /// other purposes' unsubscriptions (the spread's echoes) as the subject's withdrawals.
    @Test func theSpreadsEchoesAreNotTakenAfterTheSubjectEndedItsOptOutInHubSpot() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "ended@example.fi"
        try fixture.importCSV("email,blog\n\(address),granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        try await fixture.sync()
        #expect(try await fixture.crmStatus(address, .blog) == "UNSUBSCRIBED", "the spread")
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: false, email: email(address), reason: "lifted", actor: "t")
        fixture.tick()
        try await fixture.crmWriteStatus(address, .newsletter, "SUBSCRIBED")
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "false")
        try await fixture.sync()
        try await fixture.sync()
        #expect(try fixture.consent(address, .blog) == .granted, "no withdrawal the subject never made")
        #expect(try fixture.consent(address, .newsletter) == .granted)
        #expect(try await fixture.crmStatus(address, .blog) == "SUBSCRIBED", "restored after the restriction")
        #expect(try !fixture.isOptedOut(address))
        #expect(try fixture.history(address).filter { $0.origin == .crm }.map(\.purpose) == [.newsletter])
        try await fixture.expectSettled()
    }

    /// The same, with the run that restores the unsubscribed purposes dying before its subscription write: the
    /// next run still knows them as the spread's echoes (the mark stays until they are restored).
    @Test func theSpreadsEchoesAreStillKnownWhenTheRunRestoringThemDied() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "ended.died@example.fi"
        try fixture.importCSV("email,blog\n\(address),granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        try await fixture.sync()
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: false, email: email(address), reason: "lifted", actor: "t")
        fixture.tick()
        try await fixture.crmWriteStatus(address, .newsletter, "SUBSCRIBED")
        fixture.transport = KilledBeforeWriteTransport(
            killedBefore: "/statuses/batch/write", inner: fixture.crmTransport)
        _ = try? await fixture.sync()
        #expect(try await fixture.crmStatus(address, .blog) == "UNSUBSCRIBED", "the restoring write never went out")
        fixture.transport = fixture.crmTransport
        try await fixture.sync()
        try await fixture.sync()
        #expect(try fixture.consent(address, .blog) == .granted, "no withdrawal the subject never made")
        #expect(try await fixture.crmStatus(address, .blog) == "SUBSCRIBED")
        #expect(try fixture.history(address).filter { $0.origin == .crm }.map(\.purpose) == [.newsletter])
        try await fixture.expectSettled()
    }

    @Test func reconcileDoesNotReportARestrictionSpreadAsOptOutDrift() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        fixture.configuration.sync.consistencyHorizon = .seconds(0)
        let address = "spread@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),granted\n")
        try await fixture.sync()
        _ = try fixture.store.setSuppression(
            .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
        try await fixture.sync()
        // Sync until the checkpoint lies after the record's last modification, so reconcile looks at it.
        var stamp: Int64 = .max
        var checkpoint: Int64 = 0
        for _ in 0..<4 where checkpoint <= stamp {
            fixture.tick()
            try await fixture.sync()
            checkpoint = try fixture.store.checkpoint("contacts.modifiedSince").flatMap(Int64.init) ?? 0
            let modified = try #require(try await fixture.crmContact(email: address, properties: "lastmodifieddate"))
            let text = try #require((modified["properties"] as? [String: Any])?["lastmodifieddate"] as? String)
            stamp = try #require(HubSpotTime.parse(text)).millisecondsSince1970
        }
        #expect(stamp < checkpoint, "the precondition: the record lies behind the checkpoint")
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        let report = try await Reconciler(
            store: fixture.store, client: fixture.client(), settings: SyncSettings(fixture.configuration)
        )
        .run()
        #expect(report.optOutDrift == 0)
    }
}

/// Lifting a restriction, with an edit of the contact landing just before the sync's subscription writes: the
/// writes that would have ended the spread opt-out are held back, so the base still says the CRM's opt-out is
/// crmsync's spread, and the next runs neither take it into the register nor keep it in the CRM.
@Test func anEditDuringTheLiftsSyncLeavesTheSpreadOptOutCrmsyncs() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    let address = "lifted.mid.run@example.fi"
    // Another contact's update goes out first in the same batch: the edit lands before it, after the local apply.
    try fixture.importCSV("email,city,newsletter\n\(address),Oulu,granted\nother@example.fi,Oulu,\n")
    try await fixture.sync()
    fixture.tick()
    _ = try fixture.store.setSuppression(
        .processingRestricted, active: true, email: email(address), reason: "asked", actor: "t")
    try await fixture.sync()
    #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
    fixture.tick()
    _ = try fixture.store.setSuppression(
        .processingRestricted, active: false, email: email(address), reason: "lifted", actor: "t")
    try fixture.importCSV("email,city\nother@example.fi,Espoo\n")
    let store = fixture.store
    fixture.transport = BeforeRequestTransport(before: "contacts/batch/update", inner: fixture.crmTransport) {
        let batch = try ImportFileReader(purposes: Purpose.standard).read(
            Data("email,city\n\(address),Turku\n".utf8), format: .csv)
        _ = try store.importContacts(batch, actor: "operator")
    }
    let held = try await fixture.sync()
    #expect(held.notes.contains { $0.note == "edited while the sync ran: left for the next run" })
    let base = try fixture.store.localStates(crmIds: [], emails: [email(address)]).first?.base
    #expect(
        base?[.optedOutOfAll]??.hasPrefix("restriction@") == true, "the CRM's opt-out is still crmsync's spread")
    fixture.transport = fixture.crmTransport
    try await fixture.sync()
    try await fixture.sync()
    #expect(try !fixture.isOptedOut(address), "no opt-out the subject never made")
    #expect(try fixture.consent(address, .newsletter) == .granted)
    #expect(try await fixture.crmStatuses(address)[7] == "SUBSCRIBED")
    #expect(try await fixture.crmProperty(address, "city") == "Turku")
}
