import Foundation
import MockHubSpot
import SyncCore
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// `crmsync sync` as a user runs it, against the mock started in-process.
@Suite(.serialized) struct SyncCommandTests {
    static func journal(_ server: MockHubSpotServer) async throws -> [MockJournalEntry] {
        try await server.control.journal()
    }

    /// The API generations the end-to-end runs cover: the default and the legacy paths.
    static let apiVersions: [String?] = [nil, "legacy"]

    static func prepare(apiVersion: String? = nil) async throws -> (CommandLineRunner, MockHubSpotServer) {
        let (cli, server) = try await CommandLineRunner.againstMock(
            .init(seedContacts: 3), token: false, apiVersion: apiVersion)
        try cli.write("people.csv", "email,firstName,newsletter\nsecret.person@example.fi,Zebulon,granted\n")
        try await cli.run("import", "people.csv")
        return (cli, server)
    }

    @Test(arguments: apiVersions) func dryRunThenSyncThenNothingLeft(apiVersion: String?) async throws {
        let (cli, server) = try await Self.prepare(apiVersion: apiVersion)
        defer { Task { await server.stop() } }
        cli.environment["HUBSPOT_TOKEN"] = "test-token"
        let dry = try await cli.run("sync", "--dry-run")
        #expect(dry.status == 0, "\(dry.errors)")
        #expect(dry.output.contains("dry run"))
        #expect(!dry.output.contains("secret.person") && !dry.output.contains("Zebulon"))
        #expect(try await Self.journal(server).allSatisfy { !$0.isMutating })

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
        #expect(try await Self.journal(server).dropFirst(before).allSatisfy { !$0.isMutating })
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
    @Test(arguments: SyncCommandTests.apiVersions)
    func eraseVerifiesAndErasuresListsAndFlagsOverdue(apiVersion: String?) async throws {
        let (cli, server) = try await SyncCommandTests.prepare(apiVersion: apiVersion)
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

/// HubSpot's date-versioned API is the default: nothing crmsync sends uses a legacy `/v3/` or `/v4/` path.
@Suite(.serialized) struct APIVersionCommandTests {
    @Test func withTheDefaultConfigurationNoRequestUsesALegacyPath() async throws {
        let (cli, server) = try await SyncCommandTests.prepare()
        defer { Task { await server.stop() } }
        cli.environment["HUBSPOT_TOKEN"] = "test-token"
        let steps: [[String]] = [
            ["check"], ["sync"],
            [
                "consent", "withdraw", "--email", "secret.person@example.fi", "--purpose", "newsletter", "--source",
                "phone",
            ],
            ["suppress", "--email", "secret.person@example.fi", "--reason", "asked"], ["sync"], ["reconcile"],
            ["erase", "--email", "secret.person@example.fi"], ["sync", "--dry-run"],
        ]
        for step in steps {
            let result = try await cli.run(step)
            #expect(result.status == 0, "\(step): \(result.errors)")
        }
        let journal = try await SyncCommandTests.journal(server)
        let paths = journal.map(\.path)
        #expect(paths.contains { $0.hasSuffix("/gdpr-delete") })
        #expect(paths.contains { $0.contains("/statuses/batch/write") })
        #expect(paths.contains { $0.contains("/statuses/batch/unsubscribe-all") })
        let legacy = paths.filter { $0.contains("/v3/") || $0.contains("/v4/") }
        #expect(legacy.isEmpty, "\(Set(legacy))")
        #expect(paths.allSatisfy { $0.contains("/2026-09/") })
    }

    @Test func checkNamesAReadOnlyAndAMissingMappedPropertyByTheirMappingKeys() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init())
        defer { Task { await server.stop() } }
        try cli.write(
            "sync.json",
            #"{"crm": {"baseURL": "\#(server.baseURL.absoluteString)"}, "mapping": {"city": "hs_email_optout", "jobTitle": "no_such_property"}}"#
        )
        let check = try await cli.run("check")
        #expect(check.status == 78)
        #expect(check.output.contains("mapping.city: \"hs_email_optout\" is read-only"))
        #expect(check.output.contains("mapping.jobTitle: the portal has no contact property \"no_such_property\""))
        #expect(check.output.contains("ok      crm.objects.contacts.write"))
        let sync = try await cli.run("sync")
        #expect(sync.status == 78)
        #expect(sync.errors.contains("mapping.city"))
        // Only the scope probes' empty batches reached a writing endpoint; the sync stopped before any write.
        let writes = try await SyncCommandTests.journal(server).filter { $0.isMutating }
        #expect(writes.count == 2, "\(writes)")
        #expect(
            writes.allSatisfy {
                $0.path.hasSuffix("/contacts/batch/update") || $0.path.hasSuffix("/statuses/batch/write")
            })
    }
}

/// A portal that requires a last name (HubSpot 2026-09 write validation), as a user meets it.
@Suite(.serialized) struct RequiredPropertyCommandTests {
    @Test func refusedContactsAreReportedAndShownInStatusWhileTheOthersSync() async throws {
        var mock = MockConfiguration()
        mock.requiredProperties = ["lastname"]
        let (cli, server) = try await CommandLineRunner.againstMock(.init(configuration: mock))
        defer { Task { await server.stop() } }
        try cli.write(
            "people.csv",
            "email,firstName,lastName\nnamed.person@example.fi,Named,Person\nnolast.person@example.fi,Nolast,\n")
        try await cli.run("import", "people.csv")
        let sync = try await cli.run("sync")
        #expect(sync.status == 3, "\(sync.errors)")
        #expect(sync.output.contains("Refused by the CRM"))
        #expect(sync.output.contains("required property missing: lastname"))
        #expect(!sync.output.contains("nolast.person") && !sync.output.contains("Nolast"))
        let status = try await cli.run("status")
        #expect(status.output.contains("refused by the CRM (quarantined): 1"))
        #expect(status.output.contains("lastname"))
        let json = try await cli.run("status", "--format", "json")
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect((object?["quarantined"] as? [[String: Any]])?.count == 1)
        #expect(object?["checkpoint"] != nil)
    }
}

@Suite struct DryRunCommandTests {
    @Test func aDryRunOnAFreshPathCreatesNoFileAndSaysSo() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 2))
        defer { Task { await server.stop() } }
        let dry = try await cli.run("sync", "--dry-run")
        #expect(dry.status == 74, "\(dry.errors)")
        #expect(dry.errors.contains("a dry run creates none"))
        let files = try FileManager.default.contentsOfDirectory(atPath: cli.path("."))
        #expect(!files.contains { $0.hasPrefix("crmsync.sqlite") }, "\(files)")
    }
}
