import Foundation
import MockHubSpot
import SyncModel
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

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
            // ISO 8601 in UTC with milliseconds, the zone written (`Z`).
            #expect(time.hasSuffix("Z"), "\(time)")
            #expect(
                (try? Date(
                    time,
                    strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(
                        separator: .omitted))) != nil, "\(time)")
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

    /// `crmsync run --metrics`: `/metrics` shows the lease held while a run works and, after it, the run's outcome
    /// and what it changed (3 contacts pushed → the counter at 3); `/health` turns 503 once the CRM has failed for two
    /// periods and 200 again after a good run.
    @Test func theDaemonsMetricsAndHealthFollowItsRuns() async throws {
        let mock = CommandLineRunner.slowMock(latencyMs: 10)  // a run long enough to be scraped while it works
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 400, configuration: mock))
        defer { Task { await server.stop() } }
        try cli.write(
            "sync.json",
            #"{"crm": {"baseURL": "\#(server.baseURL.absoluteString)", "retry": {"maxAttempts": 1}}}"#)
        try cli.write("people.csv", "email,firstName\na@example.fi,A\nb@example.fi,B\nc@example.fi,C\n")
        #expect(try await cli.run("import", "people.csv").status == 0)
        let port = try Self.freePort()
        let daemon = try await cli.start("run", "--every", "2s", "--jitter", "0s", "--metrics", "127.0.0.1:\(port)")
        defer { daemon.terminate() }
        let base = "http://127.0.0.1:\(port)"

        let during = try await Self.poll("\(base)/metrics") { Self.value($0, "crmsync_lease_held") == 1 }
        #expect(Self.value(during, "crmsync_lease_held") == 1)
        let after = try await Self.poll("\(base)/metrics") {
            Self.value($0, #"crmsync_runs_total{outcome="succeeded"}"#) ?? 0 >= 1
        }
        #expect(Self.value(after, #"crmsync_contacts_changed_total{direction="to_crm",kind="create"}"#) == 3)
        #expect(Self.value(after, #"crmsync_contacts_changed_total{direction="to_local",kind="create"}"#) == 400)
        #expect(Self.value(after, "crmsync_crm_requests_total") ?? 0 > 0)
        #expect(Self.value(after, "crmsync_erasures_overdue") == 0)
        #expect(!after.contains("example.fi"))
        for name in [
            "crmsync_runs_total", "crmsync_run_duration_seconds", "crmsync_contacts_changed_total",
            "crmsync_crm_requests_total", "crmsync_crm_rate_limited_total", "crmsync_crm_retries_total",
            "crmsync_crm_daily_budget_remaining", "crmsync_checkpoint_age_seconds", "crmsync_change_feed_lag_seconds",
            "crmsync_quarantined_contacts", "crmsync_erasures_pending", "crmsync_erasures_overdue",
            "crmsync_lease_held",
            "crmsync_last_success_timestamp_seconds",
        ] {
            #expect(after.contains("# TYPE \(name) "), "\(name)")
        }
        #expect(Self.value(after, "crmsync_crm_daily_budget_remaining") ?? 0 > 0)
        #expect(Self.value(after, "crmsync_last_success_timestamp_seconds") ?? 0 > 1_700_000_000)
        let refused = try await cli.run("run", "--metrics", "not-an-address")
        #expect(refused.status == 64)
        #expect(try await Self.get("\(base)/health").status == 200)

        _ = try await server.control.configure { $0.faults.serverErrorRate = 1 }
        let down = try await Self.health(base, answering: 503)
        #expect(down.hasPrefix("no successful run for"))
        #expect(down.contains("last run: crm_unavailable"))
        let failing = try await Self.get("\(base)/metrics").body
        #expect(Self.value(failing, #"crmsync_runs_total{outcome="crm_unavailable"}"#) ?? 0 >= 1)

        _ = try await server.control.configure { $0.faults.serverErrorRate = 0 }
        let up = try await Self.health(base, answering: 200)
        #expect(up.hasPrefix("ok: last successful run"))
        daemon.terminate()
        let stopped = try await CommandLineRunner.wait(for: daemon)
        #expect(stopped.status == 0, "\(stopped.errors)")
    }

    /// The value of one series in a Prometheus exposition, or nil.
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    static func get(_ url: String) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 5
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// GETs `url` every 20 ms (a refused connection while the listener starts counts as not yet) until the status
    /// and body satisfy the conditions; returns the body.
    static func poll(
        _ url: String, timeout: Duration = .seconds(20), _ body: (String) -> Bool,
        until status: (Int) -> Bool = { $0 == 200 }
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let reply = try? await get(url), status(reply.status), body(reply.body) { return reply.body }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("\(url) never answered as expected within \(timeout)")
        return ""
    }

    /// `/health`'s line once it answers `status` (within 30 s: two periods, the daemon's backoff and a run).
    static func health(_ base: String, answering status: Int) async throws -> String {
        try await poll("\(base)/health", timeout: .seconds(30), { _ in true }, until: { $0 == status })
    }

    /// A port nothing listens on now (the kernel's pick for port 0).
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The HTML plan in a real browser (headless Chromium): it renders under its own Content-Security-Policy (the
    /// filter script runs), its counts equal the JSON report's, a crafted CRM value (`<script>`, a bidi override) is
    /// text, not markup, and the filter (started from the page's fragment) shows exactly the matching changes.
    @Test(.enabled(if: Self.chromium != nil, "Chromium is not installed: the HTML report is not opened in a browser"))
    func theHTMLPlanRendersInABrowserWithTheJSONCountsAndCraftedValuesAsText() async throws {
        let (cli, server) = try await CommandLineRunner.againstMock(.init(seedContacts: 12))
        defer { Task { await server.stop() } }
        try await server.control.seed(
            .contacts([
                MockSeedContact([
                    "email": "crafted@example.fi", "company": "<script>alert(1)</script>", "city": "Esp\u{202E}oo",
                ])
            ]))
        try cli.write("people.csv", "email,firstName,newsletter\na@example.fi,A,granted\nb@example.fi,B,withdrawn\n")
        #expect(try await cli.run("import", "people.csv").status == 0)
        let html = try await cli.run("sync", "--dry-run", "--format", "html", "--report", "plan.html")
        #expect(html.status == 0, "\(html.errors)")
        #expect(html.output.contains("Sync plan (dry run"))  // the terminal gets text
        #expect(try await cli.run("sync", "--dry-run", "--format", "json", "--report", "plan.json").status == 0)
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cli.path("plan.json"))))
                as? [String: Any])
        let summary = try #require(json["summary"] as? [String: Any])
        let changes = try #require(json["changes"] as? [[String: Any]])

        let page = URL(fileURLWithPath: cli.path("plan.html")).absoluteString
        let dom = try Self.dumpDOM(page)
        for (direction, key) in [("toCRM", "toCRM"), ("toLocal", "toLocal")] {
            for (id, field) in [
                ("creates", "creates"), ("updates", "updates"), ("consent", "consentChanges"),
                ("optouts", "suppressions"),
            ] {
                let shown = Self.text(ofElement: "count-\(direction)-\(id)", in: dom)
                let counted = (summary[key] as? [String: Any])?[field] as? Int
                #expect(shown == counted.map(String.init), "\(direction) \(id)")
            }
        }
        #expect(dom.components(separatedBy: "<script").count == 2)  // the page's own script, nothing else
        #expect(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!dom.contains("\u{202E}"))
        #expect(dom.contains("Esp&lt;U+202E&gt;oo"))
        #expect(dom.contains("data-shown=\"\(changes.count)\""))

        let expected = changes.filter {
            $0["direction"] as? String == "toLocal" && !($0["field"] as? String ?? "").hasPrefix("consent.")
                && $0["field"] as? String != "optedOutOfAll" && $0["field"] as? String != "record"
                && $0["field"] as? String != "crmId"
        }.count
        #expect(expected > 0)
        let filtered = try Self.dumpDOM(page + "#direction=toLocal&kind=field")
        #expect(filtered.contains("data-shown=\"\(expected)\""))
        #expect(filtered.contains("\(expected) of \(changes.count) changes shown"))
        let rows = filtered.components(separatedBy: "<tr data-direction=").dropFirst()
        #expect(rows.count == changes.count)
        for row in rows {
            let matches = row.hasPrefix("\"toLocal\" data-kind=\"field\"")
            #expect(row.contains(" hidden") != matches, "\(row.prefix(80))")
        }
    }

    /// The DOM after the page's script ran, as headless Chromium serialises it.
    static func dumpDOM(_ url: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium!)
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--dump-dom", url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    /// The text of the element with `id` in serialised HTML (no nested markup).
    static func text(ofElement id: String, in html: String) -> String? {
        guard let start = html.range(of: "id=\"\(id)\">"), let end = html[start.upperBound...].range(of: "<") else {
            return nil
        }
        return String(html[start.upperBound..<end.lowerBound])
    }

    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static let systemdAnalyze: String? = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}
