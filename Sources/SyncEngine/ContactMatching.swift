import Foundation
import SyncCore
import SyncModel

/// The one matching of CRM records to local contacts, for the sync and for `reconcile`.
enum ContactMatching {
    struct Pair {
        var record: CRMContact?
        var local: LocalContactState?
        /// Set when the record's survivor is held by another local contact.
        var mergedInto: String?
        /// Set when the local contact follows its person to this record, re-created under its address.
        var relinked = false
    }

    /// Matches CRM records to local contacts: by CRM id, following merges, then by normalised email (a
    /// contact linked to another record is never matched by its address). Locals no record matched are
    /// paired alone when there are no records at all, or when they wait to be pushed.
    ///
    /// `relinkable` names local contacts whose linked record is gone from the CRM (deleted or archived): such a
    /// contact is matched by its address to a live record that carries it now (the person came back through a form:
    /// a new record, the same address), with no base, since nothing was agreed with that record; one whose address
    /// the record carries as a secondary one is kept for review as merged into it.
    static func pairs(_ records: [CRMContact], locals: [LocalContactState], relinkable: Set<String> = []) -> [Pair] {
        var pairs: [Pair] = []
        var used: Set<String> = []
        var relinkedIds: Set<String> = []
        let byCrmId = Dictionary(
            locals.compactMap { state in state.contact.crmId.map { ($0, state) } }, uniquingKeysWith: { a, _ in a })
        let byEmail = Dictionary(locals.map { ($0.contact.email.normalized, $0) }, uniquingKeysWith: { a, _ in a })
        for record in records {
            var candidates = ([record.id] + record.mergedIds).compactMap { byCrmId[$0] }.filter {
                !used.contains($0.contact.id)
            }
            let key = record.email.map { EmailAddress.matchingKey($0) }
            if let key, var state = byEmail[key], !used.contains(state.contact.id),
                !candidates.contains(where: { $0.contact.id == state.contact.id })
            {
                if candidates.isEmpty && (state.contact.crmId == nil || state.contact.crmId == record.id) {
                    candidates = [state]
                } else if state.contact.crmId == nil, !record.archived, !record.mergedIds.isEmpty,
                    candidates.allSatisfy({ $0.contact.crmId != record.id })
                {
                    // A merge brought a linked contact's record onto the survivor of another, whose own address a
                    // contact not yet linked holds: that contact is the survivor's person (as it would be without the
                    // merge), and the merged-in one is kept for review.
                    candidates.append(state)
                } else if relinkable.contains(state.contact.id), !record.archived {
                    // Also when a merge brought another contact's record into it: the record carries this person's
                    // address, so they follow it, and the other is kept for review.
                    state.base = [:]
                    candidates.append(state)
                    relinkedIds.insert(state.contact.id)
                }
            }
            // After a merge two local contacts may point at one survivor: the one with its email (or the
            // first) follows it, the others are recorded as merged for review.
            candidates.sort { a, _ in a.contact.email.normalized == key }
            if let primary = candidates.first {
                used.insert(primary.contact.id)
                pairs.append(Pair(record: record, local: primary, relinked: relinkedIds.contains(primary.contact.id)))
                for other in candidates.dropFirst() {
                    used.insert(other.contact.id)
                    pairs.append(Pair(record: nil, local: other, mergedInto: record.id))
                }
            } else {
                pairs.append(Pair(record: record, local: nil))
            }
            // A merge brought the address of a contact whose record is gone onto this record as a secondary one (the
            // person came back through a form, and a CRM user merged that record into this one): the contact is kept
            // for review, as if its own record had been merged here, and its address's decisions are read by address.
            // So is a contact not linked yet whose address a merge brought here: pushed, HubSpot's upsert by its
            // address would take this record, and two contacts would hold one record, each writing its own values.
            guard !record.archived else { continue }
            for address in record.additionalEmails {
                guard let state = byEmail[EmailAddress.matchingKey(address)], !used.contains(state.contact.id),
                    relinkable.contains(state.contact.id)
                        || (state.contact.crmId == nil && state.mergedIntoCrmId == nil && !record.mergedIds.isEmpty)
                else { continue }
                used.insert(state.contact.id)
                pairs.append(Pair(record: nil, local: state, mergedInto: record.id))
            }
        }
        for state in locals where !used.contains(state.contact.id) {
            if records.isEmpty || state.isDirty { pairs.append(Pair(record: nil, local: state)) }
        }
        return pairs
    }
}
