import ArgumentParser
import Foundation
import HubSpotClient
import Logging
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore

/// The main job on embedded defaults, with no account and no setup: a local store in a temporary
/// folder, the mock CRM in-process, both seeded with a register that disagrees in the ways real ones do.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Run the main job on embedded defaults: local store, in-process mock CRM, dry run, sync, erasure, status.")

    @Option(help: "Synthetic contacts on each side.") var contacts: Int = 1_000
    @Flag(help: "Show personal data instead of masking it.") var showPII = false
    @Option(help: "Changes of the dry-run report to print.") var changes: Int = 12
    @Option(help: "Also write the dry run's plan to this file as one HTML page.") var report: String?

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-demo-\(UUID().uuidString)")
        try PrivateFiles.createFolder(atPath: folder.path)
        defer { try? FileManager.default.removeItem(at: folder) }
        var quiet = Logger(label: "crmsync.demo")
        quiet.logLevel = .warning

        heading("1. A CRM (the mock HubSpot server, in-process) and a local register, both with data")
        let server = try await MockHubSpotServer.start(.init(token: "demo-token", seedContacts: contacts))
        defer { Task { await server.stop() } }
        let store = try SyncStore(path: folder.appendingPathComponent("crmsync.sqlite").path)
        var register = SyntheticRegister(seed: 2026)
        var csv = register.csv(count: contacts)
        // Rows a real file has: a broken address, a duplicate, and people the CRM also knows (with other data).
        csv += "not-an-email,Broken,Row,,,,,,,,,granted,,,,web form\n"
        csv += csv.split(separator: "\n")[1] + "\n"
        csv +=
            "aino.laine@example.fi,Aino,Laine,+358 40 123 4567,Tampere,Finland,CTO,Kide Robotics,Food,customer,event,granted,,,,event\n"
        csv +=
            "onni.outed@example.fi,Onni,Salo,,Oulu,Finland,Buyer,Lapin Linjat,Logistics,lead,web form,granted,granted,,,web form\n"
        csv += "former.customer@example.fi,Former,Customer,,Turku,Finland,,,,,import,,,,,import\n"
        let batch = try ImportFileReader(purposes: Purpose.standard).read(Data(csv.utf8), format: .csv)
        print(ImportCommand.text(try store.importContacts(batch, actor: "demo"), file: "register.csv"))
        let ids = try await server.control.seed(
            .contacts([
                MockSeedContact([
                    "email": "aino.laine@example.fi", "firstname": "Aino", "lastname": "Laine", "city": "Oulu",
                    "jobtitle": "CEO",
                ]),
                MockSeedContact(["email": "onni.outed@example.fi", "firstname": "Onni"], isOptedOutOfAll: true),
                MockSeedContact(["email": "former.customer@example.fi", "firstname": "Former"]),
                MockSeedContact(
                    ["email": "duplicate.one@example.fi", "firstname": "Dup"], subscriptions: [7: "SUBSCRIBED"]),
                MockSeedContact(["email": "duplicate.two@example.fi", "firstname": "Dup"]),
            ]))
        if ids.count == 5 {
            // A merge made in the CRM: through HubSpot's own API, as a user of the portal would.
            try await merge(ids[4], into: ids[3], on: server)
        }
        print("CRM: \(contacts) generated contacts plus five that meet the register: a conflicting city and job title,")
        print("an opt-out of all marketing, a former customer the register erased, two records merged into one.")
        // The register erased the former customer earlier; their stale copy still sits in the CRM.
        _ = try store.recordErasureRequest(
            email: try EmailAddress("former.customer@example.fi"), requestId: "demo-erasure-1", reason: "asked in 2025")
        try store.eraseLocally(requestId: "demo-erasure-1")

        var configuration = SyncConfiguration()
        configuration.crm.baseURL = server.baseURL.absoluteString
        let client = HubSpotClient(
            configuration: try HubSpotClientConfiguration(configuration, token: server.token), logger: quiet)
        let engine = SyncEngine(store: store, client: client, settings: SyncSettings(configuration), logger: quiet)

        heading("2. Dry run: what a sync would do (nothing is changed on either side)")
        let plan = try await engine.run(SyncRunOptions(dryRun: true))
        print(Self.trim(ReportRenderer.render(plan, format: .text, showPII: showPII), changes: changes))
        if let report {
            try CommandContext.writePrivate(ReportRenderer.render(plan, format: .html, showPII: showPII), to: report)
            print("(the plan as a page: \(report))")
        }

        heading("3. The two-way sync")
        let started = ContinuousClock.now
        let applied = try await engine.run(SyncRunOptions(listChanges: false))
        print(Self.trim(ReportRenderer.render(applied, format: .text, showPII: showPII), changes: 0))
        print(
            "took \((ContinuousClock.now - started).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))"
        )
        let aino = try store.contact(email: try EmailAddress("aino.laine@example.fi"))
        print(
            "conflicting fields decided per field (newest wins): city \(aino?.city ?? "?"), job title \(aino?.jobTitle ?? "?")"
        )

        heading("4. A second sync straight after: nothing left to do")
        let journalBefore = try await server.control.journal().count
        let second = try await engine.run(SyncRunOptions(listChanges: false))
        let writes = try await server.control.journal(since: journalBefore).filter(\.isMutating).count
        print(
            "\(second.summary.contactsExamined) contacts looked at, \(second.summary.toCRM.creates + second.summary.toCRM.updates) pushed, \(second.summary.toLocal.creates + second.summary.toLocal.updates) pulled; \(writes) writing request(s) to the CRM"
        )

        heading("5. A subject asks to be erased: forced through at once")
        let subject = batch.records[1].email
        let request = try await ErasurePropagator(store: store, client: client).erase(
            email: subject, requestId: "demo-erasure-2", reason: "asked by email")
        print(
            "\(showPII ? subject.display : subject.masked): erasure \(request.id) \(request.state.rawValue) (deadline \(request.deadline.formatted(.iso8601.year().month().day())))"
        )
        print("in the CRM: \(try await client.isErased(email: subject.normalized) ? "404, gone" : "still there")")
        print("in the register: tombstone only (\(try store.isErased(subject) ? "keyed hash, no address" : "missing"))")

        heading("6. Status")
        for request in try store.erasureRequests() {
            print("erasure \(request.id): \(request.state.rawValue)")
        }
        print(
            "contacts in the register: \(try store.contactCount()), in the CRM: \(try await server.control.stats().contacts)"
        )
        print("pending outbox: \(try store.outboxCount()), unsynced local edits: \(try store.dirtyCount())")
        print(
            "requests to the CRM in this demo: \(client.metrics.requests), rate-limited: \(client.metrics.rateLimited)")
        print(
            "\nEverything ran in \(folder.path) (removed now). With a real account: `crmsync init`, set HUBSPOT_TOKEN, `crmsync sync --dry-run`."
        )
    }

    private func heading(_ text: String) { print("\n== \(text)") }

    /// The report with at most `changes` change lines.
    static func trim(_ text: String, changes: Int) -> String {
        var lines: [String] = []
        var inChanges = false
        var shown = 0
        var hidden = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "Changes" {
                inChanges = true
                if changes > 0 { lines.append(String(line)) }
                continue
            }
            if inChanges && line.hasPrefix("  ") {
                if shown < changes { lines.append(String(line)); shown += 1 } else { hidden += 1 }
                continue
            }
            if inChanges {
                inChanges = false
                if hidden > 0 { lines.append("  … and \(hidden) more") }
            }
            lines.append(String(line))
        }
        if inChanges && hidden > 0 { lines.append("  … and \(hidden) more") }
        return lines.joined(separator: "\n")
    }

    /// HubSpot's merge (`POST /crm/v3/objects/contacts/merge`), called as someone else would, not by crmsync.
    private func merge(_ merged: String, into primary: String, on server: MockHubSpotServer) async throws {
        let request = HTTPRequest(
            method: "POST", url: URL(string: server.baseURL.absoluteString + "/crm/v3/objects/contacts/merge")!,
            headers: ["Authorization": "Bearer \(server.token)", "Content-Type": "application/json"],
            body: try JSONSerialization.data(withJSONObject: ["primaryObjectId": primary, "objectIdToMerge": merged]))
        _ = try await AsyncHTTPClientTransport().send(request)
    }
}
