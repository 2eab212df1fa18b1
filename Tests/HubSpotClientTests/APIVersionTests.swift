import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import SyncModel
import Testing

/// The client speaks the configured generation of HubSpot's paths, and understands 2026-09's write validation.
@Suite struct APIVersionTests {
    /// Every endpoint the client uses, once.
    static func exerciseEveryEndpoint(_ client: HubSpotClient) async throws {
        _ = try await client.upsertByEmail([ContactUpsert(email: "v@example.fi", properties: ["lastname": "V"])])
        let found = try #require(try await client.contact(email: "v@example.fi"))
        _ = try await client.contact(id: found.id)
        _ = try await client.batchRead([found.id], properties: ["email"])
        _ = try await client.update([ContactUpdate(id: found.id, properties: ["city": "Oulu"])])
        for try await _ in client.allContacts(properties: ["email"]) {}
        for try await _ in client.changedContacts(since: Date(timeIntervalSince1970: 0), properties: ["email"]) {}
        _ = try await client.contactProperties()
        _ = try await client.subscriptionDefinitions()
        _ = try await client.subscriptionStatuses(for: ["v@example.fi"])
        _ = try await client.writeSubscriptionStatuses([
            SubscriptionWrite(
                email: "v@example.fi", subscriptionId: 7, state: .granted, legalBasis: "CONSENT_WITH_NOTICE")
        ])
        try await client.unsubscribeFromAll(["v@example.fi"])
        _ = try await client.optedOutOfAll(["v@example.fi"])
        try await client.archive(ids: [found.id])
        try await client.gdprDelete(email: "v@example.fi")
        _ = try await client.isErased(email: "v@example.fi")
    }

    @Test(arguments: [CRMAPIVersion.v2026_09, .v2026_03, .legacy])
    func everyRequestUsesTheConfiguredGeneration(version: CRMAPIVersion) async throws {
        let fixture = try await MockedClient.start(apiVersion: version)
        try await Self.exerciseEveryEndpoint(fixture.client)
        let ordinary = try await fixture.journal()
        // The scope probes send empty batches, which HubSpot may refuse (400) past its scope check.
        _ = try await fixture.client.checkScopes()
        let journal = try await fixture.journal()
        await fixture.stop()
        let paths = journal.map(\.path)
        #expect(paths.count >= 18)
        #expect(paths.allSatisfy { $0.hasPrefix("/crm/") || $0.hasPrefix("/communication-preferences/") })
        let failed = ordinary.filter { $0.status >= 400 && $0.status != 404 }
        #expect(failed.isEmpty, "\(failed)")
        switch version {
        case .legacy:
            #expect(paths.allSatisfy { $0.contains("/v3/") || $0.contains("/v4/") })
        case .v2026_03, .v2026_09:
            #expect(paths.allSatisfy { $0.contains("/\(version.rawValue)/") }, "\(paths)")
            #expect(!paths.contains { $0.contains("/v3/") || $0.contains("/v4/") })
        }
    }

    @Test(arguments: [CRMAPIVersion.v2026_09, .legacy])
    func subscriptionDefinitionsDecodeInBothShapes(version: CRMAPIVersion) async throws {
        let fixture = try await MockedClient.start(apiVersion: version)
        let definitions = try await fixture.client.subscriptionDefinitions()
        await fixture.stop()
        #expect(definitions.map(\.id) == ["7", "8", "9", "10"])
        #expect(definitions.allSatisfy { $0.isActive == true })
    }

    static func portal(lastnameRequired mode: MockConfiguration.RequiredPropertyFailure) -> MockConfiguration {
        var mock = MockedClient.unlimitedMock()
        mock.requiredProperties = ["lastname"]
        mock.requiredPropertyFailure = mode
        return mock
    }

    @Test(arguments: [MockConfiguration.RequiredPropertyFailure.batch, .perInput])
    func missingRequiredPropertyIsAPerContactRefusalNamingTheProperty(
        mode: MockConfiguration.RequiredPropertyFailure
    ) async throws {
        let fixture = try await MockedClient.start(mock: Self.portal(lastnameRequired: mode))
        var inputs = (0..<60).map { ContactUpsert(email: "ok\($0)@example.fi", properties: ["lastname": "L\($0)"]) }
        inputs.insert(ContactUpsert(email: "nolast1@example.fi", properties: ["firstname": "A"]), at: 10)
        inputs.insert(ContactUpsert(email: "nolast2@example.fi", properties: [:]), at: 45)
        let outcome = try await fixture.client.upsertByEmail(inputs)
        // A retry on a loaded machine (a timeout) is not a request the batching chose.
        let requests = fixture.client.metrics.requests - fixture.client.metrics.retries
        await fixture.stop()
        #expect(outcome.written.count == 60)
        #expect(Set(outcome.failures.map(\.key)) == ["nolast1@example.fi", "nolast2@example.fi"])
        for failure in outcome.failures {
            #expect(
                failure.requiredProperties
                    == RequiredPropertyRefusal(code: "MISSING_REQUIRED_PROPERTY", properties: ["lastname"]))
            #expect(failure.isRefusal)
            #expect(failure.description.contains("lastname") && !failure.description.contains("nolast"))
        }
        // Per input: one request. Whole-batch refusals are isolated by halving, never resent as if transient.
        // Two bad inputs among 62, halving: at most 2 × 2 × ⌈log2 62⌉ + 1 requests.
        #expect(mode == .perInput ? requests == 1 : requests <= 25, "\(requests) requests")
    }

    @Test func aBatchUpdateRefusedWholeIsSplitSoTheOthersAreWritten() async throws {
        let fixture = try await MockedClient.start(mock: Self.portal(lastnameRequired: .batch))
        let seeded = try await fixture.client.upsertByEmail(
            (0..<10).map { ContactUpsert(email: "u\($0)@example.fi", properties: ["lastname": "U"]) })
        let ids = (0..<10).compactMap { seeded.written["u\($0)@example.fi"]?.id }
        var updates = ids.map { ContactUpdate(id: $0, properties: ["city": "Turku"]) }
        updates[3].properties["lastname"] = ""  // clearing a required property is refused
        let outcome = try await fixture.client.update(updates)
        await fixture.stop()
        #expect(outcome.written.count == 9)
        #expect(outcome.failures.map(\.key) == [ids[3]])
        #expect(outcome.failures.first?.requiredProperties?.properties == ["lastname"])
    }

    @Test func propertyDefinitionsTellWhatAValueMustLookLike() async throws {
        let fixture = try await MockedClient.start()
        let definitions = Dictionary(
            uniqueKeysWithValues: try await fixture.client.contactProperties().map { ($0.name, $0) })
        await fixture.stop()
        let stage = try #require(definitions["lifecyclestage"])
        #expect(stage.problem(with: "customer") == nil)
        #expect(stage.problem(with: "Customer") != nil)
        #expect(definitions["annualrevenue"]?.problem(with: "1000000") == nil)
        #expect(definitions["annualrevenue"]?.problem(with: "1,000,000") != nil)
        #expect(definitions["annualrevenue"]?.problem(with: "1-10M") != nil)
        #expect(definitions["hs_email_optout"]?.isWritable == false)
        #expect(definitions["hs_analytics_num_visits"]?.isWritable == false)
        #expect(definitions["firstname"]?.isWritable == true)
    }

    @Test func scopeProbesNameWhatIsMissingAndWriteNothing() async throws {
        var mock = MockedClient.unlimitedMock()
        mock.scopes = ["crm.objects.contacts.read", "crm.objects.contacts.write", "communication_preferences.read"]
        let fixture = try await MockedClient.start(mock: mock)
        let scopes = try await fixture.client.checkScopes()
        let mutations = try await fixture.journal().filter {
            $0.isMutating && $0.status < 300
        }
        let stats = try await fixture.mock.stats()
        await fixture.stop()
        #expect(
            Set(scopes.filter { !$0.granted }.map(\.scope)) == [
                "crm.schemas.contacts.read", "communication_preferences.statuses.batch.read",
                "communication_preferences.statuses.batch.write",
            ])
        #expect(stats.contacts == 0)
        #expect(mutations.allSatisfy { $0.path.hasSuffix("/batch/update") })
    }
}
