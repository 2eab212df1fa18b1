import Foundation
import MockHubSpot
import Testing

private let contacts = "/crm/v3/objects/contacts"

@Test func burstWindowAnswers429WhenSpentAndRecoversAfterIt() async throws {
    var configuration = MockConfiguration()
    // A long window, and the mock's limit clock moved forward instead of waiting: no real time involved.
    configuration.rateLimit = .init(max: 5, intervalMs: 60_000)
    try await MockHTTP.withMock(seed: 1, configuration: configuration) { http in
        var remaining: [String?] = []
        for _ in 0..<5 {
            let reply = try await http.call("GET", "\(contacts)?limit=1")
            #expect(reply.status == 200)
            remaining.append(reply.header("X-HubSpot-RateLimit-Remaining"))
        }
        #expect(remaining == ["4", "3", "2", "1", "0"])
        let limited = try await http.call("GET", "\(contacts)?limit=1")
        #expect(limited.status == 429)
        #expect(limited.object["policyName"] as? String == "TEN_SECONDLY_ROLLING")
        #expect(limited.object["errorType"] as? String == "RATE_LIMIT")
        #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(limited.header("X-HubSpot-RateLimit-Interval-Milliseconds") == "60000")
        try await http.control.advance(by: .milliseconds(60_001))
        #expect(try await http.call("GET", "\(contacts)?limit=1").status == 200)
        #expect(try await http.control.stats().tooManyRequests == 1)
    }
}

@Test func retryAfterCanBeSwitchedOff() async throws {
    var configuration = MockConfiguration()
    // An hour: a loaded machine never rolls the window between the two calls.
    configuration.rateLimit = .init(max: 1, intervalMs: 3_600_000)
    configuration.retryAfter = false
    try await MockHTTP.withMock(configuration: configuration) { http in
        try await http.call("GET", "\(contacts)?limit=1")
        let limited = try await http.call("GET", "\(contacts)?limit=1")
        #expect(limited.status == 429)
        #expect(limited.header("Retry-After") == nil)
    }
}

@Test func dailyLimitAnswersDailyPolicy() async throws {
    var configuration = MockConfiguration()
    configuration.dailyLimit = 2
    try await MockHTTP.withMock(configuration: configuration) { http in
        try await http.call("GET", "\(contacts)?limit=1")
        let second = try await http.call("GET", "\(contacts)?limit=1")
        #expect(second.header("X-HubSpot-RateLimit-Daily-Remaining") == "0")
        let third = try await http.call("GET", "\(contacts)?limit=1")
        #expect(third.status == 429)
        #expect(third.object["policyName"] as? String == "DAILY")
    }
}

@Test func searchHasItsOwnPerSecondBucket() async throws {
    var configuration = MockConfiguration()
    configuration.searchPerSecond = 2
    configuration.searchWindowMs = 60_000  // no dependence on how fast a loaded machine answers
    try await MockHTTP.withMock(configuration: configuration) { http in
        let body: [String: Any] = ["limit": 1]
        #expect(try await http.call("POST", "\(contacts)/search", body).status == 200)
        #expect(try await http.call("POST", "\(contacts)/search", body).status == 200)
        let limited = try await http.call("POST", "\(contacts)/search", body)
        #expect(limited.status == 429)
        #expect(limited.object["policyName"] as? String == "SECONDLY")
        // The burst bucket is untouched.
        #expect(try await http.call("GET", "\(contacts)?limit=1").status == 200)
    }
}

/// The status sequence of `count` reads under a fault configuration.
private func faultSequence(_ faults: MockConfiguration.Faults, count: Int) async throws -> [Int] {
    var configuration = MockHTTP.unlimited()
    configuration.faults = faults
    return try await MockHTTP.withMock(seed: 1, configuration: configuration) { http in
        var statuses: [Int] = []
        for _ in 0..<count { statuses.append(try await http.call("GET", "\(contacts)/10000000001").status) }
        return statuses
    }
}

@Test func serverErrorsFireAtTheConfiguredRateAndRepeatForTheSameSeed() async throws {
    var faults = MockConfiguration.Faults()
    faults.seed = 42
    faults.serverErrorRate = 0.1
    let first = try await faultSequence(faults, count: 600)
    let errors = first.filter { $0 >= 500 }.count
    #expect((40...80).contains(errors), "got \(errors) errors in 600")
    #expect(Set(first.filter { $0 >= 500 }).isSubset(of: [500, 502, 503]))
    #expect(try await faultSequence(faults, count: 600) == first)
    faults.seed = 43
    #expect(try await faultSequence(faults, count: 600) != first)
}

@Test func stormsAnswerRunsOf429() async throws {
    var faults = MockConfiguration.Faults()
    faults.seed = 7
    faults.stormRate = 0.02
    faults.stormLength = 4
    let statuses = try await faultSequence(faults, count: 400)
    let limited = statuses.filter { $0 == 429 }.count
    #expect(limited >= 8, "got \(limited) 429s in 400 requests")
    // A storm is a run: every 429 has a neighbouring 429.
    for (index, status) in statuses.enumerated() where status == 429 {
        let neighbours = [index - 1, index + 1].filter { statuses.indices.contains($0) }.map { statuses[$0] }
        #expect(neighbours.contains(429))
    }
}

@Test func faultsCanBeLimitedToSomeEndpoints() async throws {
    var configuration = MockHTTP.unlimited()
    configuration.faults.serverErrorRate = 1
    configuration.faults.endpoints = ["/crm/v3/objects/contacts/search"]
    try await MockHTTP.withMock(seed: 1, configuration: configuration) { http in
        #expect(try await http.call("GET", "\(contacts)/10000000001").status == 200)
        let failed = try await http.call("POST", "\(contacts)/search", ["limit": 1])
        #expect(failed.status >= 500)
        #expect(failed.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(failed.json == nil)
    }
}

@Test func droppedAndTruncatedResponsesFailOnTheClient() async throws {
    for kind in [\MockConfiguration.Faults.dropRate, \.truncateRate] {
        try await MockHTTP.withMock(seed: 1, configuration: MockHTTP.unlimited()) { http in
            try await http.control.configure {
                $0.faults[keyPath: kind] = 1.0
                $0.faults.seed = 3
            }
            await #expect(throws: (any Error).self) { try await http.call("GET", "\(contacts)?limit=100") }
            try await http.control.configure { $0.faults[keyPath: kind] = 0.0 }
            #expect(try await http.call("GET", "\(contacts)?limit=100").status == 200)
        }
    }
}
