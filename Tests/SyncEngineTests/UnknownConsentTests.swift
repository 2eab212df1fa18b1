import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Issue 13, item 8: `unknown` (NOT_SPECIFIED) is never a decision.
@Suite struct UnknownConsentTests {
    @Test(arguments: [ConsentState.withdrawn, .granted])
    func importSayingUnknownChangesNeitherSide(recorded: ConsentState) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "unknown@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),\(recorded.rawValue)\n")
        try await fixture.sync()
        let expected = recorded == .granted ? "SUBSCRIBED" : "UNSUBSCRIBED"
        #expect(try await fixture.crmStatus(address, .newsletter) == expected)
        fixture.tick()
        try fixture.importCSV("email,newsletter\n\(address),unknown\n")
        try await fixture.sync()
        try await fixture.sync()
        #expect(try fixture.consent(address, .newsletter) == recorded)
        #expect(try await fixture.crmStatus(address, .newsletter) == expected)
        #expect(try !fixture.history(address).contains { $0.state == .unknown })
    }

    @Test func crmNotSpecifiedNeverOverridesALocalWithdrawal() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "reset@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),withdrawn\n")
        try await fixture.sync()
        fixture.tick()
        try await fixture.crmWriteStatus(address, .newsletter, "NOT_SPECIFIED")
        try await fixture.sync()
        #expect(try fixture.consent(address, .newsletter) == .withdrawn)
        #expect(try await fixture.crmStatus(address, .newsletter) == "UNSUBSCRIBED")
        try await fixture.expectSettled()
    }

    @Test func notSpecifiedUnderACRMOptOutAgreesWithTheWithdrawalItCaused() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "outed@example.fi"
        try fixture.importCSV("email,newsletter\n\(address),granted\n")
        _ = try await fixture.seedCRM([MockSeedContact(["email": address], isOptedOutOfAll: true)])
        try await fixture.sync()
        #expect(try fixture.isOptedOut(address))
        #expect(try fixture.consent(address, .newsletter) == .withdrawn)
        #expect(try await fixture.crmStatus(address, .newsletter) == "NOT_SPECIFIED")
        try await fixture.expectSettled()
    }
}
