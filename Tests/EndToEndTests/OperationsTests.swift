import Foundation
import MockHubSpot
import SyncModel
import Testing

/// What an operator running crmsync unattended relies on: `--version`, logs a shipper can read, the systemd unit.
@Suite(.serialized) struct OperationsTests {
    @Test func versionPrintsTheVersionAndTheAPIVersionTheConfigurationSelects() async throws {
        let cli = try CommandLineRunner()
        let defaults = try await cli.run("--version")
        #expect(defaults.status == 0, "\(defaults.errors)")
        #expect(defaults.output == "crmsync \(CRMSyncVersion.current)\nHubSpot API 2026-09\n")
        try cli.write("sync.json", #"{"crm": {"apiVersion": "legacy"}}"#)
        #expect(try await cli.run("--version").output.hasSuffix("HubSpot API legacy\n"))
        try cli.write("other.json", #"{"crm": {"apiVersion": "2026-03"}}"#)
        #expect(try await cli.run("--version", "--config", "other.json").output.hasSuffix("HubSpot API 2026-03\n"))
        try cli.write("sync.json", "{not json")
        let broken = try await cli.run("--version")
        #expect(broken.status == 0)
        #expect(broken.output.contains("HubSpot API 2026-09 (default; sync.json could not be read)"))
    }

    /// `CRMSYNC_LOG_FORMAT=json`: every line of a sync's log is one JSON object with the time, level, label, message
    /// and metadata, the run id among it; no address or name in any of them.
    @Test func jsonLogsAreOneMaskedObjectPerLineNamingTheRun() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 2))
        defer { Task { await server.stop() } }
        try cli.write("people.csv", "email,firstName\nsecret.person@example.fi,Zebulon\nbroken-address,X\n")
        cli.environment["CRMSYNC_LOG_FORMAT"] = "json"
        cli.environment["CRMSYNC_LOG_LEVEL"] = "debug"
        _ = try await cli.run("import", "people.csv")
        let sync = try await cli.run("sync")
        #expect(sync.status == 0, "\(sync.errors)")
        let lines = sync.errors.split(separator: "\n").map(String.init)
        #expect(lines.count > 3)
        var runIds: Set<String> = []
        for line in lines {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            #expect(Set(object.keys) == ["time", "level", "label", "message", "metadata"])
            let time = try #require(object["time"] as? String)
            #expect(
                (try? Date(time, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true))) != nil
            )
            #expect(
                ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(
                    object["level"] as? String))
            if let run = (object["metadata"] as? [String: Any])?["sync.run"] as? String { runIds.insert(run) }
            #expect(!line.contains("secret.person") && !line.contains("Zebulon"))
        }
        #expect(runIds.count == 1)
        cli.environment["CRMSYNC_LOG_FORMAT"] = "xml"
        let refused = try await cli.run("status")
        #expect(refused.status == 64)
        #expect(refused.errors.contains("CRMSYNC_LOG_FORMAT must be text or json"))
    }

    /// The unit in `deploy/` passes `systemd-analyze verify` with its `ExecStart` pointed at the built binary (verify
    /// checks that the binary exists), and no line of it draws a warning.
    @Test(.enabled(if: Self.systemdAnalyze != nil, "systemd-analyze is not installed: the unit is not verified here"))
    func theSystemdUnitPassesSystemdAnalyzeVerify() throws {
        let unit = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../deploy/crmsync.service").standardizedFileURL
        let text = try String(contentsOf: unit, encoding: .utf8)
        for directive in [
            "Restart=", "EnvironmentFile=", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes",
        ] {
            #expect(text.contains(directive))
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("crmsync.service")
        try Data(
            text.replacingOccurrences(of: "/usr/local/bin/crmsync", with: try CommandLineRunner.executable.path).utf8
        ).write(to: copy)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.systemdAnalyze!)
        process.arguments = ["verify", copy.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(said)")
        #expect(!said.contains("crmsync.service"), "\(said)")
    }

    static let systemdAnalyze: String? = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}
