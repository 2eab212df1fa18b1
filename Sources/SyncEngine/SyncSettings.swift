import Foundation
import HubSpotClient
import SyncModel

/// The parts of `sync.json` the engine works with, resolved once: field mapping, purposes, policies.
public struct SyncSettings: Sendable {
    public var mapping: [ContactField: String]
    /// Purpose → CRM subscription id and legal basis.
    public var subscriptions: [Purpose: PurposeSettings]
    public var conflicts: ConflictSettings
    public var consistencyHorizon: Duration
    public var archivedContacts: ArchivedContactPolicy
    /// How often the archive listing is swept (archiving does not move `lastmodifieddate`).
    public var archiveSweepInterval: Duration
    /// Share of the daily budget kept for erasures.
    public var erasureReservePercent: Int

    public init(_ configuration: SyncConfiguration, archiveSweepInterval: Duration = .seconds(3600)) {
        mapping = configuration.fieldMapping
        var subscriptions: [Purpose: PurposeSettings] = [:]
        for (name, settings) in configuration.purposes { subscriptions[Purpose(rawValue: name)] = settings }
        self.subscriptions = subscriptions
        conflicts = configuration.conflicts
        consistencyHorizon = configuration.sync.consistencyHorizon.duration
        archivedContacts = configuration.sync.archivedContacts
        self.archiveSweepInterval = archiveSweepInterval
        erasureReservePercent = configuration.crm.rateLimit.erasureReservePercent
    }

    /// The CRM properties a pull asks for: the mapped ones plus what the engine itself needs.
    var pulledProperties: [String] {
        Array(Set(mapping.values).union(CRMContact.syncProperties)).sorted()
    }

    /// The mapped properties whose history conflict resolution may need.
    var historyProperties: [String] { Array(Set(mapping.values)).sorted() }

    func purpose(forSubscription id: Int) -> Purpose? {
        subscriptions.first { Int($0.value.subscriptionId) == id }?.key
    }

    /// The client configuration for `sync.json` and a token from the environment.
    public static func clientConfiguration(_ configuration: SyncConfiguration, token: String) throws
        -> HubSpotClientConfiguration
    {
        let crm = configuration.crm
        guard let url = URL(string: crm.baseURL) else {
            throw ConfigurationError(file: "sync.json", problems: [.init(path: "crm.baseURL", problem: "is not a URL")])
        }
        return HubSpotClientConfiguration(
            baseURL: url, token: token, apiVersion: crm.apiVersion,
            requestsPerInterval: crm.rateLimit.requestsPerInterval,
            interval: .milliseconds(crm.rateLimit.intervalMilliseconds), searchPerSecond: crm.rateLimit.searchPerSecond,
            headroomPercent: crm.rateLimit.headroomPercent, dailyBudget: crm.rateLimit.dailyBudget,
            requestTimeout: crm.timeouts.request.duration, maxAttempts: crm.retry.maxAttempts,
            baseDelay: crm.retry.baseDelay.duration, maxDelay: crm.retry.maxDelay.duration)
    }
}
