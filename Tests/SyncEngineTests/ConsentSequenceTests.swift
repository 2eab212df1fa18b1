import Foundation
import HubSpotClient
import SyncChecking
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// Issue 13: every consent promise holds under generated sequences of edits on both sides and syncs.
@Suite struct ConsentSequenceTests {
    enum Step: CustomStringConvertible {
        case localGrant(Purpose)
        case localWithdraw(Purpose)
        case localOptOut
        case importUnknown(Purpose)
        case crmSubscribe(Purpose)
        case crmUnsubscribe(Purpose)
        case crmOptOut
        case restrict
        case liftRestriction
        case sync

        var description: String {
            switch self {
            case .localGrant(let p): "localGrant(\(p))"
            case .localWithdraw(let p): "localWithdraw(\(p))"
            case .localOptOut: "localOptOut"
            case .importUnknown(let p): "importUnknown(\(p))"
            case .crmSubscribe(let p): "crmSubscribe(\(p))"
            case .crmUnsubscribe(let p): "crmUnsubscribe(\(p))"
            case .crmOptOut: "crmOptOut"
            case .restrict: "restrict"
            case .liftRestriction: "liftRestriction"
            case .sync: "sync"
            }
        }
    }

    static let purposes: [Purpose] = [.newsletter, .marketingEmail]

    /// Steps for one seed. A CRM-side opt-out or re-subscription while restricted is left out: HubSpot shows
    /// nothing new for the first (the contact is already opted out) and the second is a known limitation.
    static func steps(seed: UInt64, count: Int) -> [Step] {
        var generator = SeededGenerator(seed: seed)
        var restricted = false
        var steps: [Step] = []
        while steps.count < count {
            let purpose = purposes.randomElement(using: &generator)!
            let step: Step =
                switch Int.random(in: 0..<10, using: &generator) {
                case 0: .localGrant(purpose)
                case 1: .localWithdraw(purpose)
                case 2: .localOptOut
                case 3: .importUnknown(purpose)
                case 4: .crmSubscribe(purpose)
                case 5: .crmUnsubscribe(purpose)
                case 6: .crmOptOut
                case 7: restricted ? .liftRestriction : .restrict
                default: .sync
                }
            switch step {
            case .crmOptOut,
                .crmSubscribe where restricted:
                continue
            case .restrict: restricted = true
            case .liftRestriction: restricted = false
            default: break
            }
            steps.append(step)
        }
        return steps
    }

    @Test(arguments: 1...12)
    func consentPromisesHoldUnderGeneratedSequences(seed: Int) async throws {
        let fixture = try await EngineFixture()
        defer { Task { await fixture.close() } }
        let address = "seq\(seed)@example.fi"
        let subject = email(address)
        try fixture.importCSV("email,newsletter,marketingEmail\n\(address),granted,granted\n")
        try await fixture.sync()
        // Whether a purpose may be granted: only a grant on one side makes it so; any withdrawal or opt-out ends it.
        var mayBeGranted: [Purpose: Bool] = [.newsletter: true, .marketingEmail: true]
        let steps = Self.steps(seed: UInt64(seed), count: 12)
        for (index, step) in steps.enumerated() {
            let trail = "seed \(seed), after \(steps.prefix(index + 1).map(\.description))"
            fixture.tick()
            switch step {
            case .localGrant(let purpose):
                _ = try fixture.store.recordConsent(
                    email: subject, purpose: purpose, state: .granted, source: "form",
                    liftingOptOut: try fixture.isOptedOut(address), actor: "t")
                mayBeGranted[purpose] = true
            case .localWithdraw(let purpose):
                // A withdrawal repeated while already withdrawn is not recorded again (see the report): a CRM
                // grant made in between may then be the newest decision.
                let outcome = try fixture.store.recordConsent(
                    email: subject, purpose: purpose, state: .withdrawn, source: "phone", actor: "t")
                if outcome == .changed { mayBeGranted[purpose] = false }
            case .localOptOut:
                _ = try fixture.store.setSuppression(
                    .optedOutOfAll, active: true, email: subject, reason: "asked", actor: "t")
                for purpose in Self.purposes { mayBeGranted[purpose] = false }
            case .importUnknown(let purpose):
                try fixture.importCSV("email,\(purpose)\n\(address),unknown\n")
            case .crmSubscribe(let purpose):
                try await fixture.crmWriteStatus(address, purpose, "SUBSCRIBED")
                mayBeGranted[purpose] = true
            case .crmUnsubscribe(let purpose):
                try await fixture.crmWriteStatus(address, purpose, "UNSUBSCRIBED")
                mayBeGranted[purpose] = false
            case .crmOptOut:
                try await fixture.crmOptOut(address)
                for purpose in Self.purposes { mayBeGranted[purpose] = false }
            case .restrict:
                _ = try fixture.store.setSuppression(
                    .processingRestricted, active: true, email: subject, reason: "asked", actor: "t")
            case .liftRestriction:
                _ = try fixture.store.setSuppression(
                    .processingRestricted, active: false, email: subject, reason: "lifted", actor: "t")
            case .sync:
                let report = try await fixture.sync()
                #expect(report.summary.failures == 0, "\(trail): \(report.failures)")
                try await checkNoUpgrade(fixture, address, mayBeGranted, trail)
                continue
            }
        }
        // Settle: a few runs at most, then a run that changes nothing anywhere.
        var settled = false
        for _ in 0..<4 where !settled {
            let journal = try await fixture.journal().count
            let report = try await fixture.sync()
            let writes = try await fixture.mutatingRequests(since: journal)
            settled = report.changes.isEmpty && writes.isEmpty
        }
        let trail = "seed \(seed): \(steps.map(\.description))"
        #expect(settled, "\(trail): never settled")
        try await checkNoUpgrade(fixture, address, mayBeGranted, trail)
        let optedOut = try fixture.isOptedOut(address)
        let restricted = try fixture.store.suppressions(contactId: try #require(try fixture.local(address)).id)
            .contains { $0.kind == .processingRestricted && $0.isActive }
        if optedOut || restricted {
            #expect(try await fixture.crmProperty(address, "hs_email_optout") == "true", "\(trail)")
        }
        for purpose in Self.purposes {
            let local = try fixture.consent(address, purpose)
            let crm = try await fixture.crmStatus(address, purpose)
            if optedOut { #expect(local != .granted && crm != "SUBSCRIBED", "\(trail): \(purpose)") }
            guard !restricted else { continue }
            // Both sides agree on every decision.
            #expect(
                (local == .granted) == (crm == "SUBSCRIBED"),
                "\(trail): \(purpose) \(String(describing: local)) \(crm ?? "-")")
            if local == .withdrawn { #expect(crm == "UNSUBSCRIBED", "\(trail): \(purpose)") }
        }
    }

    /// A sync never grants what no one granted since the last withdrawal.
    private func checkNoUpgrade(
        _ fixture: EngineFixture, _ address: String, _ mayBeGranted: [Purpose: Bool], _ trail: String
    ) async throws {
        for purpose in Self.purposes where mayBeGranted[purpose] != true {
            #expect(try fixture.consent(address, purpose) != .granted, "\(trail): \(purpose) granted locally")
            #expect(try await fixture.crmStatus(address, purpose) != "SUBSCRIBED", "\(trail): \(purpose) in the CRM")
        }
    }
}
