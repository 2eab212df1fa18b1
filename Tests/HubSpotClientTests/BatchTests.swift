import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import Testing

@Test func upsertOf250WithThreeInvalidEmailsWrites247AndReportsThree() async throws {
    let fixture = try await MockedClient.start()
    var inputs = (0..<247).map { ContactUpsert(email: "person\($0)@example.fi", properties: ["firstname": "P\($0)"]) }
    inputs.insert(ContactUpsert(email: "broken@", properties: [:]), at: 10)
    inputs.insert(ContactUpsert(email: "no spaces@example.fi", properties: [:]), at: 100)
    inputs.insert(ContactUpsert(email: "nodomain", properties: [:]), at: 200)
    let outcome = try await fixture.client.upsertByEmail(inputs)
    let stats = try await fixture.mock.stats()
    await fixture.stop()
    #expect(outcome.written.count == 247)
    #expect(outcome.failures.count == 3)
    #expect(outcome.failures.allSatisfy { $0.category == "INVALID_EMAIL" })
    #expect(stats.contacts == 247)
    // 247 valid inputs in three batches; a loaded machine may add a retry of one of them
    #expect(fixture.client.metrics.requests - fixture.client.metrics.retries == 3)
    #expect(outcome.failures.map(\.description).allSatisfy { !$0.contains("broken@") || $0.contains("***") })
}

@Test func refusedUpsertBatchIsSplitSoGoodInputsAreStillWritten() async throws {
    let fixture = try await MockedClient.start()
    for blocked in ["blocked1@example.fi", "blocked2@example.fi"] {
        try await fixture.client.gdprDelete(email: blocked)  // unknown address: HubSpot blocklists it
    }
    var inputs = (0..<98).map { ContactUpsert(email: "ok\($0)@example.fi", properties: [:]) }
    inputs.insert(ContactUpsert(email: "blocked1@example.fi", properties: [:]), at: 20)
    inputs.insert(ContactUpsert(email: "blocked2@example.fi", properties: [:]), at: 70)
    let outcome = try await fixture.client.upsertByEmail(inputs)
    await fixture.stop()
    #expect(outcome.written.count == 98)
    #expect(Set(outcome.failures.map(\.key)) == ["blocked1@example.fi", "blocked2@example.fi"])
    #expect(outcome.failures.allSatisfy { $0.category == "VALIDATION_ERROR" })
}

@Test func upsertNeverCarriesTheOptOutProperty() async throws {
    let fixture = try await MockedClient.start()
    let outcome = try await fixture.client.upsertByEmail([
        ContactUpsert(email: "a@example.fi", properties: ["hs_email_optout": "false"])
    ])
    await fixture.stop()
    #expect(outcome.written.isEmpty)
    #expect(outcome.failures.first?.category == "READ_ONLY_VALUE")
    #expect(fixture.client.metrics.requests == 0)
}

@Test func batchUpdateReportsFailedInputsAndNeverResendsGoodOnes() async throws {
    let fixture = try await MockedClient.start(seed: 4)
    let outcome = try await fixture.client.update([
        ContactUpdate(id: "10000000001", properties: ["city": "Oulu"]),
        ContactUpdate(id: "10000000002", properties: ["email": "bad@"]),
        ContactUpdate(id: "99999999999", properties: ["city": "Oulu"]),
        ContactUpdate(id: "10000000004", properties: ["city": "Turku"]),
    ])
    let updates = try await fixture.journal().filter { $0.path.hasSuffix("/batch/update") }
    await fixture.stop()
    #expect(Set(outcome.written.keys) == ["10000000001", "10000000004"])
    #expect(
        Dictionary(uniqueKeysWithValues: outcome.failures.map { ($0.key, $0.category) })
            == ["10000000002": "VALIDATION_ERROR", "99999999999": "OBJECT_NOT_FOUND"])
    #expect(updates.count == 1)
    #expect(updates.first?.status == 207)
}

@Test func subscriptionsRoundTripAndOptOutIsRead() async throws {
    let fixture = try await MockedClient.start()
    let definitions = try await fixture.client.subscriptionDefinitions()
    #expect(definitions.map(\.id) == ["7", "8", "9", "10"])
    let outcome = try await fixture.client.writeSubscriptionStatuses([
        SubscriptionWrite(
            email: "Aino@example.fi", subscriptionId: 7, state: .granted, legalBasis: "CONSENT_WITH_NOTICE"),
        SubscriptionWrite(
            email: "aino@example.fi", subscriptionId: 8, state: .withdrawn, legalBasis: "CONSENT_WITH_NOTICE"),
        SubscriptionWrite(email: "aino@example.fi", subscriptionId: 404, state: .granted, legalBasis: nil),
    ])
    #expect(outcome.failures.map(\.category) == ["VALIDATION_ERROR"])
    // HubSpot's time for each status written, as a later read gives it.
    #expect(outcome.writtenAt.count == 2)
    let statuses = try await fixture.client.subscriptionStatuses(for: ["aino@example.fi"])
    let byId = Dictionary(
        uniqueKeysWithValues: (statuses["aino@example.fi"] ?? []).map { ($0.subscriptionId, $0.state) })
    #expect(byId[7] == .granted && byId[8] == .withdrawn && byId[9] == .unknown)
    let readAt = (statuses["aino@example.fi"] ?? []).first { $0.subscriptionId == 7 }?.timestamp
    #expect(readAt != nil && outcome.writtenAt[WrittenStatus(email: "aino@example.fi", subscriptionId: 7)] == readAt)
    #expect(try await fixture.client.optedOutOfAll(["aino@example.fi"]).isEmpty)
    try await fixture.client.unsubscribeFromAll(["aino@example.fi"])
    #expect(try await fixture.client.optedOutOfAll(["aino@example.fi"]).keys.sorted() == ["aino@example.fi"])
    await fixture.stop()
}

@Test func gdprDeleteThenVerificationReadSaysErased() async throws {
    let fixture = try await MockedClient.start()
    _ = try await fixture.client.upsertByEmail([ContactUpsert(email: "gone@example.fi", properties: [:])])
    #expect(try await fixture.client.isErased(email: "gone@example.fi") == false)
    try await fixture.client.gdprDelete(email: "gone@example.fi")
    #expect(try await fixture.client.isErased(email: "gone@example.fi"))
    await fixture.stop()
}

@Test func logsCarryNoPersonalData() async throws {
    let fixture = try await MockedClient.start(seed: 50)
    _ = try await fixture.client.upsertByEmail([
        ContactUpsert(email: "secret.person@example.fi", properties: ["firstname": "Zebulon"])
    ])
    _ = try await fixture.client.contact(email: "secret.person@example.fi")
    for try await _ in fixture.client.allContacts(properties: ["email", "firstname"]) {}
    await fixture.stop()
    let logs = fixture.logs.all
    #expect(!logs.isEmpty)
    #expect(!logs.contains { $0.contains("@") || $0.contains("Zebulon") || $0.contains(fixture.server.token) })
}
