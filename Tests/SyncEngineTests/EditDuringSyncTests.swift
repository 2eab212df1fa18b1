import Foundation
import HubSpotClient
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Synchronization
import Testing

/// Runs `edit` once, just before the `k`-th request of a sync goes out (1-based), as an operator's edit command
/// would run while the sync works (edit commands never wait for it); remembers what every mutating request
/// sent after that one carried.
final class EditAtRequestTransport: HTTPTransport {
    let inner: any HTTPTransport
    let k: Int
    let edit: @Sendable () async throws -> Void
    private let state = Mutex((sent: 0, laterWrites: [String]()))

    init(k: Int, inner: any HTTPTransport, edit: @escaping @Sendable () async throws -> Void) {
        self.inner = inner
        self.k = k
        self.edit = edit
    }

    /// Requests sent so far.
    var sent: Int { state.withLock { $0.sent } }
    /// Path and body of each mutating request sent after the one the edit ran before.
    var writesAfterEdit: [String] { state.withLock { $0.laterWrites } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let index = state.withLock { state in
            state.sent += 1
            return state.sent
        }
        if index == k { try await edit() }
        let mutating =
            request.method != "GET" && !request.url.path.hasSuffix("/batch/read")
            && !request.url.path.hasSuffix("/search") && !request.url.path.hasSuffix("/unsubscribe-all/read")
        if mutating && index > k {
            let text = request.url.absoluteString + " " + String(decoding: request.body ?? Data(), as: UTF8.self)
            state.withLock { $0.laterWrites.append(text) }
        }
        return try await inner.send(request)
    }
}

@Suite struct EditDuringSyncTests {
    /// Race 9 (issue 13) and issue 12 item 4: an erasure (`--no-wait`), a local field edit, a consent withdrawal
    /// and an opt-out recorded while a sync runs, at every point k of its requests. The sync must not fail, must
    /// never write the erased subject to the CRM after the erasure, must not overwrite or lose the edits, and
    /// after the next sync both sides show every edit, with bases that match both sides.
    @Test func editsRecordedWhileASyncRunsReachBothSidesAtEveryPointOfTheSync() async throws {
        // How many requests the racing sync sends when nothing interferes.
        let quiet = try await RaceWorld.make(k: Int.max)
        try await quiet.fixture.sync()
        let requests = quiet.transport.sent
        await quiet.fixture.close()
        #expect(requests > 5)
        for k in 1...(requests + 1) {
            let world = try await RaceWorld.make(k: k)
            try await world.check(k: k)
            await world.fixture.close()
        }
    }
}

/// Five linked contacts with work for the racing sync, and the edits made while it runs.
struct RaceWorld {
    let fixture: EngineFixture
    let transport: EditAtRequestTransport
    let boCRMId: String

    static let addresses = ["aino", "bo", "cid", "dan", "eve"].map { "\($0)@example.fi" }

    static func make(k: Int) async throws -> RaceWorld {
        let fixture = try await EngineFixture()
        let store = fixture.store
        try fixture.importCSV(
            """
            email,firstName,city,jobTitle,newsletter
            aino@example.fi,Aino,Oulu,Dev,granted
            bo@example.fi,Bo,Oulu,Dev,granted
            cid@example.fi,Cid,Oulu,Dev,granted
            dan@example.fi,Dan,Oulu,Dev,granted
            eve@example.fi,Eve,Oulu,Dev,granted
            """)
        let first = try await fixture.sync()
        #expect(first.summary.failures == 0, "\(first.failures)")
        // Work for the racing sync: local edits to push, and CRM edits to take (aino's city on both sides, the
        // CRM's later: a conflict decided by the CRM's field history).
        try fixture.importCSV(
            """
            email,city,jobTitle,blog,consentSource
            aino@example.fi,Espoo,Lead,,
            bo@example.fi,,Lead,,
            cid@example.fi,,Lead,granted,web form
            dan@example.fi,,Lead,,
            """)
        fixture.tick()
        let ainoId = try #require(try fixture.local("aino@example.fi")?.crmId)
        let eveId = try #require(try fixture.local("eve@example.fi")?.crmId)
        let boId = try #require(try fixture.local("bo@example.fi")?.crmId)
        try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(ainoId)", ["properties": ["city": "Tampere"]])
        try await fixture.crm("PATCH", "/crm/v3/objects/contacts/\(eveId)", ["properties": ["city": "Lahti"]])
        fixture.tick()
        let transport = EditAtRequestTransport(k: k, inner: fixture.crmTransport) {
            // erase --no-wait bo
            _ = try store.recordErasureRequest(email: email("bo@example.fi"), requestId: "race-bo", reason: nil)
            try store.eraseLocally(requestId: "race-bo")
            // a local field edit of aino
            let batch = try ImportFileReader(purposes: Purpose.standard).read(
                Data("email,phone\naino@example.fi,0401234567\n".utf8), format: .csv)
            _ = try store.importContacts(batch, actor: "operator")
            // cid withdraws the newsletter; dan objects to all marketing
            _ = try store.recordConsent(
                email: email("cid@example.fi"), purpose: .newsletter, state: .withdrawn, source: "phone",
                actor: "operator")
            _ = try store.setSuppression(
                .optedOutOfAll, active: true, email: email("dan@example.fi"), reason: "objection", actor: "operator")
        }
        fixture.transport = transport
        return RaceWorld(fixture: fixture, transport: transport, boCRMId: boId)
    }

    func check(k: Int) async throws {
        let racing = try await fixture.sync()
        #expect(racing.summary.failures == 0, "k = \(k): \(racing.failures)")
        // The erased subject was never written to the CRM after its erasure (the request in flight aside).
        for write in transport.writesAfterEdit where !write.contains("/gdpr-delete") {
            #expect(!write.contains("bo@example.fi") && !write.contains(boCRMId), "k = \(k): \(write)")
        }
        fixture.transport = fixture.crmTransport
        let next = try await fixture.sync()
        #expect(next.summary.failures == 0, "k = \(k): \(next.failures)")
        if transport.sent < k { return }  // the edits never ran: nothing raced

        // Bo: erased on both sides, the request verified.
        #expect(try fixture.local("bo@example.fi") == nil, "k = \(k)")
        #expect(try await fixture.crmContact(email: "bo@example.fi") == nil, "k = \(k)")
        #expect(try fixture.store.erasureRequest(id: "race-bo")?.state == .verified, "k = \(k)")
        // Aino: the CRM's newer city (never the old local value pushed over it), her pushed job title, and the
        // phone she gave during the sync, on both sides.
        #expect(try fixture.local("aino@example.fi")?.city == "Tampere", "k = \(k)")
        #expect(try fixture.local("aino@example.fi")?.phone == "0401234567", "k = \(k)")
        #expect(try fixture.local("aino@example.fi")?.jobTitle == "Lead", "k = \(k)")
        let aino = try await fixture.crmContact(email: "aino@example.fi", properties: "city,phone,jobtitle")
        let ainoProperties = aino?["properties"] as? [String: Any]
        #expect(ainoProperties?["city"] as? String == "Tampere", "k = \(k)")
        #expect(ainoProperties?["phone"] as? String == "0401234567", "k = \(k)")
        #expect(ainoProperties?["jobtitle"] as? String == "Lead", "k = \(k)")
        // Cid: the withdrawal made during the sync, the blog grant made before it.
        #expect(try fixture.consent("cid@example.fi", .newsletter) == .withdrawn, "k = \(k)")
        #expect(try fixture.consent("cid@example.fi", .blog) == .granted, "k = \(k)")
        #expect(try await fixture.crmStatus("cid@example.fi", .newsletter) == "UNSUBSCRIBED", "k = \(k)")
        #expect(try await fixture.crmStatus("cid@example.fi", .blog) == "SUBSCRIBED", "k = \(k)")
        // Dan: opted out on both sides, every purpose withdrawn.
        #expect(try fixture.isOptedOut("dan@example.fi"), "k = \(k)")
        #expect(try await fixture.crmProperty("dan@example.fi", "hs_email_optout") == "true", "k = \(k)")
        #expect(try await fixture.crmStatus("dan@example.fi", .newsletter) != "SUBSCRIBED", "k = \(k)")
        // Eve, in the same batches: the CRM's city, not rolled back by the others.
        #expect(try fixture.local("eve@example.fi")?.city == "Lahti", "k = \(k)")
        // Bases: what both sides hold.
        let states = try fixture.store.localStates(crmIds: [], emails: Self.addresses.map(email))
        for state in states {
            #expect(!state.isDirty, "k = \(k): \(state.contact.email.masked) still dirty")
            #expect(state.base[.field(.city)] == .some(state.contact.city), "k = \(k): \(state.contact.email.masked)")
            #expect(
                state.base[.field(.jobTitle)] == .some(state.contact.jobTitle),
                "k = \(k): \(state.contact.email.masked)")
        }
        #expect(try fixture.store.outboxCount() == 0, "k = \(k)")
        // Settled: the next run changes nothing anywhere.
        try await fixture.expectSettled()
    }
}
