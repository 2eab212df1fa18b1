import Foundation
import SyncModel

/// Which of HubSpot's buckets a request draws on.
public enum RateBucket: Sendable {
    /// The rolling burst window (100 or 190 per 10 s), with headers.
    case standard
    /// The separate search bucket (5 per second), without headers.
    case search
}

/// Keeps the client inside HubSpot's limits so that it never earns a 429 in normal operation.
///
/// Each window counts a request from the moment its response arrived, which is never earlier than the
/// moment HubSpot admitted it: a client window that says "free" is free on the server too. The burst
/// allowance leaves `headroomPercent` to other apps, and shrinks further when the `Remaining` header shows
/// other apps using more than that.
public actor RateLimiter {
    private let clock: any SyncClock
    private var configuredLimit: Int
    private var interval: Duration
    private let searchPerSecond: Int
    private let headroomPercent: Int
    private let dailyBudget: Int

    private var standard: [Date] = []
    private var search: [Date] = []
    private var inFlight = (standard: 0, search: 0)
    private var othersInWindow = 0
    private var blockedUntil: Date = .distantPast
    private var day = -1
    private(set) var usedToday = 0

    public init(
        clock: any SyncClock, requestsPerInterval: Int, interval: Duration, searchPerSecond: Int, headroomPercent: Int,
        dailyBudget: Int
    ) {
        self.clock = clock
        self.configuredLimit = requestsPerInterval
        self.interval = interval
        self.searchPerSecond = searchPerSecond
        self.headroomPercent = headroomPercent
        self.dailyBudget = dailyBudget
    }

    /// Requests this client may have in one burst window.
    var allowance: Int {
        let reserve = Int((Double(configuredLimit) * Double(headroomPercent) / 100).rounded(.up))
        return max(1, configuredLimit - max(reserve, othersInWindow))
    }

    /// What HubSpot last said is left of the account's day (shared by every app and process).
    private var accountDailyRemaining: Int?

    /// Requests left today: this client's own budget, or what HubSpot says is left, whichever is less.
    public var remainingToday: Int {
        rollDay()
        return min(max(0, dailyBudget - usedToday), accountDailyRemaining ?? Int.max)
    }

    /// Waits until `bucket` has room, then reserves a place. Throws when the daily budget is spent
    /// (a ``DailyBudgetExhausted``) or when the task is cancelled.
    public func acquire(_ bucket: RateBucket) async throws {
        while true {
            try Task.checkCancellation()
            rollDay()
            guard usedToday < dailyBudget else { throw DailyBudgetExhausted(budget: dailyBudget) }
            let now = clock.now
            let wait: Duration
            if now < blockedUntil {
                wait = Self.duration(from: now, to: blockedUntil)
            } else {
                switch bucket {
                case .standard:
                    wait = Self.waitTime(
                        &standard, inFlight: inFlight.standard, limit: allowance, window: interval, now: now)
                case .search:
                    wait = Self.waitTime(
                        &search, inFlight: inFlight.search, limit: searchPerSecond, window: .seconds(1), now: now)
                }
            }
            if wait <= .zero {
                usedToday += 1
                switch bucket {
                case .standard: inFlight.standard += 1
                case .search: inFlight.search += 1
                }
                return
            }
            try await clock.sleep(for: wait)
        }
    }

    /// Records the end of a request that ``acquire(_:)`` admitted, with what its headers said.
    public func complete(_ bucket: RateBucket, headers: RateLimitHeaders?) {
        let now = clock.now
        switch bucket {
        case .standard:
            inFlight.standard = max(0, inFlight.standard - 1)
            standard.append(now)
            if let headers { adapt(to: headers, now: now) }
        case .search:
            inFlight.search = max(0, inFlight.search - 1)
            search.append(now)
        }
    }

    /// After a 429: nothing leaves until `retryAfter` (or one window) has passed.
    public func backOff(for duration: Duration?) {
        let pause = duration ?? interval
        let until = clock.now.addingTimeInterval((pause).inSeconds)
        if until > blockedUntil { blockedUntil = until }
    }

    private func adapt(to headers: RateLimitHeaders, now: Date) {
        if let dailyRemaining = headers.dailyRemaining { accountDailyRemaining = dailyRemaining }
        // Adopt the server's limit only as a pair, and only when it is slower than what is configured:
        // mixing the server's interval with the configured count would change the rate.
        if let max = headers.max, max > 0 {
            let serverInterval = headers.intervalMilliseconds.map { Duration.milliseconds($0) } ?? interval
            if Double(max) / (serverInterval).inSeconds < Double(configuredLimit) / (interval).inSeconds {
                configuredLimit = max
                interval = serverInterval
            }
        }
        // Others' usage can be read from `Remaining` only when the server's window is the client's window.
        let sameWindow =
            headers.intervalMilliseconds.map { abs(Double($0) / 1000 - (interval).inSeconds) < 0.001 } ?? true
        if let remaining = headers.remaining, sameWindow {
            let cutoff = now.addingTimeInterval(-(interval).inSeconds)
            let ours = standard.filter { $0 > cutoff }.count + inFlight.standard
            othersInWindow = Swift.max(0, (headers.max ?? configuredLimit) - remaining - ours)
        }
    }

    /// Zero when a place is free, otherwise how long until the oldest counted request leaves the window.
    private static func waitTime(_ times: inout [Date], inFlight: Int, limit: Int, window: Duration, now: Date)
        -> Duration
    {
        let cutoff = now.addingTimeInterval(-window.inSeconds)
        if let firstLive = times.firstIndex(where: { $0 > cutoff }) {
            if firstLive > 0 { times.removeFirst(firstLive) }
        } else {
            times.removeAll(keepingCapacity: true)
        }
        guard times.count + inFlight >= limit else { return .zero }
        guard let oldest = times.first else { return .milliseconds(5) }  // all places in flight
        let freeAt = oldest.addingTimeInterval(window.inSeconds)
        return max(duration(from: now, to: freeAt), .milliseconds(1))
    }

    private func rollDay() {
        let today = Int(clock.now.timeIntervalSince1970 / 86_400)
        if today != day {
            day = today
            usedToday = 0
            accountDailyRemaining = nil
        }
    }

    static func duration(from start: Date, to end: Date) -> Duration {
        .milliseconds(Int64((end.timeIntervalSince(start) * 1000).rounded(.up)))
    }
}

/// The client's own daily budget (sync.json `crm.rateLimit.dailyBudget`) is spent.
public struct DailyBudgetExhausted: Error, Sendable {
    public var budget: Int
}

/// The `X-HubSpot-RateLimit-*` headers of one response.
public struct RateLimitHeaders: Sendable, Equatable {
    public var max: Int?
    public var remaining: Int?
    public var intervalMilliseconds: Int?
    public var daily: Int?
    public var dailyRemaining: Int?

    public init?(_ response: HTTPResponse) {
        max = response.header("X-HubSpot-RateLimit-Max").flatMap(Int.init)
        remaining = response.header("X-HubSpot-RateLimit-Remaining").flatMap(Int.init)
        intervalMilliseconds = response.header("X-HubSpot-RateLimit-Interval-Milliseconds").flatMap(Int.init)
        daily = response.header("X-HubSpot-RateLimit-Daily").flatMap(Int.init)
        dailyRemaining = response.header("X-HubSpot-RateLimit-Daily-Remaining").flatMap(Int.init)
        if max == nil && remaining == nil && dailyRemaining == nil { return nil }
    }
}
