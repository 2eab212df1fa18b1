import Foundation
import SyncEngine
import SyncModel
import Testing

/// HubSpot keeps subscription statuses per address, with or without a contact record: creating the contact
/// there never overwrites a newer decision the CRM already holds for the address. Found by the model checker
/// (seeds 51044, 51324, 51443 of `crmsync-bench check`).
@Suite struct AddressConsentTests {
    @Test(arguments: [(local: "granted", crm: "UNSUBSCRIBED"), (local: "withdrawn", crm: "SUBSCRIBED")])
    func aNewerCRMDecisionForTheAddressSurvivesTheContactsCreation(local: String, crm: String) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName,marketingEmail\naddress@example.fi,Osoite,\(local)\n")
        fixture.tick()
        // Someone else records a decision for the address in HubSpot before crmsync created the contact.
        try await fixture.crm(
            "POST", "/communication-preferences/v4/statuses/batch/write",
            [
                "inputs": [
                    [
                        "subscriberIdString": "address@example.fi", "subscriptionId": 8, "channel": "EMAIL",
                        "statusState": crm, "legalBasis": "CONSENT_WITH_NOTICE",
                    ]
                ]
            ])
        try await fixture.sync()
        try await fixture.sync()
        #expect(try await fixture.crmStatuses("address@example.fi")[8] == crm)
        #expect(
            try fixture.consent("address@example.fi", .marketingEmail) == (crm == "SUBSCRIBED" ? .granted : .withdrawn))
        let third = try await fixture.sync(dryRun: true)
        #expect(third.changes.isEmpty, "\(third.changes.map(\.rule))")
    }
}
