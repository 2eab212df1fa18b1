import Foundation
import MockHubSpot
import Testing

/// The mock speaks HubSpot's legacy paths and both date versions (contract section 0).
@Suite struct APIGenerationsTests {
    static let generations = [
        (contacts: "/crm/v3/objects/contacts", preferences: "/communication-preferences/v4/statuses"),
        (contacts: "/crm/objects/2026-03/contacts", preferences: "/communication-preferences/2026-03/statuses"),
        (contacts: "/crm/objects/2026-09/contacts", preferences: "/communication-preferences/2026-09/statuses"),
    ]

    @Test(arguments: 0..<3) func everyContactsAndStatusesEndpointAnswersUnderEachGeneration(generation: Int)
        async throws
    {
        let (contacts, preferences) = Self.generations[generation]
        try await MockHTTP.withMock(configuration: MockHTTP.unlimited()) { http in
            let created = try await http.call(
                "POST", contacts, ["properties": ["email": "g@example.fi", "lastname": "G"]])
            #expect(created.status == 201)
            let id = try #require(created.object["id"] as? String)
            #expect(try await http.call("GET", "\(contacts)/\(id)").status == 200)
            #expect(try await http.call("GET", "\(contacts)?limit=10").results.count == 1)
            let upsert = try await http.call(
                "POST", "\(contacts)/batch/upsert",
                ["inputs": [["id": "h@example.fi", "idProperty": "email", "properties": ["lastname": "H"]]]])
            #expect(upsert.status == 200)
            let read = try await http.call(
                "POST", "\(contacts)/batch/read", ["inputs": [["id": id]], "properties": ["email"]])
            #expect(read.results.count == 1)
            let search = try await http.call(
                "POST", "\(contacts)/search",
                [
                    "filterGroups": [
                        ["filters": [["propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"]]]
                    ],
                    "limit": 10,
                ])
            #expect(search.status == 200 && search.results.count == 2)
            let write = try await http.call(
                "POST", "\(preferences)/batch/write",
                [
                    "inputs": [
                        [
                            "subscriberIdString": "g@example.fi", "subscriptionId": 7, "channel": "EMAIL",
                            "statusState": "SUBSCRIBED", "legalBasis": "CONSENT_WITH_NOTICE",
                        ]
                    ]
                ])
            #expect(write.status == 200)
            let statuses = try await http.call(
                "POST", "\(preferences)/batch/read?channel=EMAIL", ["inputs": ["g@example.fi"]])
            let first = try #require(statuses.results.first?["statuses"] as? [[String: Any]])
            #expect(first.contains { $0["subscriptionId"] as? Int == 7 && $0["status"] as? String == "SUBSCRIBED" })
            #expect(
                try await http.call(
                    "POST", "\(preferences)/batch/unsubscribe-all?channel=EMAIL", ["inputs": ["g@example.fi"]]
                ).status < 300)
            #expect(try await http.call("POST", "\(contacts)/gdpr-delete", ["objectId": id]).status == 204)
            #expect(try await http.call("GET", "\(contacts)/\(id)").status == 404)
        }
    }

    @Test func definitionsComeInTheV4ShapeWithIntegerIdsOnDateVersions() async throws {
        try await MockHTTP.withMock { http in
            let legacy = try await http.call("GET", "/communication-preferences/v3/definitions")
            let legacyIds = (legacy.object["subscriptionDefinitions"] as? [[String: Any]])?.compactMap {
                $0["id"] as? String
            }
            #expect(legacyIds == ["7", "8", "9", "10"])
            for version in ["2026-03", "2026-09"] {
                let dated = try await http.call("GET", "/communication-preferences/\(version)/definitions")
                #expect(dated.object["status"] as? String == "COMPLETE")
                #expect(dated.results.compactMap { $0["id"] as? Int } == [7, 8, 9, 10])
                #expect(dated.results.allSatisfy { $0["isActive"] as? Bool == true })
            }
            // The v3 single-address calls have no date-versioned twin.
            #expect(
                try await http.call("GET", "/communication-preferences/2026-09/status/email/a@example.fi").status == 404
            )
        }
    }

    @Test func repeatedListParametersMeanTheSameAsACommaList() async throws {
        try await MockHTTP.withMock { http in
            let created = try await http.call(
                "POST", "/crm/objects/2026-09/contacts",
                ["properties": ["email": "r@example.fi", "firstname": "R", "lastname": "S"]])
            let id = try #require(created.object["id"] as? String)
            let repeated = try await http.call(
                "GET", "/crm/objects/2026-09/contacts/\(id)?properties=firstname&properties=lastname")
            let listed = try await http.call("GET", "/crm/objects/2026-09/contacts/\(id)?properties=firstname,lastname")
            let names = { (reply: MockHTTP.Reply) in Set(((reply.object["properties"] as? [String: Any]) ?? [:]).keys) }
            #expect(names(repeated).isSuperset(of: ["firstname", "lastname"]))
            #expect(names(repeated) == names(listed))
        }
    }

    @Test func otherObjectsNeedScopesAndUnknownRoutesAnswerJSON404() async throws {
        try await MockHTTP.withMock { http in
            for path in [
                "/crm/v3/objects/companies", "/crm/objects/2026-09/deals/12", "/crm/v3/properties/companies",
                "/crm/properties/2026-09/tickets", "/crm/v3/schemas",
            ] {
                let reply = try await http.call("GET", path)
                #expect(reply.status == 403, "\(path)")
                #expect(reply.object["category"] as? String == "MISSING_SCOPES", "\(path)")
            }
            let unknown = try await http.call("GET", "/nothing/here")
            #expect(unknown.status == 404)
            #expect(unknown.object["category"] as? String == "OBJECT_NOT_FOUND")
        }
    }

    /// What extractors call while they discover a portal, answered as HubSpot answers a token holding contact scopes
    /// only: the contact endpoints served (the legacy property lists as bare arrays, the object in the singular), the
    /// other objects' `403 MISSING_SCOPES`, never a 404 (issue 23).
    @Test func theOlderDiscoveryEndpointsServeContactsAndRefuseOtherObjectsByScope() async throws {
        try await MockHTTP.withMock { http in
            _ = try await http.call("POST", "/crm/v3/objects/contacts", ["properties": ["email": "a@example.fi"]])
            for path in ["/properties/v1/contacts/properties", "/properties/v2/contacts/properties"] {
                let reply = try await http.call("GET", path)
                #expect(reply.status == 200, "\(path)")
                let list = reply.json as? [[String: Any]]
                #expect(list?.contains { $0["name"] as? String == "email" } == true, "\(path)")
                #expect(list?.first?["readOnlyDefinition"] != nil, "\(path)")
            }
            let singular = try await http.call("GET", "/crm/v3/objects/contact?limit=10")
            #expect(singular.status == 200)
            #expect((singular.object["results"] as? [Any])?.count == 1)
            let search = try await http.call("POST", "/crm/v3/objects/contact/search", ["limit": 10])
            #expect(search.status == 200)
            for path in [
                "/properties/v1/companies/properties", "/properties/v2/deals/properties", "/companies/v2/properties",
                "/deals/v1/deal/paged", "/owners/v2/owners", "/crm/v3/objects/company", "/crm/v3/objects/deal/1",
            ] {
                let reply = try await http.call("GET", path)
                #expect(reply.status == 403, "\(path)")
                #expect(reply.object["category"] as? String == "MISSING_SCOPES", "\(path)")
            }
        }
    }

    @Test func associationsOnAContactReadAreEmptyNotAnError() async throws {
        try await MockHTTP.withMock { http in
            let created = try await http.call(
                "POST", "/crm/objects/2026-09/contacts", ["properties": ["email": "a@example.fi"]])
            let id = try #require(created.object["id"] as? String)
            let reply = try await http.call("GET", "/crm/objects/2026-09/contacts/\(id)?associations=companies,deals")
            #expect(reply.status == 200)
            let associations = reply.object["associations"] as? [String: Any]
            #expect(((associations?["companies"] as? [String: Any])?["results"] as? [Any])?.isEmpty == true)
            #expect(associations?["deals"] != nil)
        }
    }

    @Test func propertiesDescribeTypesOptionsAndWhatIsReadOnly() async throws {
        try await MockHTTP.withMock { http in
            for path in [
                "/crm/v3/properties/contacts", "/crm/properties/2026-09/contacts", "/crm/properties/2026-03/0-1",
            ] {
                let reply = try await http.call("GET", path)
                #expect(reply.status == 200, "\(path)")
                let byName = Dictionary(uniqueKeysWithValues: reply.results.map { ($0["name"] as? String ?? "", $0) })
                let stage = try #require(byName["lifecyclestage"])
                #expect(stage["type"] as? String == "enumeration")
                #expect(
                    (stage["options"] as? [[String: Any]])?.contains { $0["value"] as? String == "customer" } == true)
                let optOut = try #require(byName["hs_email_optout"])
                #expect((optOut["modificationMetadata"] as? [String: Any])?["readOnlyValue"] as? Bool == true)
                #expect(byName["hs_analytics_num_visits"]?["calculated"] as? Bool == true)
            }
            let bad = try await http.call(
                "POST", "/crm/objects/2026-09/contacts",
                ["properties": ["email": "b@example.fi", "lifecyclestage": "Customer"]])
            #expect(bad.status == 400)
            #expect(((bad.object["errors"] as? [[String: Any]])?.first?["code"] as? String) == "INVALID_OPTION")
        }
    }

    @Test func requiredPropertiesAreEnforcedOnlyOnTheSeptemberVersion() async throws {
        var configuration = MockHTTP.unlimited()
        configuration.requiredProperties = ["lastname"]
        configuration.conditionalRequired = [.init(when: ["lifecyclestage": "customer"], require: ["company"])]
        try await MockHTTP.withMock(configuration: configuration) { http in
            for contacts in ["/crm/v3/objects/contacts", "/crm/objects/2026-03/contacts"] {
                let reply = try await http.call(
                    "POST", contacts, ["properties": ["email": "\(contacts.count)@example.fi"]])
                #expect(reply.status == 201, "\(contacts)")
            }
            let dated = "/crm/objects/2026-09/contacts"
            let missing = try await http.call("POST", dated, ["properties": ["email": "m@example.fi"]])
            #expect(missing.status == 400)
            #expect(missing.object["category"] as? String == "VALIDATION_ERROR")
            let error = try #require((missing.object["errors"] as? [[String: Any]])?.first)
            #expect(error["code"] as? String == "MISSING_REQUIRED_PROPERTY")
            #expect((error["context"] as? [String: Any])?["propertyName"] as? [String] == ["lastname"])
            let conditional = try await http.call(
                "POST", dated, ["properties": ["email": "c@example.fi", "lastname": "C", "lifecyclestage": "customer"]])
            #expect(
                ((conditional.object["errors"] as? [[String: Any]])?.first?["code"] as? String)
                    == "MISSING_CONDITIONAL_REQUIRED_PROPERTY")
            #expect(
                try await http.call("POST", dated, ["properties": ["email": "ok@example.fi", "lastname": "K"]]).status
                    == 201)

            // A batch upsert fails whole by default, naming the input; per input (207) when configured so.
            let inputs: [[String: Any]] = [
                [
                    "id": "x@example.fi", "idProperty": "email", "properties": ["lastname": "X"],
                    "objectWriteTraceId": "a",
                ],
                [
                    "id": "y@example.fi", "idProperty": "email", "properties": ["firstname": "Y"],
                    "objectWriteTraceId": "b",
                ],
            ]
            let whole = try await http.call("POST", "\(dated)/batch/upsert", ["inputs": inputs])
            #expect(whole.status == 400)
            #expect((whole.object["message"] as? String)?.hasPrefix("Input 1") == true)
            try await http.control.configure { $0.requiredPropertyFailure = .perInput }
            let partial = try await http.call("POST", "\(dated)/batch/upsert", ["inputs": inputs])
            #expect(partial.status == 207)
            #expect(partial.results.count == 1)
            let perInput = try #require((partial.object["errors"] as? [[String: Any]])?.first)
            #expect(perInput["objectWriteTraceId"] as? String == "b")
            #expect((perInput["context"] as? [String: Any])?["propertyName"] as? [String] == ["lastname"])
        }
    }

    @Test func aTokenWithoutAScopeGets403MissingScopes() async throws {
        var configuration = MockHTTP.unlimited()
        configuration.scopes = ["crm.objects.contacts.read"]
        try await MockHTTP.withMock(configuration: configuration) { http in
            #expect(try await http.call("GET", "/crm/objects/2026-09/contacts?limit=1").status == 200)
            let write = try await http.call("POST", "/crm/objects/2026-09/contacts/batch/update", ["inputs": []])
            #expect(write.status == 403)
            #expect(write.object["category"] as? String == "MISSING_SCOPES")
            #expect(try await http.call("GET", "/crm/properties/2026-09/contacts").status == 403)
        }
    }
}
