import Foundation
import MockHubSpot
import SyncCore
import SyncModel
import SyncStore
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension ChildProcess {
    /// Whether the child has exited, without reaping it (``waitForExit()`` still collects its status).
    var hasExited: Bool {
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0
            && info._sifields._sigchld.si_pid == pid
    }
}

/// Issue 12's "done when": `suppress`, `consent withdraw`, `import` and `erase` run during a slow sync succeed at
/// once (edit commands never wait for a sync, and `erase` takes no lease), and after the next sync both sides
/// show their effect.
@Suite(.serialized) struct EditDuringSyncCommandTests {
    static func mock(_ server: MockHubSpotServer, _ method: String, _ path: String, _ body: Any? = nil) async throws
        -> [String: Any]
    {
        var request = URLRequest(url: URL(string: server.baseURL.absoluteString + path)!)
        request.httpMethod = method
        request.setValue("Bearer test-token", forHTTPHeaderField: "Authorization")
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    static func journal(_ server: MockHubSpotServer) async throws -> [[String: Any]] {
        let (data, _) = try await URLSession.shared.data(from: server.baseURL.appendingPathComponent("__mock/journal"))
        return (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
    }

    static func crmContact(_ server: MockHubSpotServer, _ email: String) async throws -> [String: Any]? {
        let reply = try await mock(
            server, "GET",
            "/crm/v3/objects/contacts/\(email)?idProperty=email&properties=phone,jobtitle,hs_email_optout")
        return reply["id"] == nil ? nil : reply["properties"] as? [String: Any]
    }

    static func crmStatus(_ server: MockHubSpotServer, _ email: String, subscription: Int) async throws -> String? {
        let reply = try await mock(
            server, "POST", "/communication-preferences/v4/statuses/batch/read?channel=EMAIL", ["inputs": [email]])
        let statuses = ((reply["results"] as? [[String: Any]])?.first?["statuses"] as? [[String: Any]]) ?? []
        return statuses.first { $0["subscriptionId"] as? Int == subscription }?["status"] as? String
    }

    /// A mock whose limits never get in the way: a sync and the edit commands share it, and the checks read it.
    static var unlimited: MockConfiguration {
        var limits = MockConfiguration()
        limits.rateLimit = .init(max: 1_000_000, intervalMs: 10_000)
        limits.searchPerSecond = 1_000_000
        limits.dailyLimit = 100_000_000
        return limits
    }

    /// Aino, Bo, Cid, Dan and `fillers` others imported (newsletter granted) and synced; then every one's job title
    /// changed locally: work for a slow sync to push.
    static func syncPeopleThenRetitleThem(_ cli: CommandLineRunner, fillers: Int) async throws {
        let named = ["aino", "bo", "cid", "dan"]
        let people =
            named.map { "\($0)@example.fi,\($0.capitalized),Dev,granted" }
            + (1...fillers).map { "person\($0)@example.fi,P\($0),Dev,granted" }
        try cli.write("people.csv", "email,firstName,jobTitle,newsletter\n" + people.joined(separator: "\n") + "\n")
        #expect(try await cli.run("import", "people.csv").status == 0)
        let first = try await cli.run("sync")
        #expect(first.status == 0, "\(first.errors)")
        let titles =
            (named.map { "\($0)@example.fi" } + (1...fillers).map { "person\($0)@example.fi" }).map { "\($0),Lead" }
        try cli.write("titles.csv", "email,jobTitle\n" + titles.joined(separator: "\n") + "\n")
        #expect(try await cli.run("import", "titles.csv").status == 0)
    }

    /// Makes the CRM answer every subscription read after `milliseconds` (the edit commands never read them): a run
    /// slow enough to be caught in the middle.
    static func slowSubscriptionReads(_ server: MockHubSpotServer, milliseconds: Int) async throws {
        try await mock(
            server, "PUT", "/__mock/config",
            [
                "faults": [
                    "seed": 1, "slowRate": milliseconds > 0 ? 1 : 0, "slowMs": milliseconds,
                    "endpoints": ["/communication-preferences/v4/statuses/batch/read"],
                ]
            ])
    }

    /// Waits until the CRM took a batch of pushes after its journal's first `after` entries; whether it did.
    static func waitForCRMWrites(_ server: MockHubSpotServer, after: Int, while running: () -> Bool = { true })
        async throws -> Bool
    {
        for _ in 0..<3000 where running() {
            if try await journal(server).dropFirst(after).contains(where: {
                ($0["path"] as? String)?.hasSuffix("/batch/update") == true
            }) {
                return true
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// `suppress`, `consent withdraw`, `import` and `erase`, each of which must succeed at once.
    static func editFromAnotherTerminal(_ cli: CommandLineRunner) async throws {
        try cli.write("phone.csv", "email,phone\naino@example.fi,0401234567\n")
        let edits: [[String]] = [
            ["suppress", "--email", "dan@example.fi", "--reason", "objection"],
            ["consent", "withdraw", "--email", "cid@example.fi", "--purpose", "newsletter", "--source", "phone"],
            ["import", "phone.csv"],
            ["erase", "--email", "bo@example.fi"],
        ]
        for edit in edits {
            let result = try await cli.run(edit)
            #expect(result.status == 0, "\(edit[0]): \(result.errors)")
        }
    }

    /// What ``editFromAnotherTerminal(_:)`` did, on both sides after the sync: nothing of it lost.
    static func expectEditsOnBothSides(_ store: SyncStore, _ server: MockHubSpotServer) async throws {
        let dan = try #require(try store.contact(email: EmailAddress("dan@example.fi")))
        #expect(try store.suppressions(contactId: dan.id).contains { $0.kind == .optedOutOfAll && $0.isActive })
        let cid = try #require(try store.contact(email: EmailAddress("cid@example.fi")))
        #expect(try store.consents(contactId: cid.id).first { $0.purpose == .newsletter }?.state == .withdrawn)
        #expect(try store.contact(email: EmailAddress("aino@example.fi"))?.phone == "0401234567")
        #expect(try store.contact(email: EmailAddress("aino@example.fi"))?.jobTitle == "Lead")
        #expect(try store.contact(email: EmailAddress("bo@example.fi")) == nil)
        #expect(try store.erasureRequests().allSatisfy { $0.state == .verified })
        #expect(try store.dirtyCount() == 0)
        #expect(try await crmContact(server, "dan@example.fi")?["hs_email_optout"] as? String == "true")
        #expect(try await crmStatus(server, "cid@example.fi", subscription: 7) == "UNSUBSCRIBED")
        #expect(try await crmContact(server, "aino@example.fi")?["phone"] as? String == "0401234567")
        #expect(try await crmContact(server, "aino@example.fi")?["jobtitle"] as? String == "Lead")
        #expect(try await crmContact(server, "bo@example.fi") == nil)
    }

    @Test func editCommandsDuringASlowSyncReturnBeforeItAndBothSidesShowThemAfterTheNext() async throws {
        // Limits out of the way: the sync and the erase share the CRM, and the checks below read it directly.
        let (cli, server) = try await CommandLineRunner.againstMock(.init(configuration: Self.unlimited))
        defer { Task { await server.stop() } }
        try cli.write(
            "sync.json",
            #"{"crm": {"baseURL": "\#(server.baseURL.absoluteString)", "rateLimit": {"requestsPerInterval": 250}}}"#)
        // Enough contacts for five pages of the change feed; each page's subscription read is slow below.
        try await Self.syncPeopleThenRetitleThem(cli, fillers: 800)
        try await Self.slowSubscriptionReads(server, milliseconds: 4000)
        let journalBefore = try await Self.journal(server).count

        let sync = try await cli.start("sync")
        // The sync is under way once the CRM took its first batch of pushes; four slow pages are still ahead.
        let writing = try await Self.waitForCRMWrites(server, after: journalBefore) { !sync.hasExited }
        #expect(writing, "the sync never reached its CRM writes")
        try await Self.editFromAnotherTerminal(cli)
        // Every edit command returned while the sync was still running: none waited for it.
        #expect(!sync.hasExited, "the sync finished before the edit commands did")
        try await Self.slowSubscriptionReads(server, milliseconds: 0)
        var exited = false
        for _ in 0..<3000 where !exited {
            exited = sync.hasExited
            if !exited { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(exited)
        let synced = try await CommandLineRunner.wait(for: sync)
        #expect(synced.status == 0, "\(synced.output) \(synced.errors)")

        let next = try await cli.run("sync")
        #expect(next.status == 0, "\(next.output) \(next.errors)")

        let store = try SyncStore(path: cli.path("crmsync.sqlite"))
        try await Self.expectEditsOnBothSides(store, server)
        #expect(try await Self.crmContact(server, "person800@example.fi")?["jobtitle"] as? String == "Lead")
        #expect(try await Self.crmContact(server, "bo@example.fi") == nil)
    }
}
