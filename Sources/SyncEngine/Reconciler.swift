import Foundation
import Logging
import SubjectPolicy
import SyncCore
import SyncModel

/// Drift between the two sides found without relying on the change feed, by category.
public struct DriftReport: Sendable, Codable, Equatable {
    public struct Missing: Sendable, Codable, Equatable {
        /// Linked locally, archived in the CRM, not yet recorded.
        public var archived = 0
        /// Linked locally, merged in the CRM into another record.
        public var merged = 0
        /// Linked locally, gone from the CRM (deleted or GDPR-deleted there).
        public var deleted = 0
    }

    public var complete = true
    public var requests = 0
    public var crmRecordsCompared = 0
    public var missingInCRM = Missing()
    /// In the CRM, not in the register.
    public var onlyInCRM = 0
    /// In the CRM and the register (same email) but not linked yet.
    public var notLinked = 0
    /// Field → records whose CRM value changed while `lastmodifieddate` stayed before the checkpoint:
    /// the change feed will never bring these.
    public var fieldDrift: [String: Int] = [:]
    /// Field → records the CRM changed after the checkpoint: the next sync takes them (not drift).
    public var pendingCRMChanges: [String: Int] = [:]
    /// Records whose opt-out differs while neither side has an unsynced change.
    public var optOutDrift = 0
    /// Purpose → linked contacts whose decision differs from the status HubSpot holds for the address (both decided,
    /// neither changed since the last sync): HubSpot keeps statuses per address, so they are compared per address.
    public var consentDrift: [String: Int] = [:]
    /// Field → linked records whose CRM value the register cannot take (a tab, over 256 characters): the sides
    /// disagree until someone fixes the value in HubSpot.
    public var refusedValues: [String: Int] = [:]
    /// Up to 20 masked examples per category.
    public var examples: [String: [String]] = [:]

    public var hasDrift: Bool {
        missingInCRM != Missing() || !fieldDrift.isEmpty || optOutDrift > 0 || notLinked > 0 || !refusedValues.isEmpty
            || !consentDrift.isEmpty
    }

    mutating func example(_ category: String, _ email: String?) {
        guard let email, examples[category, default: []].count < 20 else { return }
        examples[category, default: []].append(PersonalData.mask(email: email))
    }
}

/// Compares the CRM and the register record by record: id sets (what is missing where) and field values
/// against the agreed base (what changed behind the change feed's back), within a request budget.
public struct Reconciler: Sendable {
    let store: any RegisterPort
    let client: any CRMPort
    let settings: SyncSettings
    let logger: Logger

    public init(
        store: any RegisterPort, client: any CRMPort, settings: SyncSettings,
        logger: Logger = .silent("crmsync.reconcile")
    ) {
        self.store = store
        self.client = client
        self.settings = settings
        self.logger = logger
    }

    public func run(requestBudget: Int = 2_000) async throws -> DriftReport {
        var report = DriftReport()
        let startRequests = client.metrics.requests
        func spent() -> Int { client.metrics.requests - startRequests }
        var linked = try await store.linkedCRMIds()
        let checkpoint =
            try await store.checkpoint(SyncEngine.modifiedSinceCheckpoint).flatMap(Int64.init)
            .map(Date.init(millisecondsSince1970:)) ?? .distantPast
        let fields = ContactField.allCases.filter { settings.mapping[$0] != nil && $0 != .email }

        for try await page in client.contactPages(properties: settings.pulledProperties, archived: false) {
            report.crmRecordsCompared += page.contacts.count
            let ids = page.contacts.flatMap { [$0.id] + $0.mergedIds }
            let emails = page.contacts.compactMap { $0.email.flatMap { try? EmailAddress($0) } }
            let locals = try await store.localStates(crmIds: ids, emails: emails)
            let localEmails = Set(locals.map(\.contact.email.normalized))
            // The statuses HubSpot holds for the page's addresses (one batch read a page).
            let statuses = try await client.subscriptionStatuses(
                for: page.contacts.filter { !$0.archived }.compactMap { $0.email?.lowercased() })
            // The sync's own matching: a record pairs with the contact linked to it (or to an id merged into
            // it), else with an unlinked contact of its address.
            for pair in ContactMatching.pairs(page.contacts, locals: locals) {
                guard let record = pair.record else {
                    // Linked to a record merged into one another contact follows: a merge for review.
                    if pair.mergedInto != nil, let crmId = pair.local?.contact.crmId {
                        linked.removeValue(forKey: crmId)
                        report.missingInCRM.merged += 1
                    }
                    continue
                }
                guard let local = pair.local, let crmId = local.contact.crmId else {
                    // Held under its address but linked to no record, or to another one.
                    if let email = record.email.map { EmailAddress.matchingKey($0) }, localEmails.contains(email) {
                        report.notLinked += 1
                        report.example("notLinked", email)
                    } else {
                        report.onlyInCRM += 1
                    }
                    continue
                }
                linked.removeValue(forKey: crmId)
                if crmId != record.id {
                    // Linked to a record since merged into this one: the next sync follows the merge.
                    report.missingInCRM.merged += 1
                    continue
                }
                let remote = RemoteContact(record, settings: settings, statuses: nil)
                let behindFeed = (remote.lastModified ?? .distantPast) < checkpoint
                for field in remote.invalidFields {
                    report.refusedValues[field.rawValue, default: 0] += 1
                    report.example("refusedValues.\(field.rawValue)", local.contact.email.normalized)
                }
                for field in fields where !remote.invalidFields.contains(field) {
                    let crmValue = remote.values[field]
                    guard let base = local.base[.field(field)], crmValue != base, crmValue != local.contact[field]
                    else { continue }
                    if behindFeed && !local.isDirty {
                        report.fieldDrift[field.rawValue, default: 0] += 1
                        report.example("fieldDrift.\(field.rawValue)", local.contact.email.normalized)
                    } else {
                        report.pendingCRMChanges[field.rawValue, default: 0] += 1
                    }
                }
                let held = RemoteContact.addressConsents(
                    from: statuses[record.email?.lowercased() ?? ""], settings: settings)
                for purpose in settings.subscriptions.keys.sorted() where !local.isDirty {
                    guard let crm = held[purpose], crm.state != .unknown, let mine = local.consents[purpose]?.state,
                        mine != .unknown, mine != crm.state, (crm.at ?? .distantPast) < checkpoint,
                        local.base.optOutBase?.marksSpread != true
                    else { continue }
                    report.consentDrift[purpose.rawValue, default: 0] += 1
                    report.example("consentDrift.\(purpose.rawValue)", local.contact.email.normalized)
                }
                // A CRM opt-out where crmsync spread a restriction is expected there, not drift (the sync, which
                // reads its time, tells a later opt-out of the subject's from it).
                let spreadsRestriction = remote.isOptedOut && local.base.optOutBase?.marksSpread == true
                if remote.isOptedOut != local.isOptedOut && !spreadsRestriction && !local.isDirty && behindFeed {
                    report.optOutDrift += 1
                    report.example("optOutDrift", local.contact.email.normalized)
                }
            }
            if spent() >= requestBudget {
                report.complete = false
                break
            }
        }
        // Linked locally but not in the live listing: archived, merged away, or deleted.
        if report.complete && !linked.isEmpty {
            var archived: Set<String> = []
            for try await page in client.contactPages(properties: ["email"], archived: true) {
                for record in page.contacts where linked[record.id] != nil { archived.insert(record.id) }
                if spent() >= requestBudget {
                    report.complete = false
                    break
                }
            }
            let rest = linked.keys.filter { !archived.contains($0) }.sorted()
            let alreadyRecorded = try await Set(
                store.localStates(crmIds: Array(archived), emails: []).filter { $0.crmArchivedAt != nil }.compactMap(
                    \.contact.crmId))
            report.missingInCRM.archived = archived.subtracting(alreadyRecorded).count
            if !rest.isEmpty && spent() < requestBudget {
                let (found, missing) = try await client.batchRead(rest, properties: ["email"])
                report.missingInCRM.merged += found.filter { $0.key != $0.value.id }.count
                report.missingInCRM.deleted = missing.count
                for id in missing.prefix(20) {
                    if let local = try await store.localStates(crmIds: [id], emails: []).first {
                        report.example("deleted", local.contact.email.normalized)
                    }
                }
            }
        }
        report.requests = spent()
        logger.info(
            "reconcile finished",
            metadata: [
                "reconcile.compared": "\(report.crmRecordsCompared)", "reconcile.complete": "\(report.complete)",
                "reconcile.missingInCRM.deleted": "\(report.missingInCRM.deleted)",
                "reconcile.onlyInCRM": "\(report.onlyInCRM)", "reconcile.notLinked": "\(report.notLinked)",
                "reconcile.fieldDrift": "\(report.fieldDrift.values.reduce(0, +))",
                "reconcile.requests": "\(report.requests)",
            ])
        return report
    }
}
