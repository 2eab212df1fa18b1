import Foundation
import HubSpotClient
import MockHubSpot
import SyncChecking
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Erasure goes by every CRM id the subject was linked to, whatever happened to the record in the CRM.
@Suite struct ErasureByCRMIdTests {
    /// Aino synced and linked to a CRM record, whose email someone then changes in HubSpot; returns its id.
    static func linkAinoThenChangeHerEmailInTheCRM(_ fixture: EngineFixture) async throws -> String {
        let crmId = try await fixture.importAndLink(
            "email,firstName,phone\naino@example.fi,Ainoliina,+358401234567\n", "aino@example.fi")
        try await fixture.crm(
            "PATCH", "/crm/v3/objects/contacts/\(crmId)", ["properties": ["email": "aino.changed@example.fi"]])
        return crmId
    }

    @Test(arguments: [true, false])
    func erasureAfterAnEmailChangeInTheCRMDeletesTheLinkedRecordAndNothingComesBack(wait: Bool) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let crmId = try await Self.linkAinoThenChangeHerEmailInTheCRM(fixture)
        try await fixture.erase("aino@example.fi", requestId: "r-moved", wait: wait)
        try await fixture.sync()
        #expect(try fixture.store.erasureRequest(id: "r-moved")?.state == .verified)
        #expect(try await fixture.crmRecord(id: crmId) == nil, "the linked record still exists in the CRM")
        #expect(try fixture.local("aino.changed@example.fi") == nil, "re-imported under the new address")
        #expect(try fixture.store.contactCount() == 0)
        #expect(try await fixture.isBlocklisted("aino@example.fi") == false, "the old address was blocklisted")
        let bytes = try fixture.storeBytes()
        for text in ["Ainoliina", "+358401234567", "aino.changed", "aino@example.fi"] {
            #expect(bytes.range(of: Data(text.utf8)) == nil, "the store holds \(text)")
        }
    }

    @Test func aPulledRecordOfAnErasedSubjectIsRefusedByItsCRMIdWhileTheDeleteFails() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let crmId = try await fixture.importAndLink(
            "email,firstName,phone\naino@example.fi,Ainoliina,+358401234567\n", "aino@example.fi")
        try await fixture.erase("aino@example.fi", requestId: "r-late", wait: false)
        try await fixture.crm(
            "PATCH", "/crm/v3/objects/contacts/\(crmId)", ["properties": ["email": "aino.changed@example.fi"]])
        try await fixture.mock.configure {
            $0.faults.serverErrorRate = 1
            $0.faults.endpoints = ["/crm/v3/objects/contacts/gdpr-delete"]
        }
        let failing = try await fixture.sync()
        #expect(failing.summary.failures > 0)
        #expect(try fixture.local("aino.changed@example.fi") == nil, "re-imported under the new address")
        #expect(try fixture.store.contactCount() == 0)
        try await fixture.mock.configure { $0.faults.serverErrorRate = 0 }
        let report = try await fixture.sync()
        #expect(report.summary.failures == 0, "\(report.failures)")
        #expect(try fixture.store.erasureRequest(id: "r-late")?.state == .verified)
        #expect(try await fixture.crmRecord(id: crmId) == nil)
        #expect(try fixture.store.contactCount() == 0)
    }

    /// The subject's record merged into another before the erasure, with or without a sync in between
    /// (which re-points the link to the survivor).
    @Test(arguments: [false, true])
    func erasureAfterACRMMergeDeletesTheSurvivorAndVerifiesEveryId(syncedAfterMerge: Bool) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let crmId = try await fixture.importAndLink("email,firstName\naino@example.fi,Ainoliina\n", "aino@example.fi")
        let duplicate = try #require(
            try await fixture.seedCRM([["email": "aino.work@example.fi", "firstname": "Ainoliina"]]).first)
        // Unsynced, the survivor takes the duplicate's address; synced, the subject's (else the sync would
        // take the survivor's address into the register and the erasure would name another address).
        let (primary, other) = syncedAfterMerge ? (crmId, duplicate) : (duplicate, crmId)
        let merged = try await fixture.crm(
            "POST", "/crm/v3/objects/contacts/merge", ["primaryObjectId": primary, "objectIdToMerge": other])
        let survivor = try #require(merged["id"] as? String)
        if syncedAfterMerge { try await fixture.sync() }
        try await fixture.erase("aino@example.fi", requestId: "r-merged", wait: true)
        #expect(try fixture.store.erasureRequest(id: "r-merged")?.state == .verified)
        for id in [crmId, duplicate, survivor] { #expect(try await fixture.crmRecord(id: id) == nil) }
        try await fixture.sync()
        #expect(try fixture.store.contactCount() == 0)
        #expect(try await fixture.crmCount() == 0)
    }

    @Test func aCrashBetweenTheLocalErasureAndTheCRMDeleteIsFinishedByIdAfterAnEmailChange() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let crmId = try await fixture.importAndLink("email,firstName\naino@example.fi,Ainoliina\n", "aino@example.fi")
        try await fixture.crm(
            "PATCH", "/crm/v3/objects/contacts/\(crmId)", ["properties": ["email": "aino.changed@example.fi"]])
        // Dies on the first CRM request of the erasure.
        fixture.transport = DyingTransport(afterMutations: 0, inner: fixture.crmTransport)
        await #expect(throws: DyingTransport.Killed.self) {
            try await fixture.erase("aino@example.fi", requestId: "r-crash", wait: true)
        }
        #expect(try fixture.store.erasureRequest(id: "r-crash")?.state == .pending)
        #expect(try fixture.store.contactCount() == 0)
        fixture.transport = fixture.crmTransport
        let report = try await fixture.sync()
        #expect(report.summary.failures == 0, "\(report.failures)")
        #expect(try fixture.store.erasureRequest(id: "r-crash")?.state == .verified)
        #expect(try await fixture.crmRecord(id: crmId) == nil)
        #expect(try fixture.store.contactCount() == 0)
        #expect(try await fixture.isBlocklisted("aino@example.fi") == false)
    }

    /// The subject names the address they know; a sync already took the CRM's new one into the register.
    @Test(arguments: [true, false])
    func erasureByAFormerAddressFindsTheSubjectAfterASyncTookTheCRMsNewOne(wait: Bool) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let crmId = try await Self.linkAinoThenChangeHerEmailInTheCRM(fixture)
        try await fixture.sync()
        #expect(try fixture.local("aino.changed@example.fi")?.crmId == crmId)
        try await fixture.erase("aino@example.fi", requestId: "r-former", wait: wait)
        #expect(try fixture.store.contactCount() == 0)
        try await fixture.sync()
        #expect(try fixture.store.erasureRequest(id: "r-former")?.state == .verified)
        #expect(try await fixture.crmRecord(id: crmId) == nil)
        #expect(try fixture.store.isErased(email("aino.changed@example.fi")))
        let bytes = try fixture.storeBytes()
        for text in ["Ainoliina", "+358401234567", "aino.changed", "aino@example.fi"] {
            #expect(bytes.range(of: Data(text.utf8)) == nil, "the store holds \(text)")
        }
        // The address the CRM gave the subject is refused too when it comes back.
        _ = try await fixture.seedCRM([["email": "aino.changed@example.fi", "firstname": "Ainoliina"]])
        try await fixture.sync()
        #expect(try fixture.store.contactCount() == 0)
        #expect(try await fixture.crmContact(email: "aino.changed@example.fi") == nil)
    }
}
