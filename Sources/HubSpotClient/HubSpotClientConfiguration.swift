import Foundation
import SyncModel

/// What the client needs to know, built from `sync.json` (or directly by tests).
public struct HubSpotClientConfiguration: Sendable {
    public var baseURL: URL
    /// The generation of HubSpot's paths to speak (`2026-09` unless told otherwise).
    public var apiVersion: CRMAPIVersion
    /// The Service Key or legacy private-app token, from the environment. Never logged.
    public var token: String
    public var requestsPerInterval: Int
    public var interval: Duration
    public var searchPerSecond: Int
    /// Percent of the burst limit left for other apps in the account.
    public var headroomPercent: Int
    /// Requests this client may send per UTC day.
    public var dailyBudget: Int
    public var requestTimeout: Duration
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(
        baseURL: URL, token: String, apiVersion: CRMAPIVersion = .v2026_09, requestsPerInterval: Int = 100,
        interval: Duration = .seconds(10),
        searchPerSecond: Int = 5, headroomPercent: Int = 10, dailyBudget: Int = 200_000,
        requestTimeout: Duration = .seconds(30), maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(500),
        maxDelay: Duration = .seconds(30)
    ) {
        self.baseURL = baseURL
        self.apiVersion = apiVersion
        self.token = token
        self.requestsPerInterval = requestsPerInterval
        self.interval = interval
        self.searchPerSecond = searchPerSecond
        self.headroomPercent = headroomPercent
        self.dailyBudget = dailyBudget
        self.requestTimeout = requestTimeout
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }
}

extension HubSpotClientConfiguration {
    /// The client configuration for `sync.json` and a token from the environment.
    public init(_ configuration: SyncConfiguration, token: String) throws {
        let crm = configuration.crm
        guard let url = URL(string: crm.baseURL) else {
            throw ConfigurationError(file: "sync.json", problems: [.init(path: "crm.baseURL", problem: "is not a URL")])
        }
        self.init(
            baseURL: url, token: token, apiVersion: crm.apiVersion,
            requestsPerInterval: crm.rateLimit.requestsPerInterval,
            interval: .milliseconds(crm.rateLimit.intervalMilliseconds), searchPerSecond: crm.rateLimit.searchPerSecond,
            headroomPercent: crm.rateLimit.headroomPercent, dailyBudget: crm.rateLimit.dailyBudget,
            requestTimeout: crm.timeouts.request.duration, maxAttempts: crm.retry.maxAttempts,
            baseDelay: crm.retry.baseDelay.duration, maxDelay: crm.retry.maxDelay.duration)
    }
}
