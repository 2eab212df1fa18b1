import Foundation

/// HubSpot's rate limits as the contract states them: a rolling burst window with headers, a daily
/// budget, and a separate per-second search bucket without headers.
struct RateLimitWindows {
    private var burst: [Double] = []
    private var burstStart = 0
    private var search: [Double] = []
    private var searchStart = 0
    private(set) var dailyUsed = 0
    private var day = 0

    enum Verdict {
        case admitted(headers: [String: String])
        case limited(policy: String, headers: [String: String], retryAfterSeconds: Int)
    }

    mutating func reset() { self = RateLimitWindows() }

    mutating func admit(isSearch: Bool, now: Double, configuration: MockConfiguration) -> Verdict {
        let today = Int(now / 86_400)
        if today != day {
            day = today
            dailyUsed = 0
        }
        let limit = configuration.rateLimit
        let interval = Double(limit.intervalMs) / 1000
        Self.expire(&burst, start: &burstStart, before: now - interval)
        let searchWindow = Double(configuration.searchWindowMs) / 1000
        Self.expire(&search, start: &searchStart, before: now - searchWindow)
        var headers: [String: String] = [:]
        func burstHeaders(remaining: Int) -> [String: String] {
            [
                "X-HubSpot-RateLimit-Max": "\(limit.max)",
                "X-HubSpot-RateLimit-Remaining": "\(max(0, remaining))",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "\(limit.intervalMs)",
                "X-HubSpot-RateLimit-Daily": "\(configuration.dailyLimit)",
                "X-HubSpot-RateLimit-Daily-Remaining": "\(max(0, configuration.dailyLimit - dailyUsed))",
            ]
        }
        if dailyUsed >= configuration.dailyLimit {
            let untilMidnight = Int((Double(today + 1) * 86_400 - now).rounded(.up))
            return .limited(
                policy: "DAILY", headers: isSearch ? [:] : burstHeaders(remaining: 0), retryAfterSeconds: untilMidnight)
        }
        if isSearch {
            let inWindow = search.count - searchStart
            if inWindow >= configuration.searchPerSecond {
                let wait = search[searchStart] + searchWindow - now
                return .limited(policy: "SECONDLY", headers: [:], retryAfterSeconds: max(1, Int(wait.rounded(.up))))
            }
            search.append(now)
            dailyUsed += 1
            return .admitted(headers: [:])
        }
        let inWindow = burst.count - burstStart
        if inWindow >= limit.max {
            let wait = burst[burstStart] + interval - now
            return .limited(
                policy: "TEN_SECONDLY_ROLLING", headers: burstHeaders(remaining: 0),
                retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
        burst.append(now)
        dailyUsed += 1
        headers = burstHeaders(remaining: limit.max - inWindow - 1)
        return .admitted(headers: headers)
    }

    /// Drops timestamps older than `cutoff`; compacts the array now and then so it stays small.
    private static func expire(_ times: inout [Double], start: inout Int, before cutoff: Double) {
        while start < times.count && times[start] <= cutoff { start += 1 }
        if start > 1024 && start * 2 > times.count {
            times.removeFirst(start)
            start = 0
        }
    }

    /// Headers for a request the storm refused: the window looks spent.
    static func stormHeaders(configuration: MockConfiguration, dailyUsed: Int) -> [String: String] {
        [
            "X-HubSpot-RateLimit-Max": "\(configuration.rateLimit.max)", "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "\(configuration.rateLimit.intervalMs)",
            "X-HubSpot-RateLimit-Daily": "\(configuration.dailyLimit)",
            "X-HubSpot-RateLimit-Daily-Remaining": "\(max(0, configuration.dailyLimit - dailyUsed))",
        ]
    }
}

/// A deterministic generator (SplitMix64): the same seed gives the same faults in the same order.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// Decides, per request, which configured fault (if any) strikes.
struct FaultInjector {
    enum Fault: Equatable {
        case serverError(Int)
        case storm
        case drop
        case truncate
    }

    private var generator = SeededGenerator(seed: 1)
    private var stormLeft = 0

    /// Restarts the sequence from the configured seed.
    mutating func configure(_ faults: MockConfiguration.Faults) {
        generator = SeededGenerator(seed: faults.seed)
        stormLeft = 0
    }

    /// Draws the faults for one request. Every rate is drawn every time, so the sequence for one seed does
    /// not depend on which other rates are set.
    mutating func draw(path: String, faults: MockConfiguration.Faults) -> (fault: Fault?, extraLatencyMs: Int) {
        let legacy = MockAPIGeneration.legacyForm(of: path)
        guard
            faults.endpoints.isEmpty || faults.endpoints.contains(where: { path.hasPrefix($0) || legacy.hasPrefix($0) })
        else {
            return (nil, 0)
        }
        let server = generator.unit()
        let status = [500, 502, 503][Int(generator.next() % 3)]
        let storm = generator.unit()
        let slow = generator.unit()
        let drop = generator.unit()
        let truncate = generator.unit()
        let latency = slow < faults.slowRate ? faults.slowMs : 0
        if stormLeft > 0 {
            stormLeft -= 1
            return (.storm, latency)
        }
        if storm < faults.stormRate {
            stormLeft = max(0, faults.stormLength - 1)
            return (.storm, latency)
        }
        if server < faults.serverErrorRate { return (.serverError(status), latency) }
        if drop < faults.dropRate { return (.drop, latency) }
        if truncate < faults.truncateRate { return (.truncate, latency) }
        return (nil, latency)
    }
}
