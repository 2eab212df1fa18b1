import Foundation
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Issue 19, finding 11: a CRM value the register refuses never vanishes silently.
@Suite struct RefusedValueTests {
    @Test func aTwoLineStreetAddressIsTakenAndWhatCannotBeIsNotedAndCountedAsDrift() async throws {
        let fixture = try await EngineFixture()
        let id = try await fixture.importAndLink("email,firstName\naino@example.fi,Aino\n", "aino@example.fi")
        fixture.tick()
        let long = String(repeating: "x", count: 300)
        try await fixture.crm(
            "PATCH", "/crm/v3/objects/contacts/\(id)",
            ["properties": ["address": "Kauppakatu 1\r\nB 12", "jobtitle": "Head\tof sales", "company": long]])
        fixture.tick()
        let report = try await fixture.sync()
        #expect(try fixture.local("aino@example.fi")?.streetAddress == "Kauppakatu 1\nB 12")
        let notes = report.notes.map(\.note).joined(separator: "; ")
        #expect(notes.contains("the CRM's jobTitle is not taken: it contains control characters"), "\(notes)")
        #expect(notes.contains("the CRM's company is not taken: it is longer than 256 characters"), "\(notes)")
        #expect(!notes.contains("Head") && !notes.contains(long))
        let drift = try await Reconciler(
            store: fixture.store, client: fixture.client(), settings: SyncSettings(fixture.configuration)
        ).run()
        #expect(drift.refusedValues == ["jobTitle": 1, "company": 1])
        #expect(drift.hasDrift)
        // The two-line address travels the other way too, and settles.
        fixture.tick()
        try fixture.importCSV("email,streetAddress\naino@example.fi,\"Kauppakatu 2\nC 7\"\n")
        try await fixture.sync()
        let record = try await fixture.crmContact(email: "aino@example.fi", properties: "address")
        #expect((record?["properties"] as? [String: Any])?["address"] as? String == "Kauppakatu 2\nC 7")
    }

    @Test(arguments: ["a\nb\nc\nd", "Kauppakatu 1\n\n  B 12  "])
    func aStreetAddressKeepsUpToFourNonEmptyLines(raw: String) throws {
        #expect(try ContactValidator.validate(raw, for: .streetAddress)?.split(separator: "\n").count ?? 0 <= 4)
        #expect(throws: ValidationError.self) { try ContactValidator.validate("a\nb", for: .city) }
        #expect(throws: ValidationError.self) { try ContactValidator.validate("a\nb\nc\nd\ne", for: .streetAddress) }
    }
}

extension RefusedValueTests {
    /// Review finding: a value the register changed replaces the CRM's refused one there, instead of being dropped.
    @Test func aLocalFixOfAFieldWhoseCRMValueIsRefusedIsPushed() async throws {
        let fixture = try await EngineFixture()
        let id = try await fixture.importAndLink("email,city\naino@example.fi,Oulu\n", "aino@example.fi")
        fixture.tick()
        try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["city": "Ou\tlu"]])
        fixture.tick()
        try await fixture.sync()
        fixture.tick()
        try fixture.importCSV("email,city\naino@example.fi,Helsinki\n")
        let report = try await fixture.sync()
        #expect(try await fixture.crmProperty("aino@example.fi", "city") == "Helsinki")
        #expect(try fixture.store.dirtyCount() == 0)
        #expect(!ReportRenderer.render(report, format: .json, showPII: true).contains("Ou\\tlu"))
    }
}
