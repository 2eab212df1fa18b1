import Foundation
import HubSpotClient
import MockHubSpot
import SubjectPolicy
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import SyncTesting

/// An invariant that broke, with the step after which it was found.
public struct CheckFailure: Error, Sendable, CustomStringConvertible {
    /// The invariant's name: `convergence`, `no-duplicates`, `erasure`, `consent`, `erasure-requests`, `dry-run`.
    public var invariant: String
    public var detail: String
    /// Index of the operation after which the check ran (the history's length for the quiet end).
    public var step: Int

    public var description: String { "\(invariant) broke after step \(step): \(detail)" }
}

/// What the checker expects, kept from the operations alone (never read back from the system under test).
struct CheckModel {
    struct Decision {
        var granted: Bool
        var order: Int
        var inCRM = false
        /// How far the host clock was off when a local decision was made.
        var offset = 0
    }

    /// Subjects whose record a CRM user merged (either side of the merge): one is kept for review in the register.
    var merged: Set<Int> = []
    /// Subjects whose record someone GDPR-deleted in HubSpot, not through crmsync.
    var deletedByOther: Set<Int> = []
    /// Subjects who came back through a form after their record was archived or deleted in the CRM.
    var recreated: Set<Int> = []
    /// Subjects whose record someone deleted and no form has re-created: HubSpot reports no change for their
    /// address, so the register hears of a decision made there only when it examines the contact (README, Limits).
    var recordGone: Set<Int> = []
    /// The step of the last backup of the store; whether a backup was put back.
    var backupStep: Int?
    var restored = false
    /// The last restore: its step, and the last sync the backup it put back had seen.
    var restoredAt: (step: Int, lastSyncSeen: Int)?
    /// The last sync the last backup had seen.
    var backupLastSync = -1
    /// The sync at which each subject was first linked.
    var linkedAt: [Int: Int] = [:]
    /// Subjects whose opt-out was undone by what the README allows: a restore that lost an opt-out no sync had
    /// carried, a CRM deletion of an opt-out no sync had read, a clock step that hid which came first.
    var optOutOpen: Set<Int> = []
    /// Decisions (subject, purpose) whose order against the other side's a host clock step hides: the two were
    /// made with no sync between, one of them on a stepped clock (README, Limits: skew is not corrected).
    var clockAmbiguous: Set<[Int]> = []
    /// How far the host clock is off now, in seconds.
    var hostOffset = 0
    /// The host offset of each subject's last local lift.
    var liftOffset: [Int: Int] = [:]
    /// An opt-out (either side's) a restore took out of the register comes back only from HubSpot's live record of
    /// the address, at the next sync: a record that moves off the address, or leaves the feed, before then takes it
    /// with it (README, Backups: a restore loses the register's decisions since the backup).
    mutating func optOutLostByRestoreLeftOpen(_ s: Int) {
        guard let restoredAt, lastSync < restoredAt.step, let last = optOuts[s]?.last,
            last.step > restoredAt.lastSyncSeen
        else { return }
        optOutOpen.insert(s)
    }

    /// Subjects with a local field edit stamped on a stepped clock (excluded from no-loss, README Limits).
    var fieldClockSkewed: Set<Int> = []
    /// Whether the portal requires a last name (refused per input).
    var refusalsOn = false
    /// Subjects the portal refuses for their missing last name: quarantined, never in the CRM.
    var refused: Set<Int> = []

    /// A CRM opt-out of the subject's that no sync has read yet is open once someone deletes its record: HubSpot
    /// drops the address's statuses with it. (An address whose record was merged away or archived is read by every
    /// sweep.)
    mutating func unreadCRMOptOutLeftOpen(_ s: Int) {
        optOutLostByRestoreLeftOpen(s)
        guard let last = optOuts[s]?.last, last.inCRM else { return }
        if last.step > lastSync { optOutOpen.insert(s) }
    }

    /// Subjects whose consent the quiet end does not compare with the model's last decision: archived, merged or
    /// deleted in the CRM (README, "Archives and merges"), refused, or every subject once a backup was put back
    /// (a restore loses the register's decisions since the backup, by design).
    func consentLeftOpen(_ s: Int) -> Bool {
        archived.contains(s) || merged.contains(s) || deletedByOther.contains(s) || refused.contains(s) || restored
            || ambiguous.contains(s)
    }

    /// The step of the last completed sync.
    var lastSync = -1
    /// Subjects a completed sync saw on either side (so linked from then on).
    var linked: Set<Int> = []
    /// Subjects whose CRM address changed before any sync linked them: to the register the new address is
    /// someone else, so erasing the old one cannot reach it.
    var unlinkedMoves: Set<Int> = []
    /// Subjects whose CRM address changed before any sync linked them (whether or not the register held them).
    var movedBeforeLink: Set<Int> = []

    /// Subjects whose CRM address changed after a partial sync: whether the register follows is not known.
    var ambiguous: Set<Int> = []
    /// The step of the last sync that died or failed part-way: what it carried over is not known.
    var lastPartialSync = -1
    /// Decisions (subject, purpose) whose outcome a partial sync left open; no later decision settled them.
    var uncertain: Set<[Int]> = []

    /// The last sync at which each subject was already linked (it pulled the CRM's decisions for it).
    var lastSyncWhileLinked: [Int: Int] = [:]

    mutating func synced(at step: Int, startedAt: Date) {
        lastSync = step
        unfinishedErasures = [:]
        // A record the search index did not show yet when the sync started is one it did not meet (index lag).
        let unseen = Set(
            existsInCRM.subtracting(existsLocally).filter {
                (visibleAt[CheckOperation.email($0)] ?? .distantPast) > startedAt
            })
        let met = existsLocally.union(existsInCRM).subtracting(erased).subtracting(unseen)
        for s in met.subtracting(linked) { linkedAt[s] = step }
        // A sync reads the CRM's decisions of every record it meets (linked ones, and those it imports), and those
        // HubSpot holds for the address of every register contact it creates there (taken as it creates the record).
        for s in linked.union(existsInCRM).union(existsLocally).subtracting(unseen).subtracting(erased) {
            lastSyncWhileLinked[s] = step
        }
        linked.formUnion(met)
    }

    /// Emails each subject was known under before it was erased (local or CRM).
    var emails: [Int: Set<String>] = [:]
    var erased: Set<Int> = []
    var erasedEmails: Set<String> = []
    /// The address the register held each erased subject under when it was erased: HubSpot's statuses under it
    /// must be gone (an address the register never knew, or left after a CRM move, is out of its reach).
    var erasedRegisterAddresses: Set<String> = []
    /// Erasures recorded with `--no-wait` that no completed sync has finished in the CRM yet (address → step).
    var unfinishedErasures: [String: (step: Int, subject: Int)] = [:]
    /// The subjects the register held when the last backup was taken.
    var heldAtBackup: Set<Int> = []
    /// Erased addresses whose CRM delete a restore lost: the request came after the backup, unfinished, for a
    /// subject the backup did not hold, so the journal (no addresses, by design) cannot send it again (README,
    /// Limits); HubSpot's statuses under them are left open.
    var erasureLostByRestore: Set<String> = []
    var existsLocally: Set<Int> = []
    var existsInCRM: Set<Int> = []
    var archived: Set<Int> = []
    var emailChanged: Set<Int> = []
    /// The step of each subject's CRM move.
    var emailChangedAt: [Int: Int] = [:]
    var restricted: Set<Int> = []
    var everRestricted: Set<Int> = []
    /// Restricted subjects a sync died for after its spread reached the CRM, before the register marked it.
    var spreadUnmarked: Set<Int> = []
    /// The last explicit decision per subject and purpose (either side), and every one before it.
    var decisions: [Int: [Int: Decision]] = [:]
    var decisionHistory: [Int: [Int: [Decision]]] = [:]
    /// Every opt-out of each subject: its step and whether it was made in the CRM.
    var optOuts: [Int: [(step: Int, inCRM: Bool)]] = [:]
    /// When each subject last opted out (either side), and whether it was ever lifted since.
    var optedOutAt: [Int: Int] = [:]
    var liftedAt: [Int: Int] = [:]
    /// Purposes granted explicitly after the last lift (the only ones a lift may make granted).
    var grantedSinceLift: [Int: Set<Int>] = [:]
    var createdWithoutLastName: Set<Int> = []
    /// The last city each subject was given, on either side (the chronologically last edit: what "no loss" expects
    /// both sides to hold once they converge, by the three-way merge and `newest`).
    var lastCity: [Int: String] = [:]
    /// Every city each subject was given. An edit back to one of them may undo a change without the three-way merge
    /// seeing it (a value equal to the base reads as unchanged: A → B → A), so no-loss leaves the subject out.
    var cityHistory: [Int: Set<String>] = [:]
    var cityReturned: Set<Int> = []

    mutating func editedCity(_ s: Int, to city: String) {
        lastCity[s] = city
        if cityHistory[s, default: []].contains(city) { cityReturned.insert(s) }
        cityHistory[s, default: []].insert(city)
    }
    /// How far the search index trails writes now.
    var indexLagMs = 0
    /// When each address created in the CRM under index lag reaches the search index: a sync that started before
    /// then cannot see it yet (the next one does: the checkpoint stays a horizon behind).
    var visibleAt: [String: Date] = [:]

    var isOptedOut: (Int) -> Bool { { s in (optedOutAt[s] ?? -1) > (liftedAt[s] ?? -1) } }
}

/// Runs a history of operations against a store and a mock CRM, syncing where the history says, and checks
/// the README's promises after every successful sync and after a quiet end (three syncs in a row).
public struct ModelChecker {
    public var lengthRange: ClosedRange<Int> = 8...24

    public init() {}

    /// Runs `history` in a fresh `world`; returns the first failure, or nil when every check held.
    public func run(_ history: [CheckOperation], in world: CheckWorld, faults: Bool = false) async -> CheckFailure? {
        var international: [Int: (domain: Bool, crmUnicode: Bool)] = [:]
        for case .internationalAddress(let s, let domain, let crmUnicode) in history {
            international[s] = (domain, crmUnicode)
        }
        return await CheckOperation.$international.withValue(international) {
            await runHistory(history, in: world, faults: faults)
        }
    }

    private func runHistory(_ history: [CheckOperation], in world: CheckWorld, faults: Bool) async -> CheckFailure? {
        var model = CheckModel()
        do {
            for (index, operation) in history.enumerated() {
                do {
                    if let failure = try await apply(operation, step: index, world: world, model: &model) {
                        return failure
                    }
                } catch  where faults {
                    // A fault the client gave up on ends that step like a crash; the next sync must recover.
                    model.lastPartialSync = index
                    if let unmarked = try? await unmarkedSpreads(model, world) {
                        model.spreadUnmarked.formUnion(unmarked)
                    }
                }
            }
            if faults { try await world.configureMock(faults: nil) }
            // The portal's administrator drops the required last name and releases what it refused: a contact the
            // portal keeps refusing never settles, by design (README, "Refused records are quarantined").
            if model.refusalsOn { try await world.dropRequirementsAndReleaseQuarantine() }
            if model.indexLagMs > 0 {
                try await world.setIndexLag(milliseconds: 0)
                try await Task.sleep(for: .milliseconds(model.indexLagMs))
            }
            // The quiet end: two syncs to converge, then every promise, then a dry run that must plan nothing.
            for _ in 0..<2 { _ = try await world.sync() }
            if let failure = try await checkAfterSync(step: history.count, world: world, model: model) {
                return failure
            }
            if let failure = try await checkQuiet(step: history.count, world: world, model: model) { return failure }
        } catch {
            return CheckFailure(invariant: "no-error", detail: "\(type(of: error)): \(error)", step: history.count)
        }
        return nil
    }

    // MARK: Operations

    private func apply(_ operation: CheckOperation, step: Int, world: CheckWorld, model: inout CheckModel)
        async throws -> CheckFailure?
    {
        let store = world.store
        /// The subject's address in the register: the CRM's new one once a sync carried it over.
        func address(_ s: Int) -> EmailAddress {
            if model.unlinkedMoves.contains(s) { return try! EmailAddress(CheckOperation.email(s)) }
            let moved = try! EmailAddress(CheckOperation.alternateEmail(s))
            return (try? store.contact(email: moved)) != nil ? moved : try! EmailAddress(CheckOperation.email(s))
        }
        /// The subject's address in the CRM (HubSpot keeps subscriptions per address).
        /// After a move the register never linked, the subject (to the register) keeps its own address.
        /// Spelled as the live record under the address spells it (what a CRM user or a form writes), else as the
        /// CRM side spells the subject.
        func crmEmail(_ s: Int) async throws -> String {
            let moved = model.emailChanged.contains(s) && !model.unlinkedMoves.contains(s)
            let canonical = moved ? CheckOperation.alternateEmail(s) : CheckOperation.email(s)
            if let record = try await world.crmRecord(email: canonical),
                let text = (record["properties"] as? [String: Any])?["email"] as? String,
                EmailAddress.matchingKey(text) == canonical
            {
                return text
            }
            return CheckOperation.crmSpelling(s, alternate: moved)
        }
        /// The subject's address as the register's side spells it (imports).
        func localText(_ s: Int) -> String {
            CheckOperation.localSpelling(s, alternate: address(s).normalized == CheckOperation.alternateEmail(s))
        }
        func importRows(_ csv: String) throws {
            let batch = try ImportFileReader(purposes: Purpose.standard).read(Data(csv.utf8), format: .csv)
            _ = try store.importContacts(batch, actor: "check")
        }
        func ignoringRefusals(_ body: () throws -> Void) {
            do { try body() } catch {}
        }
        func decide(_ s: Int, _ p: Int, granted: Bool, inCRM: Bool = false) {
            let offset = inCRM ? 0 : model.hostOffset
            let earlier = model.decisionHistory[s]?[p] ?? []
            // Two decisions with no sync between, one on a stepped clock: both sides moved since they last agreed,
            // so only the times can order them, and the step hides the order. A side that has not moved since the
            // sync (its statement at the agreed time, crmsync's own push included) loses whatever the clocks say.
            if inCRM, earlier.contains(where: { !$0.inCRM && $0.offset > 0 && $0.order > model.lastSync }) {
                model.clockAmbiguous.insert([s, p])
            }
            if !inCRM, offset != 0, earlier.contains(where: { $0.inCRM && $0.order > model.lastSync }) {
                model.clockAmbiguous.insert([s, p])
            }
            model.decisions[s, default: [:]][p] = .init(granted: granted, order: step, inCRM: inCRM, offset: offset)
            model.decisionHistory[s, default: [:]][p, default: []].append(
                .init(granted: granted, order: step, inCRM: inCRM, offset: offset))
            model.uncertain.remove([s, p])
            if granted, model.liftedAt[s] != nil { model.grantedSinceLift[s, default: []].insert(p) }
            if !granted { model.grantedSinceLift[s]?.remove(p) }
        }
        /// A form creates the subject's record in the CRM (under the CRM side's spelling of its address).
        func seedRecord(_ s: Int, firstName: String) async throws {
            try await world.mock.seed(
                .contacts([
                    MockSeedContact([
                        "email": CheckOperation.crmSpelling(s), "firstname": firstName, "lastname": "Side\(s)",
                    ])
                ]))
            model.existsInCRM.insert(s)
            if model.indexLagMs > 0 {
                model.visibleAt[CheckOperation.email(s)] = Date().addingTimeInterval(Double(model.indexLagMs) / 1000)
            }
        }
        /// The subject opts out of all email in HubSpot, under `spelling`: withdraws every purpose there.
        func optOutInCRM(_ s: Int, spelling: String) async throws {
            try await world.control(
                "POST", "/communication-preferences/v4/statuses/batch/unsubscribe-all?channel=EMAIL",
                ["inputs": [spelling]])
            // A lift dated on a fast clock looks newer than this opt-out, whatever syncs came between.
            if model.liftedAt[s] != nil, (model.liftOffset[s] ?? 0) > 0 { model.optOutOpen.insert(s) }
            model.optedOutAt[s] = step
            model.optOuts[s, default: []].append((step, true))
            model.grantedSinceLift[s] = []
            for p in 0..<CheckOperation.purposes.count { decide(s, p, granted: false, inCRM: true) }
        }
        /// The subject is erased (by `erase` or retention): every address the register knew it by is gone for good.
        func erased(_ s: Int, heldUnderNewAddress: Bool, registerAddress: String) {
            // A second request for an erased subject names an address the register may no longer hold for it.
            if !model.erased.contains(s) { model.erasedRegisterAddresses.insert(registerAddress) }
            model.erased.insert(s)
            var known = model.emails[s] ?? []
            // The new address is the subject's to the register once a linked record moved, or a sync brought it in.
            let knowsMove =
                !model.unlinkedMoves.contains(s)
                && ((model.emailChanged.contains(s) && !model.movedBeforeLink.contains(s)) || heldUnderNewAddress)
            if !knowsMove { known.remove(CheckOperation.alternateEmail(s)) }
            model.erasedEmails.formUnion(known)
            model.erasedEmails.insert(CheckOperation.email(s))
            model.existsLocally.remove(s)
        }
        // Decisions are compared by time on both sides: keep two of them out of the same millisecond.
        try await Task.sleep(for: .milliseconds(2))
        switch operation {
        case .localCreate(let s, let lastName):
            // After the CRM moved the subject to a new address the register has not seen, the old address would
            // be a second person to the register: not this subject.
            guard !model.erased.contains(s),
                !model.emailChanged.contains(s) || address(s).normalized == CheckOperation.alternateEmail(s)
            else { return nil }
            try importRows("email,firstName,lastName\n\(localText(s)),First\(s),\(lastName ? "Last\(s)" : "")\n")
            model.existsLocally.insert(s)
            if !lastName {
                model.createdWithoutLastName.insert(s)
                if model.refusalsOn { model.refused.insert(s) }
            }
            model.emails[s, default: []].insert(CheckOperation.email(s))
        case .localEdit(let s, let c):
            guard model.existsLocally.contains(s), !model.erased.contains(s) else { return nil }
            // Setting a field to the value it has changes nothing (not even its stamp): no edit to remember.
            let current = try store.contact(email: address(s))?.city
            try importRows("email,city\n\(localText(s)),\(CheckOperation.cities[c])\n")
            if current != CheckOperation.cities[c] {
                model.editedCity(s, to: CheckOperation.cities[c])
                // `newest` compares the local stamp with HubSpot's time: a stepped clock decides the field wrongly.
                if model.hostOffset != 0 { model.fieldClockSkewed.insert(s) }
            }
        case .importConsent(let s, let p, let word):
            guard model.existsLocally.contains(s), !model.erased.contains(s), !model.isOptedOut(s) else { return nil }
            let column = CheckOperation.purposes[p].rawValue
            let before = (try? store.consents(contactId: try store.contact(email: address(s))?.id ?? ""))?.first {
                $0.purpose == CheckOperation.purposes[p]
            }?.state
            try importRows("email,\(column),consentSource\n\(localText(s)),\(word),check\n")
            let after = (try? store.consents(contactId: try store.contact(email: address(s))?.id ?? ""))?.first {
                $0.purpose == CheckOperation.purposes[p]
            }?.state
            // Only what the store accepted is a decision (an old file never re-grants; unknown decides nothing).
            if after != before, let after, after != .unknown { decide(s, p, granted: after == .granted) }
        case .crmCreate(let s):
            // A form fill creates the subject in the CRM only where neither side holds it yet (or it was erased).
            guard !model.emailChanged.contains(s), try await world.crmRecord(email: CheckOperation.email(s)) == nil,
                model.erased.contains(s) || !model.existsLocally.contains(s)
            else { return nil }
            try await seedRecord(s, firstName: "Crm\(s)")
            if !model.erased.contains(s) { model.emails[s, default: []].insert(CheckOperation.email(s)) }
        case .crmEdit(let s, let c):
            guard !model.merged.contains(s), let (_, record) = try await crmRecord(of: s, world: world),
                let id = record["id"] as? String
            else { return nil }
            let city = CheckOperation.cities[c]
            try await world.control("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["city": city]])
            // HubSpot records no change (no history entry, no new time) when a property is set to the value it
            // has: the CRM's last edit of the field is the one before.
            if (record["properties"] as? [String: Any])?["city"] as? String != city { model.editedCity(s, to: city) }
        case .crmEmailChange(let s):
            guard !model.erased.contains(s), !model.emailChanged.contains(s), !model.merged.contains(s),
                let record = try await world.crmRecord(email: CheckOperation.email(s))
            else { return nil }
            _ = try await patch(s, ["email": CheckOperation.crmSpelling(s, alternate: true)], world: world)
            model.emailChanged.insert(s)
            model.emailChangedAt[s] = step
            // The record moves off the address HubSpot keeps the opt-out under.
            model.optOutLostByRestoreLeftOpen(s)
            // The register can tie the new address to the subject only through the record it linked (not another
            // record of the address, created after that one was archived); one it never held it simply imports
            // under the new address, following the move.
            let recordLinked =
                try (record["id"] as? String).map { try !store.localStates(crmIds: [$0], emails: []).isEmpty }
                ?? false
            let linked = model.linked.contains(s) && recordLinked
            // The register holds the subject when it was created locally or a sync met it (and imported it).
            let follows = linked || !(model.existsLocally.contains(s) || model.linked.contains(s))
            if model.lastPartialSync > model.lastSync { model.ambiguous.insert(s) }
            if !linked { model.movedBeforeLink.insert(s) }
            if !follows { model.unlinkedMoves.insert(s) }
            // A CRM opt-out under an address the register never held stays with that address in HubSpot: the register
            // imports the record under its new address without it (README, Limits).
            if !model.existsLocally.contains(s), let last = model.optOuts[s]?.last, last.inCRM {
                model.optOutOpen.insert(s)
            }
            // A record a form re-created after someone deleted the linked one, moved before any sync met it: as when
            // it is archived (README, Limits), the contact stays linked to the deleted record; the form's opt-out
            // stays with the address in HubSpot.
            if model.recreated.contains(s), model.deletedByOther.contains(s), let last = model.optOuts[s]?.last,
                last.inCRM, last.step > model.lastSync
            {
                model.optOutOpen.insert(s)
            }
            // HubSpot keeps subscriptions per address: a CRM decision no sync has carried over stays with the old
            // one, which the register follows away from only for a linked record; one a partial sync may have
            // carried over is open.
            // A sync after a partial one may have met a record the partial one created (and read its decisions), or
            // created it itself (and read none): which, the model cannot tell.
            let partialMayHaveLinked =
                model.lastPartialSync >= 0 && model.lastSyncWhileLinked[s] == nil
                && model.lastSync > model.lastPartialSync
            for (p, decision) in model.decisions[s] ?? [:]
            where follows && decision.inCRM && decision.order > (model.lastSyncWhileLinked[s] ?? -1) {
                if decision.order < model.lastPartialSync || partialMayHaveLinked && decision.order < model.lastSync {
                    model.uncertain.insert([s, p])
                } else {
                    // The decision before it (if any) is what the register still holds.
                    var earlier = model.decisionHistory[s]?[p] ?? []
                    while let last = earlier.last, last.inCRM, last.order > (model.lastSyncWhileLinked[s] ?? -1) {
                        earlier.removeLast()
                    }
                    model.decisionHistory[s]?[p] = earlier
                    model.decisions[s]?[p] = earlier.last
                }
            }
            // Likewise an opt-out of the old address that no sync carried over.
            if follows, var outs = model.optOuts[s], let last = outs.last, last.inCRM,
                last.step > (model.lastSyncWhileLinked[s] ?? -1), last.step >= model.lastPartialSync
            {
                outs.removeLast()
                model.optOuts[s] = outs
                model.optedOutAt[s] = outs.last?.step
            }
            model.emails[s, default: []].insert(CheckOperation.alternateEmail(s))
        case .crmArchive(let s):
            guard !model.merged.contains(s), let record = try await world.crmRecord(email: CheckOperation.email(s)),
                let id = record["id"] as? String
            else { return nil }
            try await world.control("DELETE", "/crm/v3/objects/contacts/\(id)")
            model.archived.insert(s)
            // A record a form re-created after someone deleted the linked one, archived before any sync met it: the
            // contact stays linked to the deleted record, examined only when it changes here (README, Limits); the
            // form's opt-out stays with the address in HubSpot.
            if model.recreated.contains(s), model.deletedByOther.contains(s), let last = model.optOuts[s]?.last,
                last.inCRM, last.step > model.lastSync
            {
                model.optOutOpen.insert(s)
            }
        case .localGrant(let s, let p):
            guard model.existsLocally.contains(s), !model.erased.contains(s), !model.isOptedOut(s) else { return nil }
            ignoringRefusals {
                // The same decision again (same state, same source) is recorded once: no new decision.
                let outcome = try store.recordConsent(
                    email: address(s), purpose: CheckOperation.purposes[p], state: .granted, source: "check",
                    actor: "check")
                if outcome == .changed { decide(s, p, granted: true) }
            }
        case .localWithdraw(let s, let p):
            guard model.existsLocally.contains(s), !model.erased.contains(s) else { return nil }
            ignoringRefusals {
                let outcome = try store.recordConsent(
                    email: address(s), purpose: CheckOperation.purposes[p], state: .withdrawn, source: "check",
                    actor: "check")
                if outcome == .changed { decide(s, p, granted: false) }
            }
        case .crmSubscription(let s, let p, let subscribed):
            guard !model.erased.contains(s), model.existsInCRM.contains(s) || model.existsLocally.contains(s),
                !model.isOptedOut(s)
            else { return nil }
            let id = Int(SyncConfiguration().purposes[CheckOperation.purposes[p].rawValue]?.subscriptionId ?? "0") ?? 0
            let spelling = try await crmEmail(s)
            try await world.control(
                "POST", "/communication-preferences/v4/statuses/batch/write",
                [
                    "inputs": [
                        [
                            "subscriberIdString": spelling, "subscriptionId": id, "channel": "EMAIL",
                            "statusState": subscribed ? "SUBSCRIBED" : "UNSUBSCRIBED",
                            "legalBasis": "CONSENT_WITH_NOTICE",
                        ]
                    ]
                ])
            decide(s, p, granted: subscribed, inCRM: true)
            // Statuses of an address no record holds are read under the canonical spelling only (README, Limits).
            if spelling != EmailAddress.matchingKey(spelling), try await world.crmRecord(email: spelling) == nil {
                model.uncertain.insert([s, p])
            }
            // A restricted subject HubSpot holds no record of is looked at only when it changes here: a decision
            // for its address made after the last look waits for the next change (README, Limits).
            if model.restricted.contains(s) || model.refused.contains(s),
                try await world.crmRecord(email: spelling) == nil,
                let state = try store.localStates(crmIds: [], emails: [address(s)]).first, !state.isDirty
            {
                model.uncertain.insert([s, p])
            }
        case .localOptOut(let s):
            guard model.existsLocally.contains(s), !model.erased.contains(s) else { return nil }
            ignoringRefusals {
                _ = try store.setSuppression(
                    .optedOutOfAll, active: true, email: address(s), reason: "check", actor: "check")
                model.optedOutAt[s] = step
                model.optOuts[s, default: []].append((step, false))
                model.grantedSinceLift[s] = []
                // An opt-out withdraws every purpose as of the opt-out (README, "Opt-out is sticky").
                for p in 0..<CheckOperation.purposes.count { decide(s, p, granted: false) }
            }
        case .crmOptOut(let s):
            // Opting out an address HubSpot already has opted out changes nothing there: no decision anyone can see.
            guard !model.erased.contains(s), model.existsInCRM.contains(s) else { return nil }
            let spelling = try await crmEmail(s)
            guard try await !world.crmOptedOut(spelling) else { return nil }
            try await optOutInCRM(s, spelling: spelling)
            if spelling != EmailAddress.matchingKey(spelling), try await world.crmRecord(email: spelling) == nil {
                model.optOutOpen.insert(s)
            }
            // An address with no live record (deleted, or merged or archived away) reports no change.
            if model.recordGone.contains(s) || model.merged.contains(s) || model.archived.contains(s) {
                model.optOutOpen.insert(s)
            }
            // After a move the register never linked, the record's new address is someone else to the register
            // (README, Limits): the opt-out reaches that contact, not the subject's own.
            if model.unlinkedMoves.contains(s) { model.optOutOpen.insert(s) }
        case .liftOptOut(let s, let p):
            guard model.existsLocally.contains(s), !model.erased.contains(s), model.isOptedOut(s) else { return nil }
            ignoringRefusals {
                _ = try store.recordConsent(
                    email: address(s), purpose: CheckOperation.purposes[p], state: .granted, source: "check re-consent",
                    liftingOptOut: true, actor: "check")
                model.liftedAt[s] = step
                model.liftOffset[s] = model.hostOffset
                model.grantedSinceLift[s] = [p]
                decide(s, p, granted: true)
            }
        case .restrict(let s), .liftRestriction(let s):
            guard model.existsLocally.contains(s), !model.erased.contains(s) else { return nil }
            let active = operation == .restrict(subject: s)
            ignoringRefusals {
                _ = try store.setSuppression(
                    .processingRestricted, active: active, email: address(s), reason: "check", actor: "check")
                if active {
                    model.restricted.insert(s)
                    model.everRestricted.insert(s)
                } else {
                    model.restricted.remove(s)
                }
            }
        case .erase(let s, let wait):
            guard model.existsLocally.contains(s) || model.existsInCRM.contains(s) else { return nil }
            let id = "check-\(step)"
            let heldUnderNewAddress = (try? store.contact(email: EmailAddress(CheckOperation.alternateEmail(s)))) != nil
            // A move the register never linked made the new address another person to it: the subject asks by
            // its own address.
            let subject = model.unlinkedMoves.contains(s) ? try EmailAddress(CheckOperation.email(s)) : address(s)
            if wait {
                let propagator = ErasurePropagator(
                    store: store, client: try world.client(), clock: ManualClock(), maxAttempts: 3,
                    baseDelay: .milliseconds(1))
                _ = try await propagator.erase(email: subject, requestId: id, reason: "check")
            } else {
                _ = try store.recordErasureRequest(email: subject, requestId: id, reason: "check")
                try store.eraseLocally(requestId: id)
                if !model.erased.contains(s) { model.unfinishedErasures[subject.normalized] = (step, s) }
            }
            erased(s, heldUnderNewAddress: heldUnderNewAddress, registerAddress: subject.normalized)
        case .crmMerge(let s, let t):
            guard s != t, !model.erased.contains(s), !model.erased.contains(t), !model.merged.contains(s),
                !model.merged.contains(t), let (_, loser) = try await crmRecord(of: s, world: world),
                let (_, survivor) = try await crmRecord(of: t, world: world),
                let loserId = loser["id"] as? String, let survivorId = survivor["id"] as? String, loserId != survivorId
            else { return nil }
            try await world.control(
                "POST", "/crm/v3/objects/contacts/merge", ["primaryObjectId": survivorId, "objectIdToMerge": loserId])
            model.merged.formUnion([s, t])
            // A move no sync has seen, an opt-out under the new address, and now a merge away: the register keeps the
            // contact for review under the address it knows, and HubSpot keeps the opt-out under the new one (README,
            // Limits).
            for x in [s, t] where (model.emailChangedAt[x] ?? -1) > model.lastSync {
                if let last = model.optOuts[x]?.last, last.inCRM, last.step > model.emailChangedAt[x]! {
                    model.optOutOpen.insert(x)
                }
            }
        case .crmDeleteByOther(let s):
            guard !model.erased.contains(s), !model.merged.contains(s),
                let (_, record) = try await crmRecord(of: s, world: world), let id = record["id"] as? String
            else { return nil }
            try await world.control("POST", "/crm/v3/objects/contacts/gdpr-delete", ["objectId": id])
            model.deletedByOther.insert(s)
            model.recordGone.insert(s)
            // HubSpot drops the address's statuses with the record: what no sync has read yet is gone.
            model.unreadCRMOptOutLeftOpen(s)
            for (p, decision) in model.decisions[s] ?? [:] where decision.inCRM && decision.order > model.lastSync {
                model.uncertain.insert([s, p])
            }
        case .crmRecreateByForm(let s, let optOut):
            guard !model.erased.contains(s), !model.merged.contains(s), !model.emailChanged.contains(s),
                model.archived.contains(s) || model.deletedByOther.contains(s),
                try await crmRecord(of: s, world: world) == nil
            else { return nil }
            try await seedRecord(s, firstName: "Form\(s)")
            model.recreated.insert(s)
            model.recordGone.remove(s)
            // The form's "unsubscribe from all": the subject's own opt-out, in HubSpot.
            if optOut, try await !world.crmOptedOut(CheckOperation.crmSpelling(s)) {
                try await optOutInCRM(s, spelling: CheckOperation.crmSpelling(s))
            }
        case .backupStore:
            try world.backupStore()
            model.backupStep = step
            model.backupLastSync = model.lastSync
            model.heldAtBackup = model.existsLocally
        case .restoreBackup:
            guard let backupStep = model.backupStep, try world.restoreBackup() else { return nil }
            model.restored = true
            model.restoredAt = (step, model.backupLastSync)
            for (address, erasure) in model.unfinishedErasures
            where erasure.step > backupStep && !model.heldAtBackup.contains(erasure.subject) {
                model.erasureLostByRestore.insert(address)
            }
            // A CRM opt-out read since the backup, of an address the subject's record has moved away from since: the
            // restored register follows the move without it (HubSpot keeps it under the old address).
            for s in model.emailChanged {
                if let last = model.optOuts[s]?.last, last.inCRM, last.step > model.backupLastSync {
                    model.optOutOpen.insert(s)
                }
            }
            // The register forgets the links made since the backup: a CRM move of such a subject is one it never
            // linked (README, Limits).
            for s in model.linked where (model.linkedAt[s] ?? .max) > model.backupLastSync {
                model.linked.remove(s)
                model.linkedAt[s] = nil
                if model.emailChanged.contains(s) {
                    model.unlinkedMoves.insert(s)
                    model.movedBeforeLink.insert(s)
                }
            }
            // An opt-out made here after the backup that no sync carried to HubSpot is lost with the restore.
            for (s, outs) in model.optOuts {
                // Or one a sync carried only to an address with no live record: HubSpot reports no change there.
                let unrecorded = model.archived.contains(s) || model.merged.contains(s) || model.recordGone.contains(s)
                if let last = outs.last, !last.inCRM, last.step > backupStep, last.step > model.lastSync || unrecorded {
                    model.optOutOpen.insert(s)
                }
            }
            // Its restriction too: what the register marks from here on is what the backup held.
            for s in model.restricted where !(try world.store.isProcessingRestricted(address(s))) {
                model.restricted.remove(s)
            }
            for s in 0..<CheckOperation.subjects where !model.erased.contains(s) {
                if try world.store.isProcessingRestricted(address(s)) {
                    model.restricted.insert(s)
                    model.everRestricted.insert(s)
                }
            }
        case .hostClockStep(let seconds):
            world.hostClock.step(by: TimeInterval(seconds))
            model.hostOffset += seconds
        case .retention(let movedOn):
            // Every activity so far is before the cutoff: each contact is a candidate unless the CRM says otherwise.
            let cutoff = Date().addingTimeInterval(0.05).roundedToMilliseconds
            try await Task.sleep(for: .milliseconds(60))
            let candidates = try store.retentionCandidates(inactiveSince: cutoff)
            let restrictedNow = Set(
                (0..<CheckOperation.subjects).filter { !model.erased.contains($0) && model.restricted.contains($0) })
            // A CRM user edits one candidate's record after the candidates were listed: it is active since the cutoff.
            var activeInCRM: Int?
            if let m = movedOn, !model.erased.contains(m), !model.merged.contains(m),
                let (_, record) = try await crmRecord(of: m, world: world), let id = record["id"] as? String,
                let contact = try store.contact(email: address(m)), contact.crmId == id,
                candidates.contains(address(m))
            {
                let old = (record["properties"] as? [String: Any])?["city"] as? String
                let city = CheckOperation.cities.first { $0 != old }!
                try await world.control("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": ["city": city]])
                model.editedCity(m, to: city)
                activeInCRM = m
            }
            let present = (0..<CheckOperation.subjects).filter { s in
                !model.erased.contains(s) && (try? store.contact(email: address(s))) != nil
            }
            let movedHeld = Set(
                present.filter { (try? store.contact(email: EmailAddress(CheckOperation.alternateEmail($0)))) != nil })
            let registerAddress = Dictionary(uniqueKeysWithValues: present.map { ($0, address($0).normalized) })
            let day = Calendar(identifier: .gregorian).date(byAdding: .month, value: 24, to: cutoff)!
            let propagator = ErasurePropagator(
                store: store, client: try world.client(), clock: ManualClock(), maxAttempts: 3,
                baseDelay: .milliseconds(1))
            _ = try await propagator.eraseForRetention(candidates, months: 24, on: day)
            for s in present {
                guard try store.contact(email: address(s)) == nil else { continue }
                if restrictedNow.contains(s) {
                    return CheckFailure(
                        invariant: "retention", detail: "retention erased p\(s), whose processing is restricted",
                        step: step)
                }
                if activeInCRM == s {
                    return CheckFailure(
                        invariant: "retention",
                        detail: "retention erased p\(s), whose CRM record changed after the cutoff", step: step)
                }
                erased(s, heldUnderNewAddress: movedHeld.contains(s), registerAddress: registerAddress[s]!)
            }
        case .internationalAddress:
            break  // How the history spells the subject's address (``run(_:in:faults:)``).
        case .perInputRefusal:
            guard !model.refusalsOn else { return nil }
            try await world.requireLastNamePerInput()
            model.refusalsOn = true
            model.refused.formUnion(model.createdWithoutLastName)
        case .sync:
            let started = Date()
            _ = try await world.sync()
            model.synced(at: step, startedAt: started)
            return try await checkAfterSync(step: step, world: world, model: model, syncStartedAt: started)
        case .dryRunThenSync:
            // The two must see the same CRM: under index lag, a write not yet searchable when the dry run reads
            // could be by the time the real run does. Wait it out first.
            if model.indexLagMs > 0 { try await Task.sleep(for: .milliseconds(model.indexLagMs + 50)) }
            let dry = try await world.sync(dryRun: true)
            let started = Date()
            let real = try await world.sync()
            model.synced(at: step, startedAt: started)
            if dry.summary.toCRM != real.summary.toCRM || dry.summary.toLocal != real.summary.toLocal
                || dry.summary.conflicts != real.summary.conflicts
            {
                return CheckFailure(
                    invariant: "dry-run",
                    detail: "the dry run planned \(dry.summary) but the real run did \(real.summary)", step: step)
            }
            return try await checkAfterSync(step: step, world: world, model: model, syncStartedAt: started)
        case .crashingSync(let k):
            _ = try? await world.sync(transport: DyingTransport(afterMutations: k, inner: world.transport))
            model.lastPartialSync = step
            model.spreadUnmarked.formUnion(try await unmarkedSpreads(model, world))
        case .skewedSync(let seconds):
            let started = Date()
            _ = try await world.sync(clock: SteppableClock(offset: TimeInterval(seconds) + world.hostClock.offset))
            model.synced(at: step, startedAt: started)
            return try await checkAfterSync(step: step, world: world, model: model, syncStartedAt: started)
        case .indexLag(let milliseconds):
            try await world.setIndexLag(milliseconds: milliseconds)
            model.indexLagMs = max(model.indexLagMs, milliseconds)
        }
        return nil
    }

    /// Restricted subjects whose spread reached HubSpot without its mark in the register (a sync died between
    /// the two): the next sync takes that opt-out as the subject's (README, "Restriction of processing").
    private func unmarkedSpreads(_ model: CheckModel, _ world: CheckWorld) async throws -> Set<Int> {
        var unmarked: Set<Int> = []
        for s in model.restricted {
            guard
                let state = try world.store.localStates(
                    crmIds: [],
                    emails: [
                        try EmailAddress(CheckOperation.email(s)), try EmailAddress(CheckOperation.alternateEmail(s)),
                    ]
                ).first
            else { continue }
            let marked = state.base.optOutBase?.marksSpread == true
            if !marked, try await world.crmOptedOut(state.contact.email.normalized) { unmarked.insert(s) }
        }
        return unmarked
    }

    /// The city of the subject's CRM record (under whichever address it has).
    private func crmCity(_ s: Int, world: CheckWorld) async throws -> String? {
        let record = try await crmRecord(of: s, world: world)?.record
        return (record?["properties"] as? [String: Any])?["city"] as? String
    }

    /// The subject's CRM record and the address it has (its own or, after a move, the new one; never both).
    private func crmRecord(of s: Int, world: CheckWorld) async throws -> (email: String, record: [String: Any])? {
        for email in [CheckOperation.email(s), CheckOperation.alternateEmail(s)] {
            if let record = try await world.crmRecord(email: email) { return (email, record) }
        }
        return nil
    }

    /// Someone edits the subject's CRM record (under whichever address it has); false when there is none.
    private func patch(_ s: Int, _ properties: [String: String], world: CheckWorld) async throws -> Bool {
        guard let id = try await crmRecord(of: s, world: world)?.record["id"] as? String else { return false }
        try await world.control("PATCH", "/crm/v3/objects/contacts/\(id)", ["properties": properties])
        return true
    }

    // MARK: Invariants

    /// What must hold after every completed sync: no duplicates, and erased subjects gone from both sides.
    func checkAfterSync(step: Int, world: CheckWorld, model: CheckModel, syncStartedAt: Date = .distantFuture)
        async throws -> CheckFailure?
    {
        let records = try await world.crmRecords()
        var seen: [String: Int] = [:]
        for record in records {
            let email = EmailAddress.matchingKey((record["properties"] as? [String: Any])?["email"] as? String ?? "")
            seen[email, default: 0] += 1
        }
        if let duplicate = seen.first(where: { $0.value > 1 && !$0.key.isEmpty }) {
            return CheckFailure(
                invariant: "no-duplicates", detail: "\(duplicate.key) is in the CRM \(duplicate.value) times",
                step: step)
        }
        var links: [String: String] = [:]
        for s in 0..<CheckOperation.subjects {
            for email in [CheckOperation.email(s), CheckOperation.alternateEmail(s)] {
                guard let contact = try world.store.contact(email: EmailAddress(email)), let crmId = contact.crmId
                else {
                    continue
                }
                if let other = links[crmId], other != contact.id {
                    return CheckFailure(
                        invariant: "no-duplicates", detail: "CRM id \(crmId) is linked to two local contacts",
                        step: step)
                }
                links[crmId] = contact.id
            }
        }
        for email in model.erasedEmails.sorted() {
            if try world.store.contact(email: EmailAddress(email)) != nil {
                return CheckFailure(
                    invariant: "erasure", detail: "\(email) exists locally after its erasure", step: step)
            }
            if seen[email] != nil, (model.visibleAt[email] ?? .distantPast) <= syncStartedAt {
                return CheckFailure(
                    invariant: "erasure", detail: "\(email) exists in the CRM after a sync following its erasure",
                    step: step)
            }
            let bytes = try world.storeBytes()
            if CheckOperation.spellings(of: email).contains(where: { bytes.range(of: Data($0.utf8)) != nil }),
                !hasUnfinishedErasure(world)
            {
                return CheckFailure(
                    invariant: "erasure", detail: "the store file still holds \(email) in plain text", step: step)
            }
        }
        return nil
    }

    /// No loss: once both sides agree, they hold the last city anyone gave the subject, on either side (a field
    /// changed on one side is taken from it; changed on both, the newer edit wins). Left out: subjects erased,
    /// archived, ever restricted (local edits are not pushed meanwhile), moved to a new address in a way that
    /// makes them two people to the register, or given back a city they had before (README, Limits).
    func checkNoLoss(step: Int, world: CheckWorld, model: CheckModel) async throws -> CheckFailure? {
        for (s, city) in model.lastCity.sorted(by: { $0.key < $1.key })
        where !model.erased.contains(s) && !model.archived.contains(s) && !model.everRestricted.contains(s)
            && !model.ambiguous.contains(s) && !model.merged.contains(s) && !model.deletedByOther.contains(s)
            && !model.refused.contains(s) && !model.restored && !model.fieldClockSkewed.contains(s)
            && !model.movedBeforeLink.contains(s)
            && !model.unlinkedMoves.contains(s)
            && !model.cityReturned.contains(s)
        {
            let local =
                try world.store.contact(email: EmailAddress(CheckOperation.alternateEmail(s)))
                ?? world.store.contact(email: EmailAddress(CheckOperation.email(s)))
            let crmCity = try await crmCity(s, world: world)
            if local?.city != city || crmCity != city {
                return CheckFailure(
                    invariant: "no-loss",
                    detail:
                        "p\(s)'s last city edit was \(city), but the register holds \(local?.city ?? "nothing") and the CRM \(crmCity ?? "nothing")",
                    step: step)
            }
        }
        return nil
    }

    /// Opted out in the model ⇒ opted out in the register and in HubSpot's statuses for the subject's address (as
    /// the live record there spells it); erased ⇒ no statuses left in HubSpot under any spelling of its addresses.
    func checkOptOutsAndErasures(step: Int, world: CheckWorld, model: CheckModel) async throws -> CheckFailure? {
        for s in 0..<CheckOperation.subjects
        where !model.erased.contains(s) && model.isOptedOut(s) && !model.optOutOpen.contains(s)
            && !model.ambiguous.contains(s)
        {
            // After a move the register never linked, the new address is another person to it.
            let local =
                try
                (model.unlinkedMoves.contains(s)
                ? nil : world.store.contact(email: EmailAddress(CheckOperation.alternateEmail(s))))
                ?? world.store.contact(email: EmailAddress(CheckOperation.email(s)))
            if let local {
                let suppressions = try world.store.suppressions(contactId: local.id)
                if !suppressions.contains(where: { $0.kind == .optedOutOfAll && $0.isActive }) {
                    return CheckFailure(
                        invariant: "opt-out",
                        detail:
                            "p\(s) opted out at step \(model.optedOutAt[s] ?? -1), but the register does not say so",
                        step: step)
                }
            }
            // Someone's GDPR delete took the address's statuses with the record; the register hears of it only when
            // it examines the contact (README, Limits).
            if model.recordGone.contains(s) { continue }
            // With no contact in the register, the address the subject's record last had in the CRM (a move the
            // register never saw leaves the opt-out under the new one).
            let moved = model.emailChanged.contains(s) && !model.unlinkedMoves.contains(s)
            let address =
                local?.email.normalized ?? (moved ? CheckOperation.alternateEmail(s) : CheckOperation.email(s))
            let record = try await world.crmRecord(email: address)
            let spelled = (record?["properties"] as? [String: Any])?["email"] as? String
            let spelling = spelled.flatMap { EmailAddress.matchingKey($0) == address ? $0 : nil }
            // With no record, or a record that carries the address only as a secondary one (a merge), HubSpot holds
            // the opt-out under the spelling the subject used (it compares text).
            let spellings =
                spelling.map { [$0] } ?? ((try? EmailAddress(address).spellings) ?? [address])
            var optedOutSomewhere = false
            for candidate in spellings where try await world.crmOptedOut(candidate) { optedOutSomewhere = true }
            if !optedOutSomewhere {
                return CheckFailure(
                    invariant: "opt-out",
                    detail:
                        "p\(s) opted out at step \(model.optedOutAt[s] ?? -1), but HubSpot does not hold its address opted out (\(record == nil ? "no record" : "a live record"))",
                    step: step)
            }
        }
        for email in model.erasedRegisterAddresses.subtracting(model.erasureLostByRestore).sorted() {
            for spelling in CheckOperation.spellings(of: email) {
                let statuses = try await world.crmStatuses(spelling)
                let optedOut = try await world.crmOptedOut(spelling)
                guard statuses.values.contains(where: { $0 != "NOT_SPECIFIED" }) || optedOut else { continue }
                return CheckFailure(
                    invariant: "erasure", detail: "HubSpot still holds statuses for \(email) after its erasure",
                    step: step)
            }
        }
        return nil
    }

    private func hasUnfinishedErasure(_ world: CheckWorld) -> Bool {
        ((try? world.store.erasureRequests()) ?? []).contains { $0.state != .verified }
    }

    /// What must hold after the quiet end: converged fields, consent and opt-outs, finished erasures, an empty plan.
    func checkQuiet(step: Int, world: CheckWorld, model: CheckModel) async throws -> CheckFailure? {
        for request in try world.store.erasureRequests() where request.state != .verified {
            return CheckFailure(
                invariant: "erasure-requests", detail: "request \(request.id) ended \(request.state.rawValue)",
                step: step)
        }
        let plan = try await world.sync(dryRun: true)
        let nothing = SyncReport.Direction()
        if plan.summary.toCRM != nothing || plan.summary.toLocal != nothing || !plan.changes.isEmpty {
            return CheckFailure(
                invariant: "convergence",
                detail:
                    "after two quiet syncs the next plan is not empty: \(plan.summary); \(plan.changes.prefix(5).map { "\($0.field) \($0.direction) (\($0.rule))" })",
                step: step)
        }
        if let failure = try await checkNoLoss(step: step, world: world, model: model) { return failure }
        if let failure = try await checkOptOutsAndErasures(step: step, world: world, model: model) { return failure }
        // Archived, merged, deleted or refused records are left as they are (README, "Archives and merges"): their
        // consent is not compared; nor anyone's after a restore (the register's decisions since the backup are lost).
        for s in 0..<CheckOperation.subjects where !model.erased.contains(s) && !model.consentLeftOpen(s) {
            guard
                let local = try world.store.contact(email: EmailAddress(CheckOperation.email(s)))
                    ?? world.store.contact(email: EmailAddress(CheckOperation.alternateEmail(s)))
            else { continue }
            let states = try world.store.consents(contactId: local.id)
            let suppressions = try world.store.suppressions(contactId: local.id)
            let optedOut = suppressions.contains { $0.kind == .optedOutOfAll && $0.isActive }
            let restricted = suppressions.contains { $0.kind == .processingRestricted && $0.isActive }
            func granted(_ p: Int) -> Bool {
                states.contains { $0.purpose == CheckOperation.purposes[p] && $0.state == .granted }
            }
            // Consent: a purpose is granted only by an explicit grant that no later decision overrode.
            for p in 0..<CheckOperation.purposes.count where !model.uncertain.contains([s, p]) {
                let decision = model.decisions[s]?[p]
                // A clock step hid which of two decisions came first: whichever won, it was someone's grant.
                if model.clockAmbiguous.contains([s, p]) {
                    if granted(p), !(model.decisionHistory[s]?[p] ?? []).contains(where: \.granted) {
                        return CheckFailure(
                            invariant: "consent",
                            detail:
                                "p\(s) is granted \(CheckOperation.purposes[p].rawValue) but no one ever granted it",
                            step: step)
                    }
                    continue
                }
                if granted(p) && decision?.granted != true {
                    return CheckFailure(
                        invariant: "consent",
                        detail:
                            "p\(s) is granted \(CheckOperation.purposes[p].rawValue) but its last decision was \(decision.map { $0.granted ? "a grant" : "a withdrawal" } ?? "none")",
                        step: step)
                }
                if !optedOut && !restricted && model.optedOutAt[s] == nil, let decision,
                    decision.granted != granted(p), !model.archived.contains(s)
                {
                    return CheckFailure(
                        invariant: "consent",
                        detail:
                            "p\(s)'s last decision for \(CheckOperation.purposes[p].rawValue) was \(decision.granted ? "a grant" : "a withdrawal") at step \(decision.order) but the store says otherwise",
                        step: step)
                }
            }
            // Once an opt-out is lifted, only purposes explicitly re-consented since the lift are granted.
            if let optedOut = model.optedOutAt[s], let lifted = model.liftedAt[s], lifted > optedOut {
                let allowed = model.grantedSinceLift[s] ?? []
                if let p = (0..<CheckOperation.purposes.count).first(where: { granted($0) && !allowed.contains($0) }),
                    let decision = model.decisions[s]?[p], decision.order < (model.optedOutAt[s] ?? 0)
                {
                    return CheckFailure(
                        invariant: "consent",
                        detail:
                            "p\(s) has \(CheckOperation.purposes[p].rawValue) granted from before its opt-out, never re-consented",
                        step: step)
                }
            }
            // Restriction fabricates nothing: no opt-out that nobody made.
            if optedOut && model.optedOutAt[s] == nil && !restricted && !model.spreadUnmarked.contains(s) {
                return CheckFailure(
                    invariant: "consent", detail: "p\(s) is opted out, but no one opted it out (a restriction spread?)",
                    step: step)
            }
        }
        return nil
    }

    // MARK: Shrinking

    /// The shortest history found (removing one operation at a time) that still breaks an invariant.
    public func shrink(
        _ history: [CheckOperation], faults: Bool = false, makeWorld: () async throws -> CheckWorld
    ) async throws -> (history: [CheckOperation], failure: CheckFailure)? {
        let world = try await makeWorld()
        guard let failure = await run(history, in: world, faults: faults) else {
            await world.close()
            return nil
        }
        await world.close()
        var best = (history: history, failure: failure)
        var index = 0
        while index < best.history.count {
            var candidate = best.history
            candidate.remove(at: index)
            let world = try await makeWorld()
            let found = await run(candidate, in: world, faults: faults)
            await world.close()
            if let found, found.invariant == best.failure.invariant {
                best = (candidate, found)
            } else {
                index += 1
            }
        }
        return best
    }
}
