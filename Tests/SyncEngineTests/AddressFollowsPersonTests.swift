import Foundation
import MockHubSpot
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Consent and erasure follow the person (the address), not a record (issue 19).
@Suite struct AddressFollowsPersonTests {
    /// Finding 4: someone deletes (GDPR) or archives the linked record; the subject comes back through a form (a
    /// new record, the same address) and opts out of all email there. The register takes the opt-out and follows
    /// the subject to the new record.
    @Test(arguments: ["gdpr-delete", "archive"])
    func theSubjectsOptOutOnARecreatedRecordReachesTheRegister(removal: String) async throws {
        let fixture = try await EngineFixture()
        try fixture.importCSV("email,firstName,city,newsletter\naino@example.fi,Aino,Oulu,granted\n")
        try await fixture.sync()
        let first = try #require(try fixture.local("aino@example.fi")?.crmId)
        fixture.tick()
        if removal == "gdpr-delete" {
            try await fixture.crm("POST", "/crm/v3/objects/contacts/gdpr-delete", ["objectId": first])
        } else {
            try await fixture.crm("DELETE", "/crm/v3/objects/contacts/\(first)")
        }
        fixture.tick()
        let created = try await fixture.crm(
            "POST", "/crm/v3/objects/contacts", ["properties": ["email": "aino@example.fi", "firstname": "Aino"]])
        let second = try #require(created["id"] as? String)
        fixture.tick()
        try await fixture.crmOptOut("aino@example.fi")
        fixture.tick()
        try await fixture.sync()
        #expect(try fixture.isOptedOut("aino@example.fi"))
        #expect(try fixture.consent("aino@example.fi", .newsletter) == .withdrawn)
        #expect(try fixture.local("aino@example.fi")?.crmId == second)
        #expect(try fixture.store.contactCount() == 1)
        // Nothing of the register's was lost, and the new record got what the form did not ask.
        #expect(try fixture.local("aino@example.fi")?.city == "Oulu")
        #expect(try await fixture.crmProperty("aino@example.fi", "city") == "Oulu")
        #expect(try await fixture.crmStatuses("aino@example.fi")[7] != "SUBSCRIBED")
        #expect(try await fixture.crmCount() == 1)
        // And it settles.
        fixture.tick()
        try await fixture.sync()
        let journal = try await fixture.journal().count
        let last = try await fixture.sync()
        #expect(last.changes.isEmpty, "\(last.changes)")
        #expect(try await fixture.mutatingRequests(since: journal).isEmpty)
    }
}
