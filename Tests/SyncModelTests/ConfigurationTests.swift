import Foundation
import Testing

@testable import SyncModel

private func decode(_ json: String) throws(ConfigurationError) -> SyncConfiguration {
    try SyncConfiguration.decode(Data(json.utf8))
}

private func problems(_ json: String) -> [String] {
    do {
        _ = try decode(json)
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

@Test func emptyObjectGivesEveryDefault() throws {
    let configuration = try decode("{}")
    #expect(configuration == SyncConfiguration())
    #expect(configuration.crm.tokenEnvironmentVariable == "HUBSPOT_TOKEN")
    #expect(configuration.retention.marketingOnlyMonths == 24)
    #expect(configuration.crm.rateLimit.requestsPerInterval == 100)
    #expect(configuration.fieldMapping[.firstName] == "firstname")
    #expect(configuration.fieldMapping[.source] == nil)
    #expect(configuration.allPurposes.count == 4)
}

@Test func exampleSyncJSONInTheRepositoryIsValid() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let data = try Data(contentsOf: root.appendingPathComponent("sync.json"))
    let configuration = try SyncConfiguration.decode(data)
    #expect(configuration.conflicts.policy(for: .lifecycleStage) == .crm)
    #expect(configuration.conflicts.policy(for: .firstName) == .newest)
    #expect(configuration.purposes["newsletter"]?.subscriptionId == "7")
    #expect(configuration.schedule.every == .minutes(15))
}

@Test func everyProblemIsReportedWithItsPath() {
    let found = problems(
        """
        {"crm": {"rateLimit": {"requestsPerInterval": 0, "headroomPercent": 95}, "baseURL": "ftp://x"},
         "retention": {"marketingOnlyMonths": "two years"},
         "schedule": {"every": "soon"},
         "conflicts": {"default": "loudest", "fields": {"shoeSize": "crm"}},
         "purposes": {"newsletter": {"subscriptionId": "seven"}},
         "mapping": {"email": "mail", "nickname": "nick"}}
        """)
    #expect(found.contains("crm.rateLimit.requestsPerInterval: must be 1...250, found 0"))
    #expect(found.contains("crm.rateLimit.headroomPercent: must be 0...90, found 95"))
    #expect(found.contains { $0.hasPrefix("crm.baseURL: must be an http(s) URL") })
    #expect(found.contains("retention.marketingOnlyMonths: expected a number, found a string \"two years\""))
    #expect(found.contains { $0.hasPrefix("schedule.every: must be a duration like") })
    #expect(found.contains { $0.hasPrefix("conflicts.default: must be one of newest, local, crm, found \"loudest\"") })
    #expect(found.contains { $0.hasPrefix("conflicts.fields.shoeSize: unknown field") })
    #expect(found.contains { $0.hasPrefix("purposes.newsletter.subscriptionId: must be a subscription id of digits") })
    #expect(found.contains { $0.hasPrefix("mapping:") && $0.contains("\"nickname\" is not a contact field") })
    #expect(found.count == 9, "\(found)")
}

@Test func unknownKeysAreErrorsWithASuggestion() {
    let found = problems(#"{"crm": {"rateLimits": {}}, "stor": {}}"#)
    #expect(found.contains { $0.hasPrefix("crm.rateLimits: unknown key (did you mean \"rateLimit\"?)") })
    #expect(found.contains { $0.hasPrefix("stor: unknown key (did you mean \"store\"?)") })
}

@Test func malformedJSONIsOneClearProblem() {
    let found = problems(#"{"crm": {"baseURL": "http://x",}"#)
    #expect(found.count == 1)
    #expect(found.first?.hasPrefix("(file): is not valid JSON") == true)
}

@Test func wrongShapeAtTheTopIsReported() {
    #expect(problems("[1, 2]") == ["(top level): must be an object, found an array"])
    #expect(problems(#"{"crm": 5}"#).first == "crm: must be an object, found 5")
}

@Test func errorDescriptionNamesTheFile() {
    do {
        _ = try SyncConfiguration.decode(Data(#"{"retention": {"marketingOnlyMonths": 0}}"#.utf8), file: "sync.json")
        Issue.record("accepted an invalid configuration")
    } catch {
        #expect(error.errorDescription == "sync.json: retention.marketingOnlyMonths: must be 1...120, found 0")
    }
}

@Test func durationsParseAndPrint() {
    #expect(ConfiguredDuration(parsing: "15m") == .minutes(15))
    #expect(ConfiguredDuration(parsing: "500ms")?.milliseconds == 500)
    #expect(ConfiguredDuration(parsing: "2h")?.description == "2h")
    #expect(ConfiguredDuration(parsing: "fast") == nil)
    #expect(ConfiguredDuration(parsing: "-5s") == nil)
}

@Test func defaultConfigurationRoundTripsThroughItsJSON() throws {
    let written = SyncConfiguration().encodedJSON()
    #expect(try SyncConfiguration.decode(written) == SyncConfiguration())
}

@Test(arguments: [("2026-09", CRMAPIVersion.v2026_09), ("2026-03", .v2026_03), ("legacy", .legacy)])
func apiVersionAcceptsTheDateVersionsAndLegacy(word: String, version: CRMAPIVersion) throws {
    #expect(try decode(#"{"crm": {"apiVersion": "\#(word)"}}"#).crm.apiVersion == version)
    #expect(try decode("{}").crm.apiVersion == .v2026_09)
}

@Test(arguments: ["2025-01", "v3", "2026-9", ""])
func anyOtherAPIVersionIsAnErrorNamingTheKey(word: String) {
    let found = problems(#"{"crm": {"apiVersion": "\#(word)"}}"#)
    #expect(found.count == 1)
    #expect(found.first?.hasPrefix("crm.apiVersion: must be one of 2026-09, 2026-03, legacy") == true, "\(found)")
}

/// The token and personal data never cross a network in clear text, and secrets never live in the file.
@Suite struct BaseURLSecurityTests {
    @Test(arguments: [
        "http://api.hubapi.com", "http://10.0.0.5:8080", "http://127.0.0.1.evil.example",
        "http://localhost.evil.example:1", "http://evil.localhost", "http://127.0.0.01", "http://0x7f.0.0.1",
    ])
    func plainHTTPBeyondLoopbackIsRefused(url: String) {
        let found = problems(#"{"crm": {"baseURL": "\#(url)"}}"#)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("crm.baseURL: must use https") == true, "\(found)")
    }

    @Test(arguments: [
        "https://user:secret@api.hubapi.com", "https://token@api.hubapi.com", "http://u:p@127.0.0.1:8089",
        "https://api.hubapi.com?hapikey=secret", "https://api.hubapi.com/#secret",
    ])
    func credentialsInTheURLAreRefusedWithoutBeingRepeated(url: String) {
        let found = problems(#"{"crm": {"baseURL": "\#(url)"}}"#)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("crm.baseURL: must not carry") == true, "\(found)")
        #expect(!found.joined().contains("secret") && !found.joined().contains("token@"))
    }

    @Test(arguments: [
        "https://api.hubapi.com", "http://127.0.0.1:8089", "http://localhost:9000", "http://[::1]:8089",
        "http://127.1.2.3", "https://proxy.internal.example:8443/hubspot",
    ])
    func httpsAnywhereAndHTTPOnLoopbackAreAccepted(url: String) {
        #expect(problems(#"{"crm": {"baseURL": "\#(url)"}}"#).isEmpty)
    }

    /// URLSession cannot use an upper-case scheme: refused here rather than failing at run time.
    @Test(arguments: ["HTTP://127.0.0.1:8089", "ftp://crm.example", "crm.example", "ht!tp://crm.example"])
    func anythingButALowerCaseHTTPURLIsRefusedWithoutBeingRepeated(url: String) {
        let found = problems(#"{"crm": {"baseURL": "\#(url)"}}"#)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("crm.baseURL: must be an http(s) URL") == true, "\(found)")
        #expect(!found.joined().contains(url))
    }
}
