import Foundation
import HubSpotClient
import SyncEngine
import SyncModel
import Synchronization
import Testing

/// Keeps every request the engine sends, to read their bodies.
final class RecordingTransport: HTTPTransport {
    let inner: any HTTPTransport
    let requests = Mutex<[HTTPRequest]>([])

    init(inner: any HTTPTransport) { self.inner = inner }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        requests.withLock { $0.append(request) }
        return try await inner.send(request)
    }

    /// The `inputs[].properties` of every contact write (upsert, update, create).
    var writtenProperties: [[String: Any]] {
        requests.withLock { $0 }.filter {
            ["/batch/upsert", "/batch/update", "/batch/create"].contains(where: $0.url.path.hasSuffix)
        }.flatMap { request -> [[String: Any]] in
            let body = request.body.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            return (body?["inputs"] as? [[String: Any]] ?? []).compactMap { $0["properties"] as? [String: Any] }
        }
    }
}

/// What goes over the wire: only what changed, and never consent through a contact write.
@Suite struct RequestBodyTests {
    @Test func anEditSendsOnlyTheChangedFieldAndNoWriteEverCarriesTheOptOut() async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let recorder = RecordingTransport(inner: fixture.crmTransport)
        fixture.transport = recorder
        try fixture.importCSV(
            "email,firstName,lastName,city,newsletter\naino@example.fi,Aino,Laine,Oulu,granted\n")
        try await fixture.sync()
        let created = recorder.writtenProperties
        #expect(created.count == 1)
        #expect(Set(created.first?.keys.map { $0 } ?? []) == ["firstname", "lastname", "city"])

        recorder.requests.withLock { $0 = [] }
        try fixture.importCSV("email,city\naino@example.fi,Turku\n")
        _ = try fixture.store.setSuppression(
            .optedOutOfAll, active: true, email: email("aino@example.fi"), reason: "asked", actor: "test")
        try await fixture.sync()
        let updated = recorder.writtenProperties
        #expect(updated.count == 1)
        #expect(updated.first?.keys.sorted() == ["city"])
        #expect(updated.first?["city"] as? String == "Turku")
        // The opt-out went through the subscription API, never as a contact property.
        let paths = recorder.requests.withLock { $0 }.map(\.url.path)
        #expect(paths.contains { $0.hasSuffix("/unsubscribe-all") })
        #expect(!(created + updated).contains { $0["hs_email_optout"] != nil })
    }
}
