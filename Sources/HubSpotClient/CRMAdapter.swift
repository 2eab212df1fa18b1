import Foundation
import SyncCore

/// HubSpot as the core's CRM port: every read also asks for the record properties that fill ``CRMContact``'s typed
/// values (``HubSpotContact``), and statuses cross as ``ConsentState``.
extension HubSpotClient: CRMPort {
    public func contactPages(properties: [String], archived: Bool) -> any AsyncSequence<ContactPage, any Error> {
        allContacts(properties: properties, archived: archived)
    }

    public func changedContactPages(since: Date, until: Date?, properties: [String])
        -> any AsyncSequence<ChangePage, any Error>
    {
        changedContacts(since: since, until: until, properties: properties)
    }

    public var changePageSize: Int { ContactChanges.searchPageSize }
}
