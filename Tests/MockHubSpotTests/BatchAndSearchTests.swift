import Foundation
import MockHubSpot
import Testing

private let contacts = "/crm/v3/objects/contacts"

@Test func batchOfOneHundredAndOneInputsIsRejected() async throws {
    try await MockHTTP.withMock { http in
        let inputs = (0...100).map { ["properties": ["email": "p\($0)@example.fi"]] }
        let reply = try await http.call("POST", "\(contacts)/batch/create", ["inputs": inputs])
        #expect(reply.status == 400)
        #expect(reply.object["category"] as? String == "VALIDATION_ERROR")
        #expect(try await http.control.stats().contacts == 0)
    }
}

@Test func batchUpdateWithMixedInputsAnswers207AndWritesTheGoodOnes() async throws {
    try await MockHTTP.withMock(seed: 3) { http in
        let reply = try await http.call(
            "POST", "\(contacts)/batch/update",
            [
                "inputs": [
                    ["id": "10000000001", "properties": ["city": "Oulu"], "objectWriteTraceId": "a"],
                    ["id": "10000000002", "properties": ["email": "broken@"], "objectWriteTraceId": "b"],
                    ["id": "99999999999", "properties": ["city": "Oulu"], "objectWriteTraceId": "c"],
                    ["id": "10000000003", "properties": ["city": "Turku"], "objectWriteTraceId": "d"],
                ]
            ])
        #expect(reply.status == 207)
        #expect(Set(reply.results.compactMap { $0["objectWriteTraceId"] as? String }) == ["a", "d"])
        let errors = try #require(reply.object["errors"] as? [[String: Any]])
        #expect(reply.object["numErrors"] as? Int == 2)
        #expect(
            errors.contains {
                $0["objectWriteTraceId"] as? String == "b" && $0["category"] as? String == "VALIDATION_ERROR"
            })
        #expect(errors.contains { ($0["context"] as? [String: Any])?["ids"] as? [String] == ["99999999999"] })
        let written = try await http.call("GET", "\(contacts)/10000000003?properties=city")
        #expect((written.object["properties"] as? [String: Any])?["city"] as? String == "Turku")
    }
}

@Test func batchCreateIsAllOrNothingWithoutTraceIdsAndPartialWithThem() async throws {
    try await MockHTTP.withMock { http in
        try await http.call("POST", contacts, ["properties": ["email": "taken@example.fi"]])
        let plain = try await http.call(
            "POST", "\(contacts)/batch/create",
            ["inputs": [["properties": ["email": "new@example.fi"]], ["properties": ["email": "taken@example.fi"]]]])
        #expect(plain.status == 409)
        #expect(try await http.call("GET", "\(contacts)/new@example.fi?idProperty=email").status == 404)
        let traced = try await http.call(
            "POST", "\(contacts)/batch/create",
            [
                "inputs": [
                    ["properties": ["email": "new@example.fi"], "objectWriteTraceId": "1"],
                    ["properties": ["email": "taken@example.fi"], "objectWriteTraceId": "2"],
                ]
            ])
        #expect(traced.status == 207)
        #expect(traced.results.count == 1)
        #expect((traced.object["errors"] as? [[String: Any]])?.first?["category"] as? String == "CONFLICT")
    }
}

@Test func upsertByEmailIsAllOrNothingAndMarksNewRecords() async throws {
    try await MockHTTP.withMock { http in
        try await http.call("POST", contacts, ["properties": ["email": "old@example.fi"]])
        let bad = try await http.call(
            "POST", "\(contacts)/batch/upsert",
            [
                "inputs": [
                    ["id": "fresh@example.fi", "idProperty": "email", "properties": ["firstname": "F"]],
                    ["id": "bad@", "idProperty": "email", "properties": [:]],
                ]
            ])
        #expect(bad.status == 400)
        #expect((bad.object["message"] as? String)?.hasPrefix("Input 1") == true)
        #expect(try await http.call("GET", "\(contacts)/fresh@example.fi?idProperty=email").status == 404)
        let good = try await http.call(
            "POST", "\(contacts)/batch/upsert",
            [
                "inputs": [
                    ["id": "fresh@example.fi", "idProperty": "email", "properties": ["firstname": "F"]],
                    ["id": "OLD@example.fi", "idProperty": "email", "properties": ["firstname": "O"]],
                ]
            ])
        #expect(good.status == 200)
        let flags = Dictionary(
            uniqueKeysWithValues: good.results.map {
                (($0["properties"] as? [String: Any])?["email"] as? String ?? "", $0["new"] as? Bool ?? false)
            })
        #expect(flags == ["fresh@example.fi": true, "old@example.fi": false])
    }
}

private func searchBody(after: Int, limit: Int = 200, from: String = "0") -> [String: Any] {
    [
        "filterGroups": [["filters": [["propertyName": "lastmodifieddate", "operator": "GTE", "value": from]]]],
        "sorts": [["propertyName": "lastmodifieddate", "direction": "ASCENDING"]],
        "properties": ["email"], "limit": limit, "after": String(after),
    ]
}

@Test func searchStopsAtTenThousandResults() async throws {
    try await MockHTTP.withMock(seed: 10_050, configuration: MockHTTP.unlimited()) { http in
        let last = try await http.call("POST", "\(contacts)/search", searchBody(after: 9_800))
        #expect(last.status == 200)
        #expect(last.object["total"] as? Int == 10_050)
        #expect(last.results.count == 200)
        #expect(last.object["paging"] == nil)
        let beyond = try await http.call("POST", "\(contacts)/search", searchBody(after: 10_000))
        #expect(beyond.status == 400)
        #expect(try await http.call("POST", "\(contacts)/search", searchBody(after: 0, limit: 201)).status == 400)
    }
}

@Test func searchFiltersSortAndEmailLookup() async throws {
    try await MockHTTP.withMock(seed: 20, configuration: MockHTTP.unlimited()) { http in
        let all = try await http.call("POST", "\(contacts)/search", searchBody(after: 0))
        let dates = all.results.compactMap { ($0["properties"] as? [String: Any])?["lastmodifieddate"] as? String }
        #expect(dates == dates.sorted())
        let email = try #require((all.results[5]["properties"] as? [String: Any])?["email"] as? String)
        let byEmail = try await http.call(
            "POST", "\(contacts)/search",
            ["filterGroups": [["filters": [["propertyName": "email", "operator": "EQ", "value": email.uppercased()]]]]])
        #expect(byEmail.results.count == 1)
        let inList = try await http.call(
            "POST", "\(contacts)/search",
            [
                "filterGroups": [
                    [
                        "filters": [
                            [
                                "propertyName": "hs_object_id", "operator": "IN",
                                "values": ["10000000001", "10000000002"],
                            ]
                        ]
                    ]
                ]
            ])
        #expect(inList.object["total"] as? Int == 2)
        let descending = try await http.call(
            "POST", "\(contacts)/search",
            ["sorts": [["propertyName": "hs_object_id", "direction": "DESCENDING"]], "limit": 1])
        #expect(descending.results.first?["id"] as? String == "10000000020")
        let between = try await http.call(
            "POST", "\(contacts)/search",
            [
                "filterGroups": [
                    [
                        "filters": [
                            [
                                "propertyName": "hs_object_id", "operator": "BETWEEN", "value": "10000000003",
                                "highValue": "10000000005",
                            ]
                        ]
                    ]
                ]
            ])
        #expect(between.object["total"] as? Int == 3)
        let has = try await http.call(
            "POST", "\(contacts)/search",
            ["filterGroups": [["filters": [["propertyName": "phone", "operator": "HAS_PROPERTY"]]]]])
        #expect(has.object["total"] as? Int == 0)
        #expect(has.header("X-HubSpot-RateLimit-Max") == nil)  // search carries no rate-limit headers
    }
}

@Test func searchIndexLagHidesFreshWritesUntilItCatchesUp() async throws {
    var configuration = MockHTTP.unlimited()
    // A lag no loaded machine outruns; the mock's clock is moved past it instead of waiting.
    configuration.searchLagMs = 600_000
    try await MockHTTP.withMock(configuration: configuration) { http in
        try await http.call("POST", contacts, ["properties": ["email": "fresh@example.fi"]])
        #expect(try await http.call("POST", "\(contacts)/search", searchBody(after: 0)).object["total"] as? Int == 0)
        try await http.control.advance(by: .milliseconds(600_100))
        #expect(try await http.call("POST", "\(contacts)/search", searchBody(after: 0)).object["total"] as? Int == 1)
    }
}
