import Foundation
import SyncCore
import SyncModel
import SyncStore
import Testing

@Suite(.serialized) struct CommandLineTests {
    @Test func initCreatesConfigurationAndStore() async throws {
        let cli = try CommandLineRunner()
        let result = try await cli.run("init")
        #expect(result.status == 0)
        #expect(result.output.contains("wrote sync.json"))
        #expect(FileManager.default.fileExists(atPath: cli.path("sync.json")))
        #expect(FileManager.default.fileExists(atPath: cli.path("crmsync.sqlite")))
        // A second init keeps the file and the store.
        #expect(try await cli.run("init").status == 0)
    }

    @Test func importReportsBadRowsByLineAndExitsPartial() async throws {
        let cli = try CommandLineRunner()
        try cli.write(
            "people.csv",
            "email,firstName,newsletter\naino@example.fi,Aino,yes\nsecret-person@,X,no\neino@example.fi,Eino,\n")
        let result = try await cli.run("import", "people.csv")
        #expect(result.status == 3)
        #expect(result.output.contains("2 created, 0 updated, 0 unchanged, 1 rejected"))
        #expect(result.output.contains("line 3: email has no dotted domain"))
        #expect(!result.output.contains("secret-person"))
        let again = try await cli.run("import", "people.csv", "--format", "json")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(again.output.utf8)) as? [String: Any])
        #expect(report["created"] as? Int == 0)
        #expect(report["unchanged"] as? Int == 2)
        let strict = try await cli.run("import", "people.csv", "--all-or-nothing")
        #expect(strict.status == 65)
        #expect(strict.output.contains("nothing imported"))
    }

    @Test func missingOrUnreadableInputHasItsOwnCode() async throws {
        let cli = try CommandLineRunner()
        #expect(try await cli.run("import", "nope.csv").status == 66)
        // A directory is no file to import (the streamed reader would have read it as empty, or crashed).
        try FileManager.default.createDirectory(atPath: cli.path("folder.csv"), withIntermediateDirectories: true)
        #expect(try await cli.run("import", "folder.csv").status == 66)
        try cli.write("odd.csv", "email,shoe size\na@b.fi,44\n")
        let odd = try await cli.run("import", "odd.csv")
        #expect(odd.status == 65)
        #expect(odd.errors.contains("column 2 \"shoe size\" is unknown"))
    }

    @Test func configurationErrorsListEveryProblemAndExit78() async throws {
        let cli = try CommandLineRunner()
        try cli.write("bad.json", #"{"crm": {"rateLimit": {"requestsPerInterval": 0}}, "retention": {"months": 3}}"#)
        let result = try await cli.run("contact", "show", "--email", "a@b.fi", "--config", "bad.json")
        #expect(result.status == 78)
        #expect(result.errors.contains("bad.json: crm.rateLimit.requestsPerInterval: must be 1...250, found 0"))
        #expect(result.errors.contains("bad.json: retention.months: unknown key"))
        #expect(try await cli.run("contact", "show", "--email", "a@b.fi", "--config", "missing.json").status == 66)
    }

    @Test func editsAndLookupsUseDistinctExitCodesAndNeverEchoTheEmail() async throws {
        let cli = try CommandLineRunner()
        try cli.write("people.csv", "email,firstName\naino@example.fi,Aino\n")
        try await cli.run("import", "people.csv")
        let unknown = try await cli.run("contact", "show", "--email", "who.is.this@example.fi")
        #expect(unknown.status == 7)
        #expect(!unknown.errors.contains("who.is.this"))
        let invalid = try await cli.run("suppress", "--email", "not-valid", "--reason", "x")
        #expect(invalid.status == 65)
        #expect(!invalid.errors.contains("not-valid"))
        let purpose = try await cli.run(
            "consent", "grant", "--email", "aino@example.fi", "--purpose", "telepathy", "--source", "x")
        #expect(purpose.status == 65)

        #expect(
            try await cli.run(
                "consent", "grant", "--email", "aino@example.fi", "--purpose", "blog", "--source", "web form"
            )
            .status == 0)
        #expect(
            try await cli.run("suppress", "--email", "aino@example.fi", "--reason", "objected by phone").status == 0)
        let blocked = try await cli.run(
            "consent", "grant", "--email", "aino@example.fi", "--purpose", "newsletter", "--source", "web form")
        #expect(blocked.status == 65)
        #expect(blocked.errors.contains("--lift-opt-out"))
        #expect(
            try await cli.run(
                "consent", "grant", "--email", "aino@example.fi", "--purpose", "newsletter", "--source", "web form",
                "--lift-opt-out"
            ).status == 0)
        #expect(try await cli.run("restrict", "--email", "aino@example.fi").status == 0)

        let shown = try await cli.run("contact", "show", "--email", "aino@example.fi", "--format", "json")
        let contact = try #require(try JSONSerialization.jsonObject(with: Data(shown.output.utf8)) as? [String: Any])
        // The blog grant, the opt-out's withdrawal of each of the four purposes, the re-consent to the newsletter.
        #expect((contact["consentHistory"] as? [Any])?.count == 6)
        #expect((contact["suppressions"] as? [Any])?.count == 2)

        let exported = try await cli.run("export", "--email", "AINO@example.fi", "--output", "aino.json")
        #expect(exported.status == 0)
        let file = try Data(contentsOf: URL(fileURLWithPath: cli.path("aino.json")))
        let export = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
        #expect((export["auditLog"] as? [Any])?.isEmpty == false)
    }

    @Test func erasedSubjectIsRefusedWithItsOwnCode() async throws {
        let cli = try CommandLineRunner()
        try await cli.run("init")
        let store = try SyncStore(path: cli.path("crmsync.sqlite"))
        try store.eraseLocally(email: try EmailAddress("gone@example.fi"), requestId: "r-1", actor: "test")
        let result = try await cli.run("restrict", "--email", "gone@example.fi")
        #expect(result.status == 8)
        #expect(result.errors.contains("has been erased"))
        #expect(!result.errors.contains("gone@"))
    }

    @Test func demoRunsTheMainJobOnEmbeddedDefaults() async throws {
        let cli = try CommandLineRunner()
        let result = try await cli.run("demo", "--contacts", "50")
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("Sync plan (dry run: nothing was changed)"))
        #expect(result.output.contains("Sync report (applied)"))
        #expect(result.output.contains("0 writing request(s) to the CRM"))
        #expect(result.output.contains("erasure demo-erasure-2 verified"))
        #expect(result.output.contains("in the CRM: 404, gone"))
        #expect(!result.output.contains("aino.laine@example.fi") && !result.output.contains("Aino"))  // masked
    }
}
