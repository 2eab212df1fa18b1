import Foundation
import MockHubSpot
import SyncModel
import SyncStore
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `crmsync sync` as a user runs it, against the mock started in-process.
@Suite(.serialized) struct SyncCommandTests {
    static func journal(_ server: MockHubSpotServer) async throws -> [[String: Any]] {
        let (data, _) = try await URLSession.shared.data(from: server.baseURL.appendingPathComponent("__mock/journal"))
        return (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
    }

    static func prepare() async throws -> (CommandLineRunner, MockHubSpotServer) {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 3), token: false)
        try cli.write("people.csv", "email,firstName,newsletter\nsecret.person@example.fi,Zebulon,granted\n")
        try await cli.run("import", "people.csv")
        return (cli, server)
    }

    @Test func dryRunThenSyncThenNothingLeft() async throws {
        let (cli, server) = try await Self.prepare()
        defer { Task { await server.stop() } }
        cli.environment["HUBSPOT_TOKEN"] = "test-token"
        let dry = try await cli.run("sync", "--dry-run")
        #expect(dry.status == 0, "\(dry.errors)")
        #expect(dry.output.contains("dry run"))
        #expect(!dry.output.contains("secret.person") && !dry.output.contains("Zebulon"))
        #expect(try await Self.journal(server).allSatisfy { $0["mutating"] as? Bool == false })

        let applied = try await cli.run("sync", "--format", "json", "--report", "report.json")
        #expect(applied.status == 0, "\(applied.errors)")
        let report =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cli.path("report.json"))))
            as? [String: Any]
        let summary = report?["summary"] as? [String: Any]
        #expect((summary?["toCRM"] as? [String: Any])?["creates"] as? Int == 1)
        #expect((summary?["toLocal"] as? [String: Any])?["creates"] as? Int == 3)

        let before = try await Self.journal(server).count
        let again = try await cli.run("sync")
        #expect(again.status == 0)
        #expect(try await Self.journal(server).dropFirst(before).allSatisfy { $0["mutating"] as? Bool == false })
        let shown = try await cli.run("sync", "--dry-run", "--show-pii", "--format", "markdown")
        #expect(shown.output.contains("| | to CRM | to local |"))
    }

    @Test func tokenAndReachabilityProblemsHaveTheirOwnExitCodes() async throws {
        let (cli, server) = try await Self.prepare()
        let missing = try await cli.run("sync")
        #expect(missing.status == 78)
        #expect(missing.errors.contains("HUBSPOT_TOKEN is not set"))
        cli.environment["HUBSPOT_TOKEN"] = "wrong-token"
        let wrong = try await cli.run("sync")
        #expect(wrong.status == 78)
        #expect(!wrong.errors.contains("wrong-token"))
        await server.stop()
        cli.environment["HUBSPOT_TOKEN"] = "test-token"
        try cli.write(
            "sync.json",
            #"{"crm": {"baseURL": "\#(server.baseURL.absoluteString)", "retry": {"maxAttempts": 2, "baseDelay": "10ms"}}}"#
        )
        let down = try await cli.run("sync")
        #expect(down.status == 6)
        #expect(down.errors.contains("cannot connect"))
    }
}

@Suite(.serialized) struct ErasureCommandTests {
    @Test func eraseVerifiesAndErasuresListsAndFlagsOverdue() async throws {
        let (cli, server) = try await SyncCommandTests.prepare()
        defer { Task { await server.stop() } }
        cli.environment["HUBSPOT_TOKEN"] = "test-token"
        #expect(try await cli.run("sync").status == 0)
        let erased = try await cli.run(
            "erase", "--email", "secret.person@example.fi", "--request-id", "req-1", "--reason", "asked")
        #expect(erased.status == 0, "\(erased.errors)")
        #expect(erased.output.contains("erasure req-1: verified"))
        #expect(!erased.output.contains("secret.person"))
        #expect(try await cli.run("contact", "show", "--email", "secret.person@example.fi").status == 8)
        let listed = try await cli.run("erasures", "--format", "json")
        #expect(listed.status == 0)
        let lines = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]
        #expect(lines?.first?["state"] as? String == "verified")
        #expect(lines?.first?["overdue"] as? Bool == false)
        let later = try await cli.run("erase", "--email", "someone.else@example.fi", "--no-wait")
        #expect(later.status == 0)
        #expect(later.output.contains("next sync"))
    }

    @Test func overdueErasuresExitWithTheirOwnCode() async throws {
        let cli = try CommandLineRunner()
        try await cli.run("init")
        // A request received long ago (the store's clock says 2026-01-01) and never sent.
        let store = try SyncStore(path: cli.path("crmsync.sqlite"), clock: ManualClock())
        _ = try store.recordErasureRequest(email: try EmailAddress("late@example.fi"), requestId: "old", reason: nil)
        let result = try await cli.run("erasures")
        #expect(result.status == 4)
        #expect(result.output.contains("OVERDUE"))
    }
}
