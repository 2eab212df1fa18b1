import Foundation
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

@Suite(.serialized) struct DaemonTests {
    @Test func sigtermMidRunStopsCleanlyAndTheNextRunConverges() async throws {
        let mock = CommandLineRunner.slowMock(latencyMs: 15)  // a run long enough to be interrupted
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 2_000, configuration: mock))
        defer { Task { await server.stop() } }
        let rows = (0..<300).map { "local\($0)@example.fi,L\($0)" }.joined(separator: "\n")
        try cli.write("people.csv", "email,firstName\n" + rows + "\n")
        #expect(try await cli.run("import", "people.csv").status == 0)

        let daemon = try await cli.start("run", "--every", "1h")
        try await Task.sleep(for: .milliseconds(1_500))
        daemon.terminate()  // SIGTERM
        let stopped = try await CommandLineRunner.wait(for: daemon)
        #expect(stopped.status == 0, "\(stopped.errors)")
        #expect(stopped.errors.contains("crmsync run stopped"))

        let store = try SyncStore(path: cli.path("crmsync.sqlite"))
        #expect(try store.currentLease("writer") == nil)
        let again = try await cli.run("sync")
        #expect(again.status == 0, "\(again.errors)")
        #expect(try await server.control.stats().contacts == 2_300)
        #expect(try store.contactCount() == 2_300)
        #expect(try store.outboxCount() == 0)
    }

    @Test func aSyncKilledWithSIGKILLNeverBlocksTheNextOne() async throws {
        let mock = CommandLineRunner.slowMock(latencyMs: 20)  // a run long enough to be killed in the middle
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 1_000, configuration: mock))
        defer { Task { await server.stop() } }
        try await cli.run("init")
        let store = try SyncStore(path: cli.path("crmsync.sqlite"))
        let victim = try await cli.start("sync")
        // Wait until the run holds the lease (its row says so), then kill it: no cleanup code runs.
        for _ in 0..<200 where try store.currentLease(WriterLease.name) == nil {
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(try store.currentLease(WriterLease.name) != nil)
        kill(victim.processIdentifier, SIGKILL)
        _ = try await CommandLineRunner.wait(for: victim)
        // The row is left behind, but no live process holds the lock: status says free, the next run proceeds.
        #expect(try store.currentLease(WriterLease.name) != nil)
        let status = try await cli.run("status", "--format", "json")
        #expect(
            (try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])?["leaseHolder"] == nil)
        let next = try await cli.run("sync")
        #expect(next.status == 0, "\(next.errors)")
        #expect(try store.contactCount() == 1_000)
    }

    @Test func aHeldLeaseGivesItsOwnExitCodeAndStatusMatchesTheJournal() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 5))
        defer { Task { await server.stop() } }
        try await cli.run("init")
        let store = try SyncStore(path: cli.path("crmsync.sqlite"))
        try await WriterLease(store: store, holder: "someone-else").run { _ in
            let blocked = try await cli.run("sync")
            #expect(blocked.status == 5)
            #expect(blocked.errors.contains("another crmsync run holds the lease (someone-else"))
            let status = try await cli.run("status", "--format", "json")
            let json = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
            #expect(json?["leaseHolder"] as? String == "someone-else")
        }

        #expect(try await cli.run("sync").status == 0)
        let status = try await cli.run("status", "--format", "json")
        let json = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
        let run = try #require((json?["runs"] as? [[String: Any]])?.first)
        let journal = try await server.control.journal()
        #expect(run["requests"] as? Int == journal.count)
        #expect(run["status"] as? String == "ok")
        #expect(((run["summary"] as? [String: Any])?["toLocal"] as? [String: Any])?["creates"] as? Int == 5)
        #expect(json?["pendingOutbox"] as? Int == 0)
        #expect(json?["leaseHolder"] == nil)
        let text = try await cli.run("status")
        #expect(text.output.contains("checkpoint:"))
    }

    @Test func theDaemonReconcilesOnceADayAfterItsSync() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 20))
        defer { Task { await server.stop() } }
        try await cli.run("init")
        let daemon = try await cli.start("run", "--every", "1h", "--reconcile-budget", "50")
        let store = try SyncStore(path: cli.path("crmsync.sqlite"))
        var reconciled: String?
        for _ in 0..<100 where reconciled == nil {
            try await Task.sleep(for: .milliseconds(100))
            reconciled = try store.checkpoint("reconcile.lastAt")
        }
        daemon.terminate()
        let stopped = try await CommandLineRunner.wait(for: daemon)
        #expect(reconciled != nil)
        #expect(stopped.status == 0)
        #expect(stopped.errors.contains("daily reconcile"))
        #expect(try store.contactCount() == 20)
    }
}
