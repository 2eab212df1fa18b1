import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import Testing

/// The core's record values (addresses, merged ids, the opt-out of all email, the lifecycle stage, the modification
/// time) come with every read, whatever the caller asked for: the engine names mapped properties only, never
/// HubSpot's own, and the adapter asks for those itself.
@Test func everyReadCarriesTheRecordValuesTheCallerDidNotNameInHubSpotsWords() async throws {
    let fixture = try await MockedClient.start()
    let ids = try await fixture.mock.seed(
        .contacts([
            MockSeedContact(["email": "Aino@Example.fi", "lifecyclestage": "customer"], isOptedOutOfAll: true),
            MockSeedContact(["email": "aino.old@example.fi"]),
        ]))
    let merge = HTTPRequest(
        method: "POST", url: fixture.server.baseURL.appending(path: "crm/v3/objects/contacts/merge"),
        headers: ["Authorization": "Bearer \(fixture.server.token)", "Content-Type": "application/json"],
        body: try JSONSerialization.data(withJSONObject: ["primaryObjectId": ids[0], "objectIdToMerge": ids[1]]))
    let merged = try await AsyncHTTPClientTransport().send(merge)
    // HubSpot gives the merged record a new id, which carries both.
    let survivor = try #require(
        (try JSONSerialization.jsonObject(with: merged.body) as? [String: Any])?["id"] as? String)

    func expectValues(_ record: CRMContact?, _ read: String) {
        #expect(record?.id == survivor, "\(read)")
        #expect(record?.email == "aino@example.fi", "\(read)")
        #expect(record?.addresses == ["aino@example.fi", "aino.old@example.fi"], "\(read)")
        #expect(record?.mergedIds.sorted() == ids.sorted(), "\(read)")
        #expect(record?.isOptedOutOfAllEmail == true, "\(read)")
        #expect(record?.lifecycleStage == "customer", "\(read)")
        #expect(record?.lastModified != nil, "\(read)")
    }
    expectValues(try await fixture.client.batchRead([ids[1]], properties: ["email"]).found[ids[1]], "batch read by id")
    expectValues(
        try await fixture.client.batchRead(["aino@example.fi"], byEmail: true, properties: []).found["aino@example.fi"],
        "batch read by address")
    expectValues(try await fixture.client.contact(email: "aino@example.fi", properties: ["email"]), "read by address")
    expectValues(try await fixture.client.contact(id: ids[1]), "read by a merged id")
    var listed: [CRMContact] = []
    for try await page in fixture.client.allContacts(properties: ["email"]) { listed += page.contacts }
    expectValues(listed.first, "listing")
    var changed: [CRMContact] = []
    for try await page in fixture.client.changedContacts(since: .distantPast, properties: ["email"]) {
        changed += page.contacts
    }
    expectValues(changed.first, "change feed")
    await fixture.stop()
}
