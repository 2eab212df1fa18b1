import Foundation
import HubSpotClient
import MockHubSpot
import SyncModel
import SyncTesting
import Testing

@Test func dailyLimit429StopsWithoutRetrying() async throws {
    var mock = MockedClient.unlimitedMock()
    mock.dailyLimit = 3
    let fixture = try await MockedClient.start(seed: 10, mock: mock)
    var pages = 0
    do {
        for try await _ in fixture.client.allContacts(properties: ["email"], pageSize: 1) { pages += 1 }
        Issue.record("the pull did not stop")
    } catch let error as HubSpotError {
        #expect(error.isDailyLimit)
        #expect(error.errorDescription?.contains("DAILY") == true)
    }
    let journal = try await fixture.journal()
    await fixture.stop()
    #expect(pages == 3)
    #expect(journal.count == 4)
    #expect(journal.last?.status == 429)
}

@Test func ownDailyBudgetStopsBeforeSending() async throws {
    let fixture = try await MockedClient.start(seed: 10, dailyBudget: 2)
    await #expect(throws: HubSpotError.self) {
        for try await _ in fixture.client.allContacts(properties: ["email"], pageSize: 1) {}
    }
    let journal = try await fixture.journal()
    await fixture.stop()
    #expect(journal.count == 2)
}

@Test func retryAfterIsHonoured() async throws {
    let clock = ManualClock()
    let transport = ScriptedTransport([
        .reply(
            429, ["Retry-After": "7"],
            #"{"status":"error","policyName":"TEN_SECONDLY_ROLLING","errorType":"RATE_LIMIT"}"#),
        .reply(200, [:], okContact),
    ])
    let client = ScriptedTransport.client(transport, clock: clock)
    let start = clock.now
    #expect(try await client.contact(id: "10000000001")?.email == "a@x.fi")
    #expect(clock.now.timeIntervalSince(start) >= 7)
    #expect(transport.requests.count == 2)
    #expect(client.metrics.rateLimited == 1)
}

/// Found by the checker (seed 1100089 with faults): a send that threw something other than a transport error
/// kept its place in the rate window, and after a 429 storm had shrunk the allowance to one, the client's next
/// request waited for that place for ever.
@Test(.timeLimit(.minutes(1)))
func aSendThatThrowsGivesItsPlaceInTheWindowBack() async throws {
    let clock = ManualClock()
    let storm = [
        "Retry-After": "1", "X-HubSpot-RateLimit-Max": "100000000", "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    ]
    let transport = ScriptedTransport([
        .reply(429, storm, #"{"policyName":"TEN_SECONDLY_ROLLING"}"#), .abort, .reply(200, [:], okContact),
    ])
    let client = ScriptedTransport.client(transport, clock: clock)
    await #expect(throws: ScriptedTransport.Aborted.self) { try await client.contact(id: "10000000001") }
    #expect(try await client.contact(id: "10000000001")?.email == "a@x.fi")
    #expect(transport.requests.count == 3)
}

@Test func withoutRetryAfterTheIntervalHeaderDecidesTheWait() async throws {
    let clock = ManualClock()
    let transport = ScriptedTransport([
        .reply(429, ["X-HubSpot-RateLimit-Interval-Milliseconds": "10000"], #"{"policyName":"TEN_SECONDLY_ROLLING"}"#),
        .reply(200, [:], okContact),
    ])
    let client = ScriptedTransport.client(transport, clock: clock)
    let start = clock.now
    _ = try await client.contact(id: "10000000001")
    #expect(clock.now.timeIntervalSince(start) >= 10)
}

@Test func serverErrorsBackOffExponentiallyWithJitterThenGiveUp() async throws {
    let clock = ManualClock()
    let html = "<html><body>502 Bad Gateway</body></html>"
    let transport = ScriptedTransport(Array(repeating: .reply(502, ["Content-Type": "text/html"], html), count: 4))
    let client = ScriptedTransport.client(transport, clock: clock, maxAttempts: 4)
    do {
        _ = try await client.contact(id: "10000000001")
        Issue.record("expected a failure")
    } catch let error as HubSpotError {
        #expect(error.isUnavailable)
        #expect(error.status == 502)
        #expect(error.errorDescription?.contains("gave up after 4 attempts") == true)
    }
    #expect(transport.requests.count == 4)
    let caps: [Duration] = [.milliseconds(200), .milliseconds(400), .milliseconds(800)]
    #expect(clock.sleeps.count == 3)
    for (slept, cap) in zip(clock.sleeps, caps) { #expect(slept <= cap) }
}

@Test func clientErrorsAreNotRetried() async throws {
    let clock = ManualClock()
    let transport = ScriptedTransport([
        .reply(
            400, [:], #"{"status":"error","category":"VALIDATION_ERROR","message":"Email address aino@ is invalid"}"#)
    ])
    let client = ScriptedTransport.client(transport, clock: clock)
    do {
        _ = try await client.contact(id: "1")
        Issue.record("expected a failure")
    } catch let error as HubSpotError {
        #expect(error.category == "VALIDATION_ERROR")
        #expect(error.errorDescription?.contains("aino@") == false)
    }
    #expect(transport.requests.count == 1)
}

@Test func truncatedOrDroppedResponsesOfReadsAreRetried() async throws {
    let clock = ManualClock()
    let transport = ScriptedTransport([
        .reply(200, [:], #"{"id": "1000000"#),
        .fail(.connectionLost),
        .fail(.timedOut),
        .reply(200, [:], okContact),
    ])
    let client = ScriptedTransport.client(transport, clock: clock, maxAttempts: 5)
    #expect(try await client.contact(id: "10000000001") != nil)
    #expect(transport.requests.count == 4)
}

@Test func unsafeWritesAreNotReplayedAfterAnAmbiguousFailure() async throws {
    let clock = ManualClock()
    let ambiguous = ScriptedTransport([.reply(503, [:], ""), .reply(204, [:], "")])
    await #expect(throws: HubSpotError.self) {
        try await ScriptedTransport.client(ambiguous, clock: clock).gdprDelete(email: "gone@example.fi")
    }
    #expect(ambiguous.requests.count == 1)
    let refused = ScriptedTransport([.fail(.cannotConnect), .reply(204, [:], "")])
    try await ScriptedTransport.client(refused, clock: clock).gdprDelete(email: "gone@example.fi")
    #expect(refused.requests.count == 2)
}

@Test func limiterKeepsHeadroomAndWaitsForTheWindow() async throws {
    let clock = ManualClock()
    let limiter = RateLimiter(
        clock: clock, requestsPerInterval: 100, interval: .seconds(10), searchPerSecond: 5, headroomPercent: 10,
        dailyBudget: 1000)
    let start = clock.now
    for _ in 0..<90 {
        try await limiter.acquire(.standard)
        await limiter.complete(.standard, headers: nil)
    }
    #expect(clock.now == start)
    try await limiter.acquire(.standard)
    #expect(clock.now.timeIntervalSince(start) >= 10)
    await limiter.complete(.standard, headers: nil)
    for _ in 0..<5 {
        try await limiter.acquire(.search)
        await limiter.complete(.search, headers: nil)
    }
    let beforeSixthSearch = clock.now
    try await limiter.acquire(.search)
    #expect(clock.now.timeIntervalSince(beforeSixthSearch) >= 1)
}

@Test func limiterShrinksWhenOtherAppsUseTheAccount() async throws {
    let clock = ManualClock()
    // Other apps already spent 79 of the window: each of our requests lowers Remaining by one more.
    let transport = ScriptedTransport(
        (0..<30).map {
            .reply(
                200, ["X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "\(max(0, 20 - $0))"],
                okContact)
        })
    let client = HubSpotClient(
        configuration: HubSpotClientConfiguration(
            baseURL: URL(string: "http://127.0.0.1:9")!, token: "t", requestsPerInterval: 100, headroomPercent: 10),
        transport: transport, clock: clock)
    let start = clock.now
    for _ in 0..<25 { _ = try await client.contact(id: "10000000001") }
    // Other apps hold ~79 of 100: the client paces itself instead of spending the rest and earning 429s.
    #expect(clock.now.timeIntervalSince(start) >= 10)
}

@Test func dailyBudgetOfTheLimiterIsEnforced() async throws {
    let limiter = RateLimiter(
        clock: ManualClock(), requestsPerInterval: 100, interval: .seconds(10), searchPerSecond: 5, headroomPercent: 0,
        dailyBudget: 2)
    try await limiter.acquire(.standard)
    try await limiter.acquire(.search)
    #expect(await limiter.remainingToday == 0)
    await #expect(throws: DailyBudgetExhausted.self) { try await limiter.acquire(.standard) }
}

@Test func fullJitterStaysUnderTheCap() {
    let policy = RetryPolicy(maxAttempts: 6, baseDelay: .milliseconds(500), maxDelay: .seconds(4))
    #expect(policy.delay(beforeRetry: 1, unit: 0.999) <= .milliseconds(500))
    #expect(policy.delay(beforeRetry: 3, unit: 0.999) <= .seconds(2))
    #expect(policy.delay(beforeRetry: 10, unit: 0.999) <= .seconds(4))
    #expect(policy.delay(beforeRetry: 10, unit: 0) == .zero)
}

@Test func serverHeadersOnlySlowTheClientWhenTheirRateIsLower() async throws {
    let clock = ManualClock()
    // The server allows 1,000 per 10 s; the configuration asks for 50 per 100 ms (a faster rate).
    let fast = RateLimiter(
        clock: clock, requestsPerInterval: 50, interval: .milliseconds(100), searchPerSecond: 5, headroomPercent: 0,
        dailyBudget: 10_000)
    let generous = HTTPResponse(
        status: 200,
        headers: [
            "X-HubSpot-RateLimit-Max": "1000", "X-HubSpot-RateLimit-Remaining": "800",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        ],
        body: Data())
    let start = clock.now
    for _ in 0..<200 {
        try await fast.acquire(.standard)
        await fast.complete(.standard, headers: RateLimitHeaders(generous))
    }
    #expect(clock.now.timeIntervalSince(start) < 1)  // still 50 per 100 ms, not 50 per 10 s
    // A server that allows less than configured wins.
    let strict = HTTPResponse(
        status: 200, headers: ["X-HubSpot-RateLimit-Max": "10", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"],
        body: Data())
    let slowed = RateLimiter(
        clock: clock, requestsPerInterval: 100, interval: .seconds(10), searchPerSecond: 5, headroomPercent: 0,
        dailyBudget: 10_000)
    let before = clock.now
    for _ in 0..<11 {
        try await slowed.acquire(.standard)
        await slowed.complete(.standard, headers: RateLimitHeaders(strict))
    }
    #expect(clock.now.timeIntervalSince(before) >= 10)
}
