import Foundation
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

@Suite struct ConvergenceTests {
    @Test func firstSyncBringsBothSidesTogetherAndASecondRunWritesNothing() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV(
            """
            email,firstName,lastName,city,newsletter,blog
            only.local@example.fi,Aino,Laine,Oulu,granted,withdrawn
            both@example.fi,Eino,Korhonen,,granted,
            """)
        _ = try await fixture.seedCRM([
            MockSeedContact(
                ["email": "only.crm@example.fi", "firstname": "Helmi", "city": "Turku"],
                subscriptions: [7: "SUBSCRIBED"]),
            ["email": "both@example.fi", "firstname": "Eino", "lastname": "Korhonen", "city": "Tampere"],
        ])
        let report = try await fixture.sync()
        #expect(report.summary.toCRM.creates == 1)
        #expect(report.summary.toLocal.creates == 1)
        #expect(report.summary.failures == 0, "\(report.failures)")

        #expect(try await fixture.crmProperty("only.local@example.fi", "city") == "Oulu")
        #expect(try await fixture.crmStatuses("only.local@example.fi")[7] == "SUBSCRIBED")
        #expect(try await fixture.crmStatuses("only.local@example.fi")[10] == "UNSUBSCRIBED")
        #expect(try fixture.local("only.crm@example.fi")?.city == "Turku")
        #expect(try fixture.consent("only.crm@example.fi", .newsletter) == .granted)
        #expect(try fixture.local("both@example.fi")?.city == "Tampere")  // only the CRM had a value
        #expect(try await fixture.crmStatuses("both@example.fi")[7] == "SUBSCRIBED")
        #expect(try fixture.local("both@example.fi")?.crmId != nil)
        #expect(try await fixture.crmCount() == 3)

        let journalBefore = try await fixture.journal().count
        let auditBefore = try fixture.auditCount()
        let second = try await fixture.sync()
        #expect(try await fixture.mutatingRequests(since: journalBefore).isEmpty)
        #expect(try fixture.auditCount() == auditBefore)
        #expect(second.changes.isEmpty, "\(second.changes)")
        #expect(try await fixture.crmCount() == 3)
        #expect(try fixture.store.contactCount() == 3)
    }

    @Test func editsOnOneSideFlowAcrossAndConflictsFollowThePolicy() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName,lastName,city,jobTitle\naino@example.fi,Aino,Laine,Oulu,CTO\n")
        try await fixture.sync()
        // Local: city and last name change. CRM: job title and last name change, later than the local edit.
        try fixture.importCSV("email,city,lastName\naino@example.fi,Kuopio,Laine-Local\n")
        fixture.tick()
        let id = try #require(try fixture.local("aino@example.fi")?.crmId)
        try await fixture.crm(
            "PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["jobtitle": "CEO", "lastname": "Laine-CRM"]])
        let report = try await fixture.sync()
        #expect(try await fixture.crmProperty("aino@example.fi", "city") == "Kuopio")
        #expect(try fixture.local("aino@example.fi")?.jobTitle == "CEO")
        // Both changed the last name; the CRM's change is newer.
        #expect(try fixture.local("aino@example.fi")?.lastName == "Laine-CRM")
        #expect(try await fixture.crmProperty("aino@example.fi", "lastname") == "Laine-CRM")
        let conflict = try #require(report.changes.first { $0.field == "lastName" })
        #expect(conflict.conflict && conflict.rule == "conflict: newest (crm)")
        #expect(report.changes.first { $0.field == "city" }?.rule == "changed locally")
        #expect(report.changes.first { $0.field == "jobTitle" }?.rule == "changed in the CRM")
    }

    @Test func perFieldPolicyDecidesConflicts() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        fixture.configuration.conflicts.fields = ["lastName": .local]
        let id = try await fixture.importAndLink("email,lastName\naino@example.fi,Laine\n", "aino@example.fi")
        try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["lastname": "FromCRM"]])
        fixture.tick()
        try fixture.importCSV("email,lastName\naino@example.fi,FromLocal\n")  // newer, but the policy says local anyway
        let report = try await fixture.sync()
        #expect(try await fixture.crmProperty("aino@example.fi", "lastname") == "FromLocal")
        #expect(report.changes.first { $0.field == "lastName" }?.rule == "conflict: policy local")
    }

    @Test func dryRunChangesNothingAnywhere() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName,newsletter\naino@example.fi,Aino,granted\n")
        _ = try await fixture.seedCRM([["email": "helmi@example.fi", "firstname": "Helmi"]])
        let audit = try fixture.auditCount()
        let report = try await fixture.sync(dryRun: true)
        #expect(report.summary.toCRM.creates == 1 && report.summary.toLocal.creates == 1)
        #expect(report.summary.toCRM.consentChanges == 1)
        #expect(report.cost.plannedWriteRequests == 2)
        #expect(try await fixture.mutatingRequests().isEmpty)
        #expect(try fixture.auditCount() == audit)
        #expect(try fixture.store.checkpoint("contacts.modifiedSince") == nil)
        #expect(try fixture.store.contactCount() == 1)
        #expect(try fixture.store.recentRuns().isEmpty)
        // The real run does exactly what the dry run said.
        let applied = try await fixture.sync()
        #expect(applied.summary == report.summary)
        #expect(applied.changes.map(\.field) == report.changes.map(\.field))
    }

    @Test func reportsMaskPersonalDataUnlessAsked() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        try fixture.importCSV("email,firstName,city\nzebulon.unique@example.fi,Zebulon,Oulu\n")
        let report = try await fixture.sync(dryRun: true)
        for format in ReportRenderer.Format.allCases {
            let masked = ReportRenderer.render(report, format: format, showPII: false)
            #expect(!masked.contains("zebulon.unique") && !masked.contains("Zebulon"))
            #expect(masked.contains("z***@example.fi"))
            #expect(masked.contains("Oulu"))
            #expect(ReportRenderer.render(report, format: format, showPII: true).contains("zebulon.unique@example.fi"))
        }
        let json =
            try JSONSerialization.jsonObject(
                with: Data(ReportRenderer.render(report, format: .json, showPII: false).utf8)) as? [String: Any]
        let summary = try #require(json?["summary"] as? [String: Any])
        for key in ["creates", "updates", "consentChanges", "suppressions", "erasures"] {
            #expect((summary["toCRM"] as? [String: Any])?[key] != nil)
        }
        for key in ["creates", "updates", "consentChanges", "suppressions"] {
            #expect((summary["toLocal"] as? [String: Any])?[key] != nil)
        }
        #expect(summary["conflicts"] != nil)
        let change = try #require((json?["changes"] as? [[String: Any]])?.first)
        #expect(Set(change.keys).isSuperset(of: ["contact", "direction", "field", "rule"]))
    }
}

/// The CRM moves a linked contact to a new address while the subject withdraws locally: the run that takes the
/// move writes the withdrawal to the new address (HubSpot keeps statuses per address), not to the old one.
@Test func aWithdrawalInTheRunThatTakesAnAddressChangeGoesToTheNewAddress() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    try fixture.importCSV("email,firstName,newsletter\nold.address@example.fi,Aino,granted\n")
    try await fixture.sync()
    fixture.tick()
    try await fixture.crm(
        "PATCH", "/crm/v3/objects/contacts/old.address@example.fi?idProperty=email",
        ["properties": ["email": "new.address@example.fi"]])
    _ = try fixture.store.recordConsent(
        email: email("old.address@example.fi"), purpose: .newsletter, state: .withdrawn, source: "phone", actor: "t")
    try await fixture.sync()
    #expect(try fixture.local("new.address@example.fi") != nil)
    #expect(try await fixture.crmStatuses("new.address@example.fi")[7] == "UNSUBSCRIBED")
    let next = try await fixture.sync(dryRun: true)
    #expect(next.changes.isEmpty, "\(next.changes.map { "\($0.field) \($0.direction) \($0.rule)" })")
}

/// The same with an opt-out of all email: the run that takes the move opts out the new address.
@Test func anOptOutInTheRunThatTakesAnAddressChangeGoesToTheNewAddress() async throws {
    let fixture = try await EngineFixture()
    defer { Task { await fixture.close() } }
    try fixture.importCSV("email,firstName,newsletter\nold.optout@example.fi,Aino,granted\n")
    try await fixture.sync()
    fixture.tick()
    try await fixture.crm(
        "PATCH", "/crm/v3/objects/contacts/old.optout@example.fi?idProperty=email",
        ["properties": ["email": "new.optout@example.fi"]])
    _ = try fixture.store.setSuppression(
        .optedOutOfAll, active: true, email: email("old.optout@example.fi"), reason: "asked", actor: "t")
    try await fixture.sync()
    #expect(try fixture.isOptedOut("new.optout@example.fi"))
    #expect(try await fixture.crmProperty("new.optout@example.fi", "hs_email_optout") == "true")
    let next = try await fixture.sync(dryRun: true)
    #expect(next.changes.isEmpty, "\(next.changes.map { "\($0.field) \($0.direction) \($0.rule)" })")
}
