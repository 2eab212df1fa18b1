import Foundation
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// The register as an administrator installs it on a shared host: private files, TLS only, one lock per store file.
@Suite(.serialized) struct VaultCommandTests {
    static func mode(_ path: String) -> String {
        var info = stat()
        return stat(path, &info) == 0 ? "0" + String(info.st_mode & 0o7777, radix: 8) : "none"
    }

    @Test func everyFileThatCanHoldPersonalDataIsOwnerOnlyUnderTheUsualUmask() async throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 2))
        defer { Task { await server.stop() } }
        try cli.write("people.csv", "email,firstName,newsletter\naino@example.fi,Aino,granted\n")
        #expect(try await cli.run("import", "people.csv").status == 0)
        let sync = try await cli.run("sync", "--format", "markdown", "--report", "plan.md", "--show-pii")
        #expect(sync.status == 0, "\(sync.errors)")
        #expect(try await cli.run("export", "--email", "aino@example.fi", "--output", "aino.json").status == 0)
        let status = try await cli.run("status")
        #expect(!status.output.contains("warning"), "\(status.output)")
        for name in ["crmsync.sqlite", "plan.md", "aino.json"] {
            #expect(Self.mode(cli.path(name)) == "0600", "\(name)")
        }
        // SQLite removes the write-ahead files when the last connection closes; left behind, they are owner-only too.
        for name in ["crmsync.sqlite-wal", "crmsync.sqlite-shm"] {
            #expect(["0600", "none"].contains(Self.mode(cli.path(name))), "\(name)")
        }
        // A report written over an existing world-readable file is narrowed too.
        FileManager.default.createFile(
            atPath: cli.path("old.md"), contents: nil, attributes: [.posixPermissions: 0o644])
        #expect(try await cli.run("sync", "--dry-run", "--report", "old.md").status == 0)
        #expect(Self.mode(cli.path("old.md")) == "0600")
    }

    @Test func statusAndCheckWarnAboutAStoreOthersCanRead() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 0))
        defer { Task { await server.stop() } }
        #expect(try await cli.run("init").status == 0)
        #expect(try await cli.run("check").status == 0)
        chmod(cli.path("crmsync.sqlite"), 0o644)
        let status = try await cli.run("status")
        #expect(status.status == 0)
        #expect(status.output.contains("warning: crmsync.sqlite is open to every user of this host (mode 0644)"))
        #expect(status.output.contains("chmod 600"))
        let json = try await cli.run("status", "--format", "json")
        #expect(json.output.contains("\"warnings\""))
        let check = try await cli.run("check")
        #expect(check.status == 78, "\(check.output)")
        #expect(check.output.contains("mode 0644"))
        #expect(check.output.contains("not ready"))
    }

    @Test(arguments: ["http://api.hubapi.com", "https://user:secret@api.hubapi.com"])
    func anInsecureBaseURLStopsEveryCommandThatWouldUseIt(url: String) async throws {
        let cli = try CommandLineRunner()
        cli.environment["HUBSPOT_TOKEN"] = "test-token"
        try cli.write("sync.json", #"{"crm": {"baseURL": "\#(url)"}}"#)
        for command in [["check"], ["sync"], ["sync", "--dry-run"]] {
            let result = try await cli.run(command)
            #expect(result.status == 78, "\(command)")
            #expect(result.errors.contains("crm.baseURL: must"), "\(result.errors)")
            #expect(!result.errors.contains("secret"))
        }
    }

    /// Two configurations that reach one store file by different names share one lease.
    @Test(arguments: ["link", "relative"])
    func aSecondNameForTheStoreDoesNotLetASecondSyncRunAlongside(name: String) async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 2))
        defer { Task { await server.stop() } }
        #expect(try await cli.run("init").status == 0)
        let real = cli.path("crmsync.sqlite")
        try FileManager.default.createDirectory(atPath: cli.path("other"), withIntermediateDirectories: true)
        let other: String
        switch name {
        case "link":
            other = cli.path("other/register.db")
            try FileManager.default.createSymbolicLink(atPath: other, withDestinationPath: real)
        default:
            other = "./other/../crmsync.sqlite"
        }
        try cli.write(
            "second.json", #"{"store": {"path": "\#(other)"}, "crm": {"baseURL": "\#(server.baseURL.absoluteString)"}}"#
        )
        let holder = try SyncStore(path: real)
        let second = try await WriterLease(store: holder, holder: "test-holder").run { _ in
            try await cli.run("sync", "--config", "second.json")
        }
        #expect(second.status == 5, "\(second.errors)")
        #expect(second.errors.contains("test-holder"))
        #expect(try await server.control.journal().allSatisfy { !$0.isMutating })
    }

    @Test func aZeroJitterIsAValidJitter() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 1))
        defer { Task { await server.stop() } }
        let daemon = try await cli.start("run", "--every", "1h", "--jitter", "0s")
        try await Task.sleep(for: .milliseconds(1_500))
        daemon.terminate()
        let stopped = try await CommandLineRunner.wait(for: daemon)
        #expect(stopped.status == 0, "\(stopped.errors)")
        #expect(stopped.errors.contains("schedule.jitter=0ms") || stopped.errors.contains("crmsync run started"))
        let refused = try await cli.run("run", "--every", "0s")
        #expect(refused.status == 64)
    }

    /// Erasure of an internationalised address, in either spelling, reaches the record HubSpot holds.
    @Test(arguments: ["user@bücher.fi", "user@xn--bcher-kva.fi"])
    func anInternationalisedAddressIsErasedInEitherSpelling(spelling: String) async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 0))
        defer { Task { await server.stop() } }
        try await server.control.seed(.contacts([MockSeedContact(["email": "user@bücher.fi", "firstname": "U"])]))
        let erase = try await cli.run("erase", "--email", spelling)
        #expect(erase.status == 0, "\(erase.errors)")
        #expect(erase.output.contains("verified"))
        #expect(try await server.control.stats().contacts == 0)
    }
}

extension VaultCommandTests {
    /// A corporate proxy is the standard `HTTPS_PROXY`: libcurl, under Foundation's URLSession, tunnels through it.
    @Test func httpsGoesThroughTheProxyTheEnvironmentNames() async throws {
        let proxy = try OneShotListener()
        let cli = try CommandLineRunner()
        cli.environment["HUBSPOT_TOKEN"] = "test-token"
        // Both spellings (libcurl reads the lower-case one first), and no exception list from the host's environment.
        cli.environment["HTTPS_PROXY"] = "http://127.0.0.1:\(proxy.port)"
        cli.environment["https_proxy"] = "http://127.0.0.1:\(proxy.port)"
        cli.environment["NO_PROXY"] = ""
        cli.environment["no_proxy"] = ""
        try cli.write("sync.json", #"{"crm": {"baseURL": "https://crm.invalid", "retry": {"maxAttempts": 1}}}"#)
        let check = try await cli.run("check")
        #expect(check.status != 0)
        #expect(proxy.firstLine() == "CONNECT crm.invalid:443 HTTP/1.1")
    }
}

/// A loopback listener that answers the first connection `502` and keeps its first request line: a stand-in proxy.
final class OneShotListener: @unchecked Sendable {
    private let listener: LoopbackListener
    private let received = DispatchSemaphore(value: 0)
    private let box: Box

    var port: Int { listener.port }

    init() throws {
        let box = Box()
        let received = self.received
        listener = try LoopbackListener { connection, bytes in
            box.line = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n").first
            if connection >= 0 {
                LoopbackListener.send("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", on: connection)
            }
            received.signal()
        }
        self.box = box
    }

    private final class Box: @unchecked Sendable { var line: String? }

    /// The first request line received, waiting up to 30 s for it.
    func firstLine() -> String? {
        _ = received.wait(timeout: .now() + 30)
        return box.line
    }
}

extension VaultCommandTests {
    @Test func contactShowDisplaysABidiOverrideInAValueAsText() async throws {
        let cli = try CommandLineRunner()
        try cli.write("people.csv", "email,city\naino@example.fi,Oulu\u{202E}gpj.exe\n")
        #expect(try await cli.run("import", "people.csv").status == 0)
        let shown = try await cli.run("contact", "show", "--email", "aino@example.fi", "--format", "text")
        #expect(shown.status == 0, "\(shown.errors)")
        #expect(shown.output.contains("Oulu<U+202E>gpj.exe"), "\(shown.output)")
        #expect(!shown.output.unicodeScalars.contains { $0.value == 0x202E })
    }
}

/// Issue 19, finding 1: a restored backup of the store does not undo an erasure.
@Suite(.serialized) struct RestoredBackupCommandTests {
    @Test func anErasureSurvivesTheStoreBeingPutBackFromABackup() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 2))
        defer { Task { await server.stop() } }
        try cli.write(
            "people.csv",
            "email,firstName,newsletter\nerase.me@example.fi,Zebulon,granted\nstays@example.fi,S,granted\n")
        #expect(try await cli.run("import", "people.csv").status == 0)
        // Last night's backup of the store file (the process has ended, so the file is whole), before the sync.
        try FileManager.default.copyItem(atPath: cli.path("crmsync.sqlite"), toPath: cli.path("backup.sqlite"))
        #expect(try await cli.run("sync").status == 0)
        let erase = try await cli.run("erase", "--email", "erase.me@example.fi")
        #expect(erase.status == 0, "\(erase.errors)")
        #expect(erase.output.contains("verified"))

        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: cli.path("crmsync.sqlite" + suffix))
        }
        try FileManager.default.copyItem(atPath: cli.path("backup.sqlite"), toPath: cli.path("crmsync.sqlite"))
        let status = try await cli.run("status")
        #expect(status.output.contains("erasure journal:"), "\(status.output)")
        let sync = try await cli.run("sync")
        #expect(sync.status == 0, "\(sync.errors)")
        let erasures = try await cli.run("erasures", "--format", "json")
        #expect(erasures.output.contains("\"verified\""), "\(erasures.output)")
        #expect(try await cli.run("contact", "show", "--email", "erase.me@example.fi").status == 8)
        // HubSpot holds no record of the subject, and nothing re-subscribed the address.
        let journal = try await server.control.journal()
        let afterRestore = journal.suffix(from: journal.lastIndex { $0.path.contains("gdpr-delete") } ?? 0)
        #expect(!afterRestore.contains { $0.method == "POST" && $0.path.hasSuffix("/batch/upsert") && $0.status < 300 })
        let reply = try await server.control.stats()
        #expect(reply.contacts == 3)  // the two seeded and the one kept; the erased subject's record is gone
        #expect(try await cli.run("contact", "show", "--email", "stays@example.fi").status == 0)
    }
}
