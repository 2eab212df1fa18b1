import Foundation
import HubSpotClient
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Issue 13, item 12: an opt-out at an unknown time counts as the newest, never the oldest.
@Suite struct UntimedOptOutTests {
    @Test func crmOptOutWithoutATimeIsNotLiftedByAnEarlierLocalReConsent() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "untimed@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),granted\n")
        try await fixture.sync()
        try await fixture.crmOptOut(address)
        try await fixture.sync()
        #expect(try fixture.isOptedOut(address))
        fixture.tick()
        _ = try fixture.store.recordConsent(
            email: email(address), purpose: .newsletter, state: .granted, source: "web form", liftingOptOut: true,
            actor: "t")
        // Later, in HubSpot: the subject re-subscribes, then opts out of all email again.
        fixture.tick()
        try await fixture.crmWriteStatus(address, .newsletter, "SUBSCRIBED")
        fixture.tick()
        try await fixture.crmOptOut(address)
        fixture.transport = UntimedOptOutTransport(inner: fixture.crmTransport)
        try await fixture.sync()
        #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true")
        #expect(try await fixture.crmStatus(address, .newsletter) == "UNSUBSCRIBED")
        #expect(try fixture.isOptedOut(address))
        #expect(try fixture.consent(address, .newsletter) == .withdrawn)
    }
}
