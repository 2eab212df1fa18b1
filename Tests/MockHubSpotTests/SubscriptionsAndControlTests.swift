import Foundation
import MockHubSpot
import Testing

private let v4 = "/communication-preferences/v4/statuses"

private func statuses(_ reply: MockHTTP.Reply, for email: String) -> [Int: String] {
    let result = reply.results.first { $0["subscriberIdString"] as? String == email }
    let entries = (result?["statuses"] as? [[String: Any]]) ?? []
    return Dictionary(
        uniqueKeysWithValues: entries.map { ($0["subscriptionId"] as? Int ?? 0, $0["status"] as? String ?? "") })
}

@Test func v4StatusesRoundTripWithLegalBasis() async throws {
    try await MockHTTP.withMock { http in
        let definitions = try await http.call("GET", "/communication-preferences/v3/definitions")
        let ids = (definitions.object["subscriptionDefinitions"] as? [[String: Any]])?.compactMap {
            $0["id"] as? String
        }
        #expect(ids == ["7", "8", "9", "10"])
        let write = try await http.call(
            "POST", "\(v4)/batch/write",
            [
                "inputs": [
                    [
                        "subscriberIdString": "aino@example.fi", "subscriptionId": 7, "channel": "EMAIL",
                        "statusState": "SUBSCRIBED", "legalBasis": "CONSENT_WITH_NOTICE",
                        "legalBasisExplanation": "web form",
                    ],
                    [
                        "subscriberIdString": "aino@example.fi", "subscriptionId": 8, "channel": "EMAIL",
                        "statusState": "UNSUBSCRIBED",
                    ],
                    [
                        "subscriberIdString": "aino@example.fi", "subscriptionId": 999, "channel": "EMAIL",
                        "statusState": "SUBSCRIBED",
                    ],
                ]
            ])
        #expect(write.status == 207)
        let read = try await http.call(
            "POST", "\(v4)/batch/read?channel=EMAIL", ["inputs": ["AINO@example.fi", "other@example.fi"]])
        #expect(read.status == 200)
        #expect(
            statuses(read, for: "aino@example.fi") == [
                7: "SUBSCRIBED", 8: "UNSUBSCRIBED", 9: "NOT_SPECIFIED", 10: "NOT_SPECIFIED",
            ])
        #expect(statuses(read, for: "other@example.fi").values.allSatisfy { $0 == "NOT_SPECIFIED" })
        let entry = (read.results.first?["statuses"] as? [[String: Any]])?.first { $0["subscriptionId"] as? Int == 7 }
        #expect(entry?["legalBasis"] as? String == "CONSENT_WITH_NOTICE")
        #expect(entry?["timestamp"] is String)
    }
}

@Test func unsubscribeAllKeepsOptOutPropertyInStepAndBlocksV3Resubscribe() async throws {
    try await MockHTTP.withMock { http in
        let created = try await http.call(
            "POST", "/crm/v3/objects/contacts", ["properties": ["email": "aino@example.fi"]])
        let id = try #require(created.object["id"] as? String)
        let before = (created.object["properties"] as? [String: Any])?["lastmodifieddate"] as? String
        try await Task.sleep(for: .milliseconds(5))
        #expect(try await http.call("POST", "\(v4)/aino@example.fi/unsubscribe-all?channel=EMAIL").status == 200)
        // The answer lists subscription statuses, as HubSpot's does; the opt-out's own time is for the read.
        let again = try await http.call(
            "POST", "\(v4)/batch/unsubscribe-all?channel=EMAIL", ["inputs": ["aino@example.fi"]])
        let statuses = again.results.first?["statuses"] as? [[String: Any]] ?? []
        #expect(statuses.count == 4 && statuses.allSatisfy { $0["status"] as? String == "UNSUBSCRIBED" })
        #expect(statuses.first?["setStatusSuccessReason"] as? String == "NO_STATUS_CHANGE")
        #expect(again.results.first?["wideStatuses"] == nil)
        let contact = try await http.call("GET", "/crm/v3/objects/contacts/\(id)?properties=hs_email_optout")
        let properties = contact.object["properties"] as? [String: Any]
        #expect(properties?["hs_email_optout"] as? String == "true")
        #expect(properties?["lastmodifieddate"] as? String != before)
        let wide = try await http.call(
            "POST", "\(v4)/batch/unsubscribe-all/read?channel=EMAIL", ["inputs": ["aino@example.fi"]])
        let wideStatus = (wide.results.first?["wideStatuses"] as? [[String: Any]])?.first
        #expect(wideStatus?["wideStatusType"] as? String == "PORTAL_WIDE")
        let v3 = try await http.call(
            "POST", "/communication-preferences/v3/subscribe",
            ["emailAddress": "aino@example.fi", "subscriptionId": "7", "legalBasis": "CONSENT_WITH_NOTICE"])
        #expect(v3.status == 400)
        let status = try await http.call("GET", "/communication-preferences/v3/status/email/aino@example.fi")
        let first = (status.object["subscriptionStatuses"] as? [[String: Any]])?.first
        #expect(first?["sourceOfStatus"] as? String == "PORTAL_WIDE_STATUS")
        // v4 may re-subscribe, which lifts the opt-out.
        try await http.call(
            "POST", "\(v4)/batch/write",
            [
                "inputs": [
                    [
                        "subscriberIdString": "aino@example.fi", "subscriptionId": 7, "channel": "EMAIL",
                        "statusState": "SUBSCRIBED", "legalBasis": "CONSENT_WITH_NOTICE",
                    ]
                ]
            ])
        let after = try await http.call("GET", "/crm/v3/objects/contacts/\(id)?properties=hs_email_optout")
        #expect((after.object["properties"] as? [String: Any])?["hs_email_optout"] as? String == "false")
    }
}

@Test func controlSurfaceSeedsConfiguresJournalsAndResets() async throws {
    try await MockHTTP.withMock { http in
        let seeded = try await http.call(
            "POST", "/__mock/seed",
            [
                "contacts": [
                    ["email": "a@x.fi", "firstname": "A", "subscriptions": ["7": "SUBSCRIBED"], "optedOutOfAll": true]
                ]
            ])
        #expect(seeded.status == 200)
        let id = try #require((seeded.object["ids"] as? [String])?.first)
        let contact = try await http.call("GET", "/crm/v3/objects/contacts/\(id)?properties=hs_email_optout,firstname")
        #expect((contact.object["properties"] as? [String: Any])?["hs_email_optout"] as? String == "true")
        let generated = try await http.call(
            "POST", "/__mock/seed", ["generate": 1000, "lastModified": "2026-01-01T00:00:00.000Z"])
        #expect((generated.object["ids"] as? [String])?.count == 1000)
        let search = try await http.call(
            "POST", "/crm/v3/objects/contacts/search",
            [
                "filterGroups": [
                    ["filters": [["propertyName": "lastmodifieddate", "operator": "EQ", "value": "1767225600000"]]]
                ], "limit": 1,
            ])
        #expect(search.object["total"] as? Int == 1000)

        let config = try await http.call("PUT", "/__mock/config", ["rateLimit": ["max": 190], "searchLagMs": 0])
        #expect((config.object["rateLimit"] as? [String: Any])?["max"] as? Int == 190)
        #expect((config.object["rateLimit"] as? [String: Any])?["intervalMs"] as? Int == 10_000)
        #expect(try await http.call("PUT", "/__mock/config", ["rateLimits": [:]]).status == 400)

        try await http.call(
            "POST", "/crm/v3/objects/contacts/batch/upsert",
            ["inputs": [["id": "b@x.fi", "idProperty": "email", "properties": [:]]]])
        let journal = try #require(try await http.call("GET", "/__mock/journal").json as? [[String: Any]])
        #expect(
            journal.map { $0["path"] as? String } == [
                "/crm/v3/objects/contacts/\(id)", "/crm/v3/objects/contacts/search",
                "/crm/v3/objects/contacts/batch/upsert",
            ])
        #expect(journal.map { $0["mutating"] as? Bool } == [false, false, true])
        #expect(journal.first?["query"] as? String == "properties=hs_email_optout,firstname")
        let stats = try await http.call("GET", "/__mock/stats")
        #expect((stats.object["byEndpoint"] as? [String: Int])?["GET /crm/v3/objects/contacts/{id}"] == 1)

        #expect(try await http.call("POST", "/__mock/reset").status == 200)
        #expect(try await http.call("GET", "/__mock/stats").object["contacts"] as? Int == 0)
        #expect((try await http.call("GET", "/__mock/journal").json as? [Any])?.isEmpty == true)
    }
}

@Test func controlClientSeedsConfiguresJournalsAndResetsWithTypes() async throws {
    try await MockHTTP.withMock { http in
        let control = http.control
        let ids = try await control.seed(
            .contacts([
                MockSeedContact(
                    ["email": "A@x.fi", "firstname": "A"], subscriptions: [7: "SUBSCRIBED"], isOptedOutOfAll: true),
                ["email": "b@x.fi"],
            ]))
        #expect(ids.count == 2)
        let contact = try await http.call("GET", "/crm/v3/objects/contacts/\(ids[0])?properties=email,hs_email_optout")
        #expect((contact.object["properties"] as? [String: Any])?["email"] as? String == "a@x.fi")
        #expect((contact.object["properties"] as? [String: Any])?["hs_email_optout"] as? String == "true")
        let statuses = try await http.call(
            "POST", "/communication-preferences/v4/statuses/batch/read?channel=EMAIL", ["inputs": ["a@x.fi"]])
        let subscribed = (statuses.results.first?["statuses"] as? [[String: Any]])?.first {
            $0["subscriptionId"] as? Int == 7
        }
        #expect(subscribed?["status"] as? String == "SUBSCRIBED")
        let pinned = try #require(try? Date("2026-01-01T00:00:00Z", strategy: .iso8601))
        #expect(try await control.seed(.generated(10, seed: 3, lastModified: pinned)).count == 10)

        // A closure changes what it names and keeps the rest; a whole configuration replaces, `scopes: nil` too.
        try await control.configure { $0.scopes = ["crm.objects.contacts.read"] }
        let changed = try await control.configure { $0.rateLimit.max = 190 }
        #expect(changed.rateLimit == .init(max: 190, intervalMs: 10_000))
        #expect(changed.scopes == ["crm.objects.contacts.read"])
        #expect(try await control.configuration() == changed)
        #expect(try await control.configure(MockConfiguration()) == MockConfiguration())

        try await control.tamper(MockTampering(id: ids[1], properties: ["city": "Nowhere"]))
        let tampered = try await http.call("GET", "/crm/v3/objects/contacts/\(ids[1])?properties=city")
        #expect((tampered.object["properties"] as? [String: Any])?["city"] as? String == "Nowhere")
        #expect(try await control.advance(by: .seconds(2)) >= .milliseconds(2_000))

        let journal = try await control.journal()
        #expect(journal.map(\.path).prefix(2) == ["/crm/v3/objects/contacts/\(ids[0])", statusesPath])
        #expect(journal.map(\.isMutating) == [false, false, false])
        #expect(journal.first?.query == "properties=email,hs_email_optout")
        #expect(try await control.journal(since: 2).map(\.path) == ["/crm/v3/objects/contacts/\(ids[1])"])
        let stats = try await control.stats()
        #expect(stats.contacts == 12 && stats.total == 3 && stats.blocklisted == 0)
        #expect(stats.byEndpoint["GET /crm/v3/objects/contacts/{id}"] == 2)

        try await control.reset()
        #expect(try await control.stats().contacts == 0)
        #expect(try await control.journal().isEmpty)
    }
}

private let statusesPath = "/communication-preferences/v4/statuses/batch/read"

@Test func controlClientNamesTheEndpointAndTheMocksMessageWhenRefused() async throws {
    try await MockHTTP.withMock { http in
        let error = await #expect(throws: MockControlError.self) {
            try await http.control.tamper(MockTampering(id: "99999999999", properties: ["city": "Oulu"]))
        }
        #expect(error?.code == .refused)
        #expect(error?.status == 400)
        #expect(error?.endpoint == "POST /__mock/tamper")
        #expect(error?.errorDescription?.contains("tamper needs an existing id") == true)
        var limits = MockConfiguration()
        limits.dailyLimit = 0
        await #expect(throws: MockControlError.self) { try await http.control.configure(limits) }
    }
    let stopped = try await MockHubSpotServer.start()
    await stopped.stop()
    let unreachable = await #expect(throws: MockControlError.self) { try await stopped.control.stats() }
    #expect(unreachable?.code == .unreachable)
}
