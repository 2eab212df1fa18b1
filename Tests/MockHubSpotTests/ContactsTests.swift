import Foundation
import MockHubSpot
import Testing

private let contacts = "/crm/v3/objects/contacts"

@Test func missingOrWrongTokenGets401InHubSpotsShape() async throws {
    try await MockHTTP.withMock { http in
        let reply = try await http.call("GET", contacts, token: "wrong")
        #expect(reply.status == 401)
        #expect(reply.object["category"] as? String == "INVALID_AUTHENTICATION")
        #expect(reply.header("X-HubSpot-Correlation-Id") != nil)
    }
}

@Test func cursorPagingReturnsEveryRecordExactlyOnceWhileRecordsChange() async throws {
    try await MockHTTP.withMock(seed: 1_234, configuration: MockHTTP.unlimited()) { http in
        var seen: [String] = []
        var after: String?
        var pages = 0
        repeat {
            let reply = try await http.call("GET", "\(contacts)?limit=100" + (after.map { "&after=\($0)" } ?? ""))
            #expect(reply.status == 200)
            seen += reply.results.compactMap { $0["id"] as? String }
            after = ((reply.object["paging"] as? [String: Any])?["next"] as? [String: Any])?["after"] as? String
            pages += 1
            if pages == 3 {
                // Records created and archived mid-listing neither duplicate nor hide the others.
                try await http.call("POST", contacts, ["properties": ["email": "late@example.fi"]])
                try await http.call("DELETE", "\(contacts)/\(seen[0])")
            }
        } while after != nil
        #expect(seen.count == Set(seen).count)
        #expect(seen.count == 1_235)
        #expect(pages == 13)
        let ids = seen.compactMap { Int64($0) }
        #expect(ids.allSatisfy { $0 > 9_999_999_999 })  // 11-digit ids flush out 32-bit bugs
    }
}

@Test func pageLimitsFollowTheContract() async throws {
    try await MockHTTP.withMock(seed: 3) { http in
        #expect(try await http.call("GET", "\(contacts)?limit=101").status == 400)
        #expect(try await http.call("GET", "\(contacts)?limit=51&propertiesWithHistory=firstname").status == 400)
        let reply = try await http.call("GET", "\(contacts)?limit=50&propertiesWithHistory=firstname&properties=city")
        #expect(reply.status == 200)
        let first = try #require(reply.results.first)
        let properties = try #require(first["properties"] as? [String: Any])
        #expect(Set(properties.keys) == ["city", "createdate", "lastmodifieddate", "hs_object_id"])
        let history = try #require((first["propertiesWithHistory"] as? [String: Any])?["firstname"] as? [[String: Any]])
        #expect(history.first?["sourceType"] as? String == "API")
    }
}

@Test func createConflictsReadOnlyAndInvalidValuesAnswerLikeHubSpot() async throws {
    try await MockHTTP.withMock { http in
        let created = try await http.call(
            "POST", contacts, ["properties": ["email": "Aino@Example.fi", "firstname": "Aino"]])
        #expect(created.status == 201)
        let id = try #require(created.object["id"] as? String)
        let duplicate = try await http.call("POST", contacts, ["properties": ["email": "aino@example.fi"]])
        #expect(duplicate.status == 409)
        #expect(duplicate.object["message"] as? String == "Contact already exists. Existing ID: \(id)")
        let readOnly = try await http.call(
            "POST", contacts, ["properties": ["email": "x@example.fi", "hs_email_optout": "true"]])
        #expect(readOnly.status == 400)
        #expect((readOnly.object["errors"] as? [[String: Any]])?.first?["code"] as? String == "READ_ONLY_VALUE")
        let unknown = try await http.call("PATCH", "\(contacts)/\(id)", ["properties": ["shoesize": "44"]])
        #expect((unknown.object["errors"] as? [[String: Any]])?.first?["code"] as? String == "PROPERTY_DOESNT_EXIST")
        let invalid = try await http.call("PATCH", "\(contacts)/\(id)", ["properties": ["email": "aino@"]])
        #expect((invalid.object["errors"] as? [[String: Any]])?.first?["code"] as? String == "INVALID_EMAIL")
        let byEmail = try await http.call("GET", "\(contacts)/aino@example.fi?idProperty=email&properties=firstname")
        #expect((byEmail.object["properties"] as? [String: Any])?["firstname"] as? String == "Aino")
        #expect(try await http.call("GET", "\(contacts)/99999999999").status == 404)
    }
}

@Test func archivingDoesNotMoveLastModifiedAndShowsInArchivedListing() async throws {
    try await MockHTTP.withMock(seed: 2) { http in
        let before = try await http.call("GET", "\(contacts)/10000000001")
        let modified = (before.object["properties"] as? [String: Any])?["lastmodifieddate"] as? String
        #expect(try await http.call("DELETE", "\(contacts)/10000000001").status == 204)
        #expect(try await http.call("GET", "\(contacts)/10000000001").status == 404)
        let archived = try await http.call("GET", "\(contacts)?limit=10&archived=true")
        #expect(archived.results.count == 1)
        #expect(archived.results.first?["archived"] as? Bool == true)
        let properties = archived.results.first?["properties"] as? [String: Any]
        #expect(properties?["lastmodifieddate"] as? String == modified)
        #expect(try await http.call("GET", "\(contacts)?limit=10").results.count == 1)
    }
}

@Test func mergeGivesANewIdAndOldIdsRedirectToTheSurvivor() async throws {
    try await MockHTTP.withMock(seed: 2) { http in
        let merged = try await http.call(
            "POST", "\(contacts)/merge", ["primaryObjectId": "10000000001", "objectIdToMerge": "10000000002"])
        #expect(merged.status == 200)
        let survivor = try #require(merged.object["id"] as? String)
        #expect(survivor != "10000000001" && survivor != "10000000002")
        let properties = try #require(merged.object["properties"] as? [String: Any])
        #expect(properties["hs_merged_object_ids"] as? String == "10000000001;10000000002")
        for old in ["10000000001", "10000000002"] {
            let read = try await http.call("GET", "\(contacts)/\(old)")
            #expect(read.object["id"] as? String == survivor)
        }
        let batch = try await http.call(
            "POST", "\(contacts)/batch/read", ["inputs": [["id": "10000000002"]], "properties": ["email"]])
        #expect(batch.status == 200)
        #expect(batch.results.map { $0["id"] as? String } == [survivor])
        let listing = try await http.call("GET", "\(contacts)?limit=10")
        #expect(listing.results.map { $0["id"] as? String } == [survivor])
    }
}

@Test func aMergeKeepsTheMergedAddressAsASecondaryOneThatAnotherMergeCarriesOn() async throws {
    try await MockHTTP.withMock(seed: 3) { http in
        func email(_ id: String) async throws -> String {
            let read = try await http.call("GET", "\(contacts)/\(id)?properties=email")
            return try #require((read.object["properties"] as? [String: Any])?["email"] as? String)
        }
        let addresses = [
            try await email("10000000001"), try await email("10000000002"), try await email("10000000003"),
        ]
        let first = try await http.call(
            "POST", "\(contacts)/merge", ["primaryObjectId": "10000000001", "objectIdToMerge": "10000000002"])
        let survivor = try #require(first.object["id"] as? String)
        let second = try await http.call(
            "POST", "\(contacts)/merge", ["primaryObjectId": survivor, "objectIdToMerge": "10000000003"])
        let last = try #require(second.object["id"] as? String)
        let read = try await http.call("GET", "\(contacts)/\(last)?properties=email,hs_additional_emails")
        let properties = try #require(read.object["properties"] as? [String: Any])
        #expect(properties["email"] as? String == addresses[0])
        #expect(
            properties["hs_additional_emails"] as? String
                == [addresses[1], addresses[2]].sorted().joined(separator: ";"))
        // Every address, the first merge's secondary one too, finds the last survivor.
        for address in addresses {
            let byEmail = try await http.call("GET", "\(contacts)/\(address)?idProperty=email")
            #expect(byEmail.object["id"] as? String == last)
        }
        let refused = try await http.call(
            "PATCH", "\(contacts)/\(last)", ["properties": ["hs_additional_emails": "x@example.fi"]])
        #expect(refused.status == 400)
    }
}

@Test func gdprDeleteRemovesForGoodAndBlocklistsUnknownEmails() async throws {
    try await MockHTTP.withMock { http in
        let created = try await http.call("POST", contacts, ["properties": ["email": "gone@example.fi"]])
        let id = try #require(created.object["id"] as? String)
        let deleted = try await http.call(
            "POST", "\(contacts)/gdpr-delete", ["objectId": "gone@example.fi", "idProperty": "email"])
        #expect(deleted.status == 204)
        #expect(try await http.call("GET", "\(contacts)/\(id)").status == 404)
        #expect(try await http.call("GET", "\(contacts)/gone@example.fi?idProperty=email").status == 404)
        #expect(try await http.call("GET", "\(contacts)?limit=10&archived=true").results.isEmpty)
        // A deleted person may come back through a form: no blocklist when a record existed.
        #expect(try await http.call("POST", contacts, ["properties": ["email": "gone@example.fi"]]).status == 201)

        let unknown = try await http.call(
            "POST", "\(contacts)/gdpr-delete", ["objectId": "never@example.fi", "idProperty": "email"])
        #expect(unknown.status == 204)
        let blocked = try await http.call("POST", contacts, ["properties": ["email": "never@example.fi"]])
        #expect(blocked.status == 400)
        #expect(blocked.object["category"] as? String == "VALIDATION_ERROR")
        let upsert = try await http.call(
            "POST", "\(contacts)/batch/upsert",
            ["inputs": [["id": "never@example.fi", "idProperty": "email", "properties": [:]]]])
        #expect(upsert.status == 400)
        // Seeding simulates data that reached the CRM some other way: it bypasses the blocklist.
        #expect(try await http.control.seed(.contacts([["email": "never@example.fi"]])).count == 1)
    }
}
