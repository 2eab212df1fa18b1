import Foundation
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// `user@bücher.fi` and `user@xn--bcher-kva.fi` are one address: matched as one, stored once, erased everywhere.
@Suite struct InternationalAddressTests {
    static let unicode = "aino@bücher.fi"
    static let ascii = "aino@xn--bcher-kva.fi"

    @Test func aRecordTheCRMHoldsInUnicodeIsTheRegistersContactUnderTheASCIIForm() async throws {
        let fixture = try await EngineFixture()
        try await fixture.seedCRM([MockSeedContact(["email": Self.unicode, "firstname": "Aino"])])
        try fixture.importCSV("email,city,newsletter,consentedAt\n\(Self.ascii),Oulu,granted,2026-01-01T00:00:00Z\n")
        let first = try await fixture.sync()
        #expect(first.summary.failures == 0)
        // One record, one contact, linked; the register's city reached the record the CRM already had.
        #expect(try await fixture.crmCount() == 1)
        #expect(try fixture.store.contactCount() == 1)
        let contact = try #require(try fixture.local(Self.unicode))
        #expect(contact.email.normalized == Self.ascii)
        #expect(contact.crmId != nil)
        #expect(contact.firstName == "Aino")
        #expect(try await fixture.crmProperty(Self.unicode, "city") == "Oulu")
        // The grant is written where HubSpot reads the record's statuses: under the record's own spelling.
        #expect(try await fixture.crmStatuses(Self.unicode)[7] == "SUBSCRIBED")
        // And the next runs have nothing to do.
        fixture.tick()
        try await fixture.sync()
        let journal = try await fixture.journal().count
        let again = try await fixture.sync()
        #expect(again.changes.isEmpty, "\(again.changes)")
        #expect(try await fixture.mutatingRequests(since: journal).isEmpty)
    }

    /// The subject opts out under the Unicode spelling, and someone archives the record before a sync reads it: the
    /// sweep of addresses with no live record reads every spelling (checker seed 9101774; fails without).
    @Test func anOptOutUnderTheUnicodeSpellingOfAnArchivedRecordReachesTheRegister() async throws {
        let fixture = try await EngineFixture()
        try await fixture.seedCRM([MockSeedContact(["email": Self.unicode, "firstname": "Aino"])])
        try await fixture.sync()
        let id = try #require(try fixture.local(Self.unicode)?.crmId)
        fixture.tick()
        try await fixture.crmOptOut(Self.unicode)
        try await fixture.crm("DELETE", "/crm/v3/objects/contacts/\(id)")
        fixture.tick()
        try await fixture.sync()
        fixture.tick()
        try await fixture.sync()
        #expect(try fixture.isOptedOut(Self.ascii))
    }

    @Test func anOptOutInTheCRMUnderTheUnicodeSpellingReachesTheRegister() async throws {
        let fixture = try await EngineFixture()
        try fixture.importCSV("email,newsletter,consentedAt\n\(Self.unicode),granted,2026-01-01T00:00:00Z\n")
        try await fixture.sync()
        fixture.tick()
        let crmId = try #require(try fixture.local(Self.ascii)?.crmId)
        try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(crmId)", ["properties": ["email": Self.unicode]])
        fixture.tick()
        try await fixture.crm(
            "POST", "/communication-preferences/v4/statuses/\(Self.unicode)/unsubscribe-all?channel=EMAIL")
        fixture.tick()
        try await fixture.sync()
        #expect(try fixture.isOptedOut(Self.ascii))
        #expect(try fixture.consent(Self.ascii, .newsletter) == .withdrawn)
        #expect(try fixture.store.contactCount() == 1)
        #expect(try await fixture.crmCount() == 1)
    }

    @Test(arguments: [unicode, ascii])
    func erasingEitherSpellingDeletesTheRecordTheCRMHoldsUnderTheOther(spelling: String) async throws {
        let fixture = try await EngineFixture()
        try await fixture.seedCRM([MockSeedContact(["email": Self.unicode, "firstname": "Aino"])])
        let request = try await fixture.propagator().erase(email: email(spelling), requestId: "r-idn", reason: nil)
        #expect(request.state == .verified)
        #expect(try await fixture.crmContact(email: Self.unicode) == nil)
        #expect(try await fixture.crmCount() == 0)
        #expect(try fixture.store.isErased(email(Self.unicode)))
        #expect(try fixture.store.isErased(email(Self.ascii)))
        // Neither spelling comes back through an import.
        try fixture.importCSV("email,firstName\n\(Self.unicode),Aino\n\(Self.ascii),Aino\n")
        #expect(try fixture.store.contactCount() == 0)
    }

    /// A record the change feed will not show again (older than the checkpoint) is found by the local contact's
    /// lookup in every spelling, not created twice.
    @Test func anUnlinkedLocalContactFindsTheRecordUnderTheOtherSpelling() async throws {
        let fixture = try await EngineFixture()
        try await fixture.sync()
        fixture.tick()
        try await fixture.mock.seed(
            .contacts(
                [MockSeedContact(["email": Self.unicode, "firstname": "CRM"])],
                lastModified: Date(millisecondsSince1970: 1_700_000_000_000)))
        try fixture.importCSV("email,city\n\(Self.unicode),Oulu\n")
        try await fixture.sync()
        #expect(try await fixture.crmCount() == 1)
        #expect(try fixture.local(Self.ascii)?.crmId != nil)
        #expect(try await fixture.crmProperty(Self.unicode, "city") == "Oulu")
    }
}

extension InternationalAddressTests {
    /// Found by the checker (seeds 5000235 and others): HubSpot compares addresses as text, so a decision written
    /// under the Unicode spelling of an address whose record crmsync created under the ASCII one stays under the
    /// Unicode spelling. The erasure deleted the record (and the statuses of its spelling) and verified, leaving the
    /// other spelling's statuses in HubSpot. Now they are deleted by email too.
    @Test func anErasureRemovesTheStatusesUnderTheOtherSpellingOfTheAddress() async throws {
        let fixture = try await EngineFixture()
        try fixture.importCSV("email,firstName\n\(Self.ascii),Aino\n")
        try await fixture.crmWriteStatus(Self.unicode, .newsletter, "SUBSCRIBED")  // no record yet
        _ = try await fixture.sync()
        #expect(try await fixture.crmContact(email: Self.ascii) != nil)
        let request = try await fixture.propagator().erase(email: email(Self.ascii), requestId: "r1", reason: nil)
        #expect(request.state == .verified)
        for spelling in [Self.unicode, Self.ascii] {
            let statuses = try await fixture.crmStatuses(spelling)
            #expect(statuses.values.allSatisfy { $0 == "NOT_SPECIFIED" }, "\(spelling): \(statuses)")
        }
    }
}

extension InternationalAddressTests {
    /// Found by the checker (seed 5000235): the same after the record was archived in HubSpot, so no read by
    /// address finds it and its delete by id succeeds: the Unicode spelling's statuses stayed.
    @Test func anErasureOfAnArchivedRecordRemovesTheStatusesUnderTheOtherSpelling() async throws {
        let fixture = try await EngineFixture()
        try fixture.importCSV("email,firstName\n\(Self.ascii),Aino\n")
        try await fixture.crmWriteStatus(Self.unicode, .newsletter, "SUBSCRIBED")
        _ = try await fixture.sync()
        let id = try #require(try fixture.local(Self.ascii)?.crmId)
        try await fixture.crm("DELETE", "/crm/v3/objects/contacts/\(id)")  // archived by a CRM user
        let request = try await fixture.propagator().erase(email: email(Self.ascii), requestId: "r1", reason: nil)
        #expect(request.state == .verified)
        for spelling in [Self.unicode, Self.ascii] {
            let statuses = try await fixture.crmStatuses(spelling)
            #expect(statuses.values.allSatisfy { $0 == "NOT_SPECIFIED" }, "\(spelling): \(statuses)")
        }
    }
}
