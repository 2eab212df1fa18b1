import Foundation
import SyncCore
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

    /// The CRM properties a pull asks for: the mapped ones and the address (the adapter adds what fills a record's
    /// typed values).
    var pulledProperties: [String] { Array(Set(mapping.values).union(["email"])).sorted() }

    /// The mapped properties whose history conflict resolution may need.
    var historyProperties: [String] { Array(Set(mapping.values)).sorted() }

    func purpose(forSubscription id: Int) -> Purpose? {
        subscriptions.first { Int($0.value.subscriptionId) == id }?.key
    }
}
