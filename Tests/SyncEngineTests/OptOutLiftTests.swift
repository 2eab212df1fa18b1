import Foundation
import HubSpotClient
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Issue 13, item 3: lifting an opt-out of all marketing grants only what was re-consented after it.
@Suite struct OptOutLiftTests {
    static let optedOutPurposes: [Purpose] = [.newsletter, .marketingEmail, .eventInvitations]

    @Test(arguments: optedOutPurposes, [true, false])
    func liftingAnOptOutGrantsOnlyThePurposeReConsentedAfterIt(reConsented: Purpose, optOutReachedTheCRM: Bool)
        async throws
    {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "lift@example.fi"
        try fixture.importCSV("email,newsletter,marketingEmail,eventInvitations\n\(address),granted,granted,granted\n")
        try await fixture.sync()
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .optedOutOfAll, active: true, email: email(address), reason: "asked", actor: "t")
        if optOutReachedTheCRM {
            try await fixture.sync()
            #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        }
        fixture.tick()
        let outcome = try fixture.store.recordConsent(
            email: email(address), purpose: reConsented, state: .granted, source: "web form", liftingOptOut: true,
            actor: "t")
        #expect(outcome == .changed)
        let report = try await fixture.sync()
        #expect(report.summary.failures == 0, "\(report.failures)")

        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "false")
        #expect(try !fixture.isOptedOut(address))
        for purpose in Self.optedOutPurposes {
            let granted = purpose == reConsented
            #expect(try fixture.consent(address, purpose) == (granted ? .granted : .withdrawn), "\(purpose)")
            #expect(try await fixture.crmStatus(address, purpose) == (granted ? "SUBSCRIBED" : "UNSUBSCRIBED"))
        }
        // The report names every grant sent to the CRM: the re-consent, unless the CRM never stopped showing it.
        let grants = report.changes.filter { $0.direction == .toCRM && $0.new == ConsentState.granted.rawValue }
        #expect(grants.map(\.field) == (optOutReachedTheCRM ? ["consent.\(reConsented)"] : []))
        // Nothing comes back as granted via the CRM, now or later.
        try await fixture.expectSettled()
        #expect(try !fixture.history(address).contains { $0.origin == .crm && $0.state == .granted })
    }

    enum Fault: String, CaseIterable, Sendable {
        case killedBeforeTheWrite
        case replyLost
    }

    @Test(arguments: Fault.allCases)
    func liftInterruptedAtItsCRMWriteConvergesOnTheNextRun(fault: Fault) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "crash@example.fi"
        try fixture.importCSV("email,newsletter,marketingEmail\n\(address),granted,granted\n")
        try await fixture.sync()
        fixture.tick()
        _ = try fixture.store.setSuppression(
            .optedOutOfAll, active: true, email: email(address), reason: "asked", actor: "t")
        try await fixture.sync()
        fixture.tick()
        _ = try fixture.store.recordConsent(
            email: email(address), purpose: .newsletter, state: .granted, source: "web form", liftingOptOut: true,
            actor: "t")
        let write = "/statuses/batch/write"
        switch fault {
        case .killedBeforeTheWrite:
            fixture.transport = KilledBeforeWriteTransport(killedBefore: write, inner: fixture.crmTransport)
        case .replyLost: fixture.transport = LostReplyTransport(losingTheReplyTo: write, inner: fixture.crmTransport)
        }
        await #expect(throws: (any Error).self) { try await fixture.sync() }
        fixture.transport = fixture.crmTransport
        let report = try await fixture.sync()
        #expect(report.summary.failures == 0, "\(report.failures)")
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "false")
        #expect(try await fixture.crmStatus(address, .newsletter) == "SUBSCRIBED")
        #expect(try await fixture.crmStatus(address, .marketingEmail) == "UNSUBSCRIBED")
        #expect(try fixture.consent(address, .newsletter) == .granted)
        #expect(try fixture.consent(address, .marketingEmail) == .withdrawn)
        #expect(try !fixture.isOptedOut(address))
        #expect(try fixture.store.outboxCount() == 0)
        try await fixture.expectSettled()
    }

    @Test func liftingGrantOfAnAlreadyGrantedPurposeRecordsTheReConsent() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "again@example.fi"
        try fixture.importCSV("email,newsletter,consentSource\n\(address),granted,web form\n")
        _ = try fixture.store.setSuppression(
            .optedOutOfAll, active: true, email: email(address), reason: "asked", actor: "t")
        let optedOutAt = try #require(try fixture.store.suppressions(contactId: try fixture.local(address)!.id).first)
            .changedAt
        fixture.tick()
        let outcome = try fixture.store.recordConsent(
            email: email(address), purpose: .newsletter, state: .granted, source: "web form", liftingOptOut: true,
            actor: "t")
        #expect(outcome == .changed)
        #expect(try !fixture.isOptedOut(address))
        let reConsent = try fixture.history(address).last { $0.purpose == .newsletter && $0.state == .granted }
        #expect(try #require(reConsent).occurredAt > optedOutAt)
    }
}
