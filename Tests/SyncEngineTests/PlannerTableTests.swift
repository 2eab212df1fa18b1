import Foundation
import SubjectPolicy
import SyncCore
import SyncModel
import Testing

@testable import SyncEngine
@testable import SyncStore

/// Every rule of the README's "How a sync decides" as rows of (base, local, CRM) → effects: the planner alone,
/// no HTTP, no store, no clock.
@Suite struct PlannerTableTests {
    @Test(arguments: PlannerRow.fields + PlannerRow.consent + PlannerRow.optOut + PlannerRow.records)
    func theRowsDecisionIsTheREADMEs(row: PlannerRow) {
        var configuration = SyncConfiguration()
        if let policy = row.policy { configuration.conflicts.default = policy }
        let planner = SyncPlanner(settings: SyncSettings(configuration), now: PlannerRow.time(100))
        let local = row.local.map { $0.state(base: row.base) }
        let remote = row.crm?.remote
        let context = SyncPlanner.Context(
            isErased: { _ in row.erased }, isErasedRecord: { _ in row.erasedRecord }, isEmailTaken: { _, _ in false },
            addressConsents: { _ in row.addressConsents })
        let plan = planner.plan(local: local, remote: remote, context: context)
        #expect(plan.action == row.action, "action")
        let effects = Set(plan.changes.map { PlannerRow.Effect($0.key, $0.direction, $0.rule) })
        #expect(effects == row.effects, "changes: \(plan.changes.map { "\($0.key) \($0.direction) \($0.rule)" })")
        #expect(plan.optOutToCRM == row.optOutToCRM, "opt-out to the CRM")
        #expect((plan.optOutToLocal != nil) == row.optOutToLocal, "opt-out to local")
        #expect(Set(plan.consentToCRM.map(\.purpose)) == row.consentToCRM, "subscription writes")
        #expect(plan.toCRMProperties["hs_email_optout"] == nil, "a contact write never carries hs_email_optout")
        for (key, value) in row.baseAfter { #expect(plan.newBase[key] == .some(value), "base \(key)") }
    }
}

/// One row: the agreed base, each side's state (nil: not there), and the effects the planner must emit.
struct PlannerRow: Sendable, CustomTestStringConvertible {
    struct Effect: Hashable, Sendable, CustomStringConvertible {
        var key: SyncKey
        var direction: SyncDirection
        var rule: SyncRule
        init(_ key: SyncKey, _ direction: SyncDirection, _ rule: SyncRule) {
            self.key = key
            self.direction = direction
            self.rule = rule
        }
        var description: String { "\(key) \(direction) \(rule)" }
    }

    struct Local: Sendable {
        var crmId: String? = "101"
        var fields: [ContactField: (value: String, at: Int)] = [:]
        var consents: [Purpose: (state: ConsentState, at: Int, origin: ChangeOrigin)] = [:]
        /// The opt-out of all email: active or lifted, when, by which side.
        var optOut: (active: Bool, at: Int, origin: ChangeOrigin)?
        var restricted = false
        var dirty = true

        func state(base: [SyncKey: String?]) -> LocalContactState {
            var contact = Contact(id: "local-1", crmId: crmId, email: PlannerRow.email, createdAt: PlannerRow.time(0))
            for (field, entry) in fields {
                try! contact.set(
                    field, to: entry.value, stamp: FieldStamp(at: PlannerRow.time(entry.at), origin: .local))
            }
            var events: [Purpose: ConsentEvent] = [:]
            for (purpose, consent) in consents {
                events[purpose] = ConsentEvent(
                    contactId: contact.id, purpose: purpose, state: consent.state, source: "test",
                    occurredAt: PlannerRow.time(consent.at), origin: consent.origin)
            }
            var suppressions: [SuppressionKind: Suppression] = [:]
            if let optOut {
                suppressions[.optedOutOfAll] = Suppression(
                    contactId: contact.id, kind: .optedOutOfAll, isActive: optOut.active, reason: nil,
                    changedAt: PlannerRow.time(optOut.at), origin: optOut.origin)
            }
            if restricted {
                suppressions[.processingRestricted] = Suppression(
                    contactId: contact.id, kind: .processingRestricted, isActive: true, reason: nil,
                    changedAt: PlannerRow.time(1), origin: .local)
            }
            return LocalContactState(
                contact: contact, consents: events, suppressions: suppressions, base: base,
                localVersion: dirty ? 2 : 1, syncedVersion: 1, crmLastModified: nil, crmArchivedAt: nil,
                mergedIntoCrmId: nil)
        }
    }

    struct CRM: Sendable {
        var crmId = "101"
        var fields: [ContactField: (value: String, at: Int?)] = [:]
        var consents: [Purpose: (state: ConsentState, at: Int?)] = [:]
        var optedOut = false
        var optedOutAt: Int?
        var archived = false

        var remote: RemoteContact {
            RemoteContact(
                crmId: crmId, email: PlannerRow.email, values: fields.mapValues(\.value),
                consents: consents.mapValues { ($0.state, $0.at.map(PlannerRow.time), nil) }, isOptedOut: optedOut,
                optedOutAt: optedOutAt.map(PlannerRow.time), lastModified: PlannerRow.time(50),
                fieldTimes: fields.compactMapValues { $0.at.map(PlannerRow.time) }, archived: archived)
        }
    }

    var name: String
    var base: [SyncKey: String?] = [:]
    var local: Local?
    var crm: CRM?
    var policy: ConflictPolicy?
    var erased = false
    var erasedRecord = false
    var addressConsents: [Purpose: (state: ConsentState, at: Date?, legalBasis: LegalBasis?)] = [:]
    var action: ContactPlan.Action
    var effects: Set<Effect> = []
    var optOutToCRM = false
    var optOutToLocal = false
    var consentToCRM: Set<Purpose> = []
    var baseAfter: [SyncKey: String?] = [:]

    var testDescription: String { name }

    static let email = try! EmailAddress("aino@example.fi")
    /// Minute `n` of the test's timeline.
    static func time(_ n: Int) -> Date { Date(timeIntervalSince1970: 1_780_000_000 + Double(n) * 60) }

    /// The base of a linked contact that agreed on its email, "no decision" for every purpose and "not opted out".
    static let agreedNotOptedOut: [SyncKey: String?] =
        Dictionary(
            uniqueKeysWithValues: Purpose.standard.map { (SyncKey.consent($0), ConsentState.unknown.rawValue) })
        + [.field(.email): email.normalized, .optedOutOfAll: "false"]
}

// MARK: Rows

extension PlannerRow {
    static let fields: [PlannerRow] = [
        PlannerRow(
            name: "a field changed locally only is pushed", base: [.field(.city): "Oulu"] + agreed,
            local: Local(fields: [.city: ("Turku", 10)]), crm: CRM(fields: [.city: ("Oulu", 5)]), action: .update,
            effects: [Effect(.field(.city), .toCRM, .changedLocally)], baseAfter: [.field(.city): "Turku"]),
        PlannerRow(
            name: "a field changed in the CRM only is pulled", base: [.field(.city): "Oulu"] + agreed,
            local: Local(fields: [.city: ("Oulu", 5)]), crm: CRM(fields: [.city: ("Turku", 10)]), action: .update,
            effects: [Effect(.field(.city), .toLocal, .changedInCRM)], baseAfter: [.field(.city): "Turku"]),
        PlannerRow(
            name: "an unchanged field is never sent", base: agreedOnEveryField([.city: "Oulu"]),
            local: Local(fields: [.city: ("Oulu", 5)]), crm: CRM(fields: [.city: ("Oulu", 5)]), action: .none),
        PlannerRow(
            name: "a conflict under newest: the newer local edit wins", base: [.field(.city): "Oulu"] + agreed,
            local: Local(fields: [.city: ("Turku", 20)]), crm: CRM(fields: [.city: ("Espoo", 10)]), action: .update,
            effects: [Effect(.field(.city), .toCRM, .conflictNewest(.local))]),
        PlannerRow(
            name: "a conflict under newest: the newer CRM edit wins", base: [.field(.city): "Oulu"] + agreed,
            local: Local(fields: [.city: ("Turku", 10)]), crm: CRM(fields: [.city: ("Espoo", 20)]), action: .update,
            effects: [Effect(.field(.city), .toLocal, .conflictNewest(.crm))]),
        PlannerRow(
            name: "a conflict at equal stamps goes to the tie-breaker (local)",
            base: [.field(.city): "Oulu"] + agreed, local: Local(fields: [.city: ("Turku", 10)]),
            crm: CRM(fields: [.city: ("Espoo", 10)]), action: .update,
            effects: [Effect(.field(.city), .toCRM, .conflictTie(.local))]),
        PlannerRow(
            name: "a conflict under policy crm is the CRM's", base: [.field(.city): "Oulu"] + agreed,
            local: Local(fields: [.city: ("Turku", 20)]), crm: CRM(fields: [.city: ("Espoo", 10)]), policy: .crm,
            action: .update, effects: [Effect(.field(.city), .toLocal, .conflictPolicy(.crm))]),
        PlannerRow(
            name: "a restricted contact's local edits are not pushed", base: [.field(.city): "Oulu"] + agreed,
            local: Local(fields: [.city: ("Turku", 20)], restricted: true), crm: CRM(fields: [.city: ("Oulu", 5)]),
            action: .update, effects: [Effect(.optedOutOfAll, .toCRM, .restrictionSpread)], optOutToCRM: true),
    ]

    static let consent: [PlannerRow] = [
        PlannerRow(
            name: "consent: the newer local withdrawal is pushed", base: agreed,
            local: Local(consents: [.newsletter: (.withdrawn, 20, .local)]),
            crm: CRM(consents: [.newsletter: (.granted, 10)]), action: .update,
            effects: [Effect(.consent(.newsletter), .toCRM, .consentNewest(.local))], consentToCRM: [.newsletter]),
        PlannerRow(
            name: "consent: the newer CRM withdrawal is pulled", base: agreed,
            local: Local(consents: [.newsletter: (.granted, 10, .local)]),
            crm: CRM(consents: [.newsletter: (.withdrawn, 20)]), action: .update,
            effects: [Effect(.consent(.newsletter), .toLocal, .consentNewest(.crm))]),
        PlannerRow(
            name: "consent: a tie goes to the more restrictive (withdrawn)", base: agreed,
            local: Local(consents: [.newsletter: (.granted, 10, .local)]),
            crm: CRM(consents: [.newsletter: (.withdrawn, 10)]), action: .update,
            effects: [Effect(.consent(.newsletter), .toLocal, .consentMoreRestrictiveOnTie)]),
        PlannerRow(
            name: "consent: an unknown CRM time goes to the more restrictive", base: agreed,
            local: Local(consents: [.newsletter: (.withdrawn, 10, .local)]),
            crm: CRM(consents: [.newsletter: (.granted, nil)]), action: .update,
            effects: [Effect(.consent(.newsletter), .toCRM, .consentMoreRestrictiveOnTie)], consentToCRM: [.newsletter]),
        PlannerRow(
            name: "consent: NOT_SPECIFIED in the CRM never overrides a local withdrawal", base: agreed,
            local: Local(consents: [.newsletter: (.withdrawn, 10, .local)]),
            crm: CRM(consents: [.newsletter: (.unknown, 30)]), action: .update,
            effects: [Effect(.consent(.newsletter), .toCRM, .consentOnlyLocal)], consentToCRM: [.newsletter]),
        PlannerRow(
            name: "consent: a local unknown never overrides a CRM withdrawal", base: agreed,
            local: Local(consents: [.newsletter: (.unknown, 30, .local)]),
            crm: CRM(consents: [.newsletter: (.withdrawn, 10)]), action: .update,
            effects: [Effect(.consent(.newsletter), .toLocal, .consentOnlyCRM)]),
        PlannerRow(
            name:
                "consent: a created record never overwrites a newer decision HubSpot holds for the address; it is taken",
            local: Local(crmId: nil, consents: [.newsletter: (.granted, 10, .local), .blog: (.granted, 10, .local)]),
            addressConsents: [.newsletter: (.withdrawn, time(20), nil)], action: .createInCRM,
            effects: [
                Effect(.record, .toCRM, .onlyLocal), Effect(.consent(.blog), .toCRM, .onlyLocal),
                Effect(.consent(.newsletter), .toLocal, .consentNewest(.crm)),
            ],
            consentToCRM: [.blog]),
        PlannerRow(
            name: "consent: HubSpot's decision for the address of a contact the register has none for is taken",
            local: Local(crmId: nil, consents: [:]),
            addressConsents: [.eventInvitations: (.granted, time(20), nil)], action: .createInCRM,
            effects: [
                Effect(.record, .toCRM, .onlyLocal), Effect(.consent(.eventInvitations), .toLocal, .consentOnlyCRM),
            ]),
        PlannerRow(
            name: "consent: a grant HubSpot holds for the address is not taken while the register holds an opt-out",
            local: Local(crmId: nil, consents: [:], optOut: (true, 10, .local)),
            addressConsents: [.newsletter: (.granted, time(20), nil)], action: .createInCRM,
            effects: [Effect(.record, .toCRM, .onlyLocal), Effect(.optedOutOfAll, .toCRM, .optOutIsSticky)],
            optOutToCRM: true),
        PlannerRow(
            name: "consent: an older decision HubSpot holds for the address is overwritten by the register's",
            local: Local(crmId: nil, consents: [.newsletter: (.withdrawn, 30, .local)]),
            addressConsents: [.newsletter: (.granted, time(20), nil)], action: .createInCRM,
            effects: [Effect(.record, .toCRM, .onlyLocal), Effect(.consent(.newsletter), .toCRM, .onlyLocal)],
            consentToCRM: [.newsletter]),
    ]

    static let optOut: [PlannerRow] = [
        PlannerRow(
            name: "opt-out: a local opt-out is spread to the CRM", base: agreed,
            local: Local(optOut: (true, 10, .local)), crm: CRM(), action: .update,
            effects: [Effect(.optedOutOfAll, .toCRM, .optOutIsSticky)], optOutToCRM: true,
            baseAfter: [.optedOutOfAll: "true"]),
        PlannerRow(
            name: "opt-out: a CRM opt-out is taken and drops the grants the plan would push", base: agreed,
            local: Local(consents: [.newsletter: (.granted, 30, .local)]),
            crm: CRM(consents: [.newsletter: (.unknown, nil)], optedOut: true, optedOutAt: 20), action: .update,
            effects: [Effect(.optedOutOfAll, .toLocal, .optOutIsSticky)], optOutToLocal: true,
            baseAfter: [.optedOutOfAll: "true"]),
        PlannerRow(
            name: "opt-out: a CRM grant during the local opt-out is answered by opting out again", base: agreed,
            local: Local(consents: [.newsletter: (.withdrawn, 10, .local)], optOut: (true, 10, .local)),
            crm: CRM(consents: [.newsletter: (.granted, 20)]), action: .update,
            effects: [Effect(.optedOutOfAll, .toCRM, .optOutIsSticky)], optOutToCRM: true),
        PlannerRow(
            name: "opt-out: only the purposes re-consented after the CRM's opt-out are granted again",
            base: [.optedOutOfAll: "true"],
            local: Local(
                consents: [.newsletter: (.granted, 30, .local), .marketingEmail: (.granted, 5, .local)],
                optOut: (false, 30, .local)),
            crm: CRM(
                consents: [.newsletter: (.withdrawn, 20), .marketingEmail: (.withdrawn, 20)], optedOut: true,
                optedOutAt: 20), action: .update,
            effects: [
                Effect(.consent(.newsletter), .toCRM, .consentNewest(.local)),
                Effect(.consent(.marketingEmail), .toLocal, .consentNewest(.crm)),
                Effect(.optedOutOfAll, .toCRM, .liftedByReConsent),
            ], consentToCRM: [.newsletter], baseAfter: [.optedOutOfAll: "false"]),
        PlannerRow(
            name: "opt-out: a CRM opt-out without a time counts as newest, so no re-consent lifts it",
            base: [.optedOutOfAll: "true"],
            local: Local(consents: [.newsletter: (.granted, 30, .local)], optOut: (false, 30, .local)),
            crm: CRM(consents: [.newsletter: (.withdrawn, nil)], optedOut: true, optedOutAt: nil), action: .update,
            effects: [
                Effect(.consent(.newsletter), .toLocal, .consentMoreRestrictiveOnTie),
                Effect(.optedOutOfAll, .toLocal, .optOutIsSticky),
            ], optOutToLocal: true),
        PlannerRow(
            name: "restriction: spread as an opt-out (marked as crmsync's once the CRM answers)", base: agreed,
            local: Local(consents: [.newsletter: (.granted, 5, .local)], restricted: true),
            crm: CRM(consents: [.newsletter: (.granted, 5)]), action: .update,
            effects: [Effect(.optedOutOfAll, .toCRM, .restrictionSpread)], optOutToCRM: true),
        PlannerRow(
            name: "restriction: its echo in the CRM is never taken as the subject's decision",
            base: agreedOnEveryField([:]) + [.optedOutOfAll: "restriction", .consent(.newsletter): "granted"],
            local: Local(consents: [.newsletter: (.granted, 5, .local)], restricted: true),
            crm: CRM(consents: [.newsletter: (.withdrawn, 20)], optedOut: true, optedOutAt: 20), action: .none),
        PlannerRow(
            name: "restriction: the spread the CRM dates at the marked time is crmsync's, never taken",
            base: agreedOnEveryField([:]) + [
                .optedOutOfAll: OptOutBase.spread(at: PlannerRow.time(20)).stored,
                .consent(.newsletter): "granted",
            ],
            local: Local(consents: [.newsletter: (.granted, 5, .local)], restricted: true),
            crm: CRM(consents: [.newsletter: (.withdrawn, 20)], optedOut: true, optedOutAt: 20), action: .none),
        PlannerRow(
            name: "restriction: a CRM opt-out at another time than the marked spread is the subject's, taken",
            base: agreedOnEveryField([:]) + [
                .optedOutOfAll: OptOutBase.spread(at: PlannerRow.time(20)).stored,
                .consent(.newsletter): "granted",
            ],
            local: Local(consents: [.newsletter: (.granted, 5, .local)], restricted: true),
            crm: CRM(consents: [.newsletter: (.withdrawn, 30)], optedOut: true, optedOutAt: 30), action: .update,
            effects: [
                Effect(.consent(.newsletter), .toLocal, .consentNewest(.crm)),
                Effect(.optedOutOfAll, .toLocal, .optOutIsSticky),
            ], optOutToLocal: true),
        PlannerRow(
            name: "restriction: an unmarked CRM opt-out (a run died before the reply) is the subject's, taken",
            base: agreedOnEveryField([:]) + [.optedOutOfAll: "false", .consent(.newsletter): "granted"],
            local: Local(consents: [.newsletter: (.granted, 5, .local)], restricted: true),
            crm: CRM(consents: [.newsletter: (.withdrawn, 20)], optedOut: true, optedOutAt: 20), action: .update,
            effects: [
                Effect(.consent(.newsletter), .toLocal, .consentNewest(.crm)),
                Effect(.optedOutOfAll, .toLocal, .optOutIsSticky),
            ], optOutToLocal: true),
        PlannerRow(
            name: "restriction lifted: the register's grants are restored and end the spread opt-out",
            base: agreed + [.optedOutOfAll: "restriction", .consent(.newsletter): "granted"],
            local: Local(consents: [.newsletter: (.granted, 5, .local)]),
            crm: CRM(consents: [.newsletter: (.withdrawn, 20)], optedOut: true, optedOutAt: 20), action: .update,
            effects: [
                Effect(.consent(.newsletter), .toCRM, .consentRestoredAfterRestriction),
                Effect(.optedOutOfAll, .toCRM, .restrictionOptOutRemoved),
            ], consentToCRM: [.newsletter], baseAfter: [.optedOutOfAll: "false"]),
    ]

    static let records: [PlannerRow] = [
        PlannerRow(
            name: "a record only in the CRM is created locally", crm: CRM(fields: [.firstName: ("Aino", 5)]),
            action: .createLocal,
            effects: [Effect(.record, .toLocal, .onlyInCRM), Effect(.field(.firstName), .toLocal, .onlyInCRM)],
            baseAfter: [.field(.firstName): "Aino", .optedOutOfAll: "false"]),
        PlannerRow(
            name: "a contact only local is created in the CRM", local: Local(crmId: nil, fields: [.city: ("Oulu", 5)]),
            action: .createInCRM,
            effects: [Effect(.record, .toCRM, .onlyLocal), Effect(.field(.city), .toCRM, .onlyLocal)]),
        PlannerRow(
            name: "a restricted contact is not created in the CRM", local: Local(crmId: nil, restricted: true),
            action: .skip),
        PlannerRow(
            name: "erasure wins: an erased address in the CRM is GDPR deleted, never imported",
            crm: CRM(fields: [.firstName: ("Aino", 5)]), erased: true, action: .eraseInCRM,
            effects: [Effect(.record, .toCRM, .erasureWins)]),
        PlannerRow(
            name: "erasure wins: a record of an erased subject by its id, even matched to a contact", base: agreed,
            local: Local(), crm: CRM(), erasedRecord: true, action: .eraseInCRM,
            effects: [Effect(.record, .toCRM, .erasureWins)]),
        PlannerRow(
            name: "an archive in the CRM is recorded, not re-created", base: agreed, local: Local(),
            crm: CRM(archived: true), action: .recordArchive,
            effects: [Effect(.record, .toLocal, .archiveRecorded)]),
        PlannerRow(
            name: "an unlinked contact is matched by email", base: agreed, local: Local(crmId: nil, dirty: false),
            crm: CRM(crmId: "202"), action: .update, effects: [Effect(.crmId, .toLocal, .matchedByEmail)]),
        PlannerRow(
            name: "a link moved by a merge follows the survivor", base: agreed,
            local: Local(crmId: "101", dirty: false),
            crm: CRM(crmId: "303"), action: .update, effects: [Effect(.crmId, .toLocal, .mergedInCRM)]),
    ]

    static var agreed: [SyncKey: String?] { agreedNotOptedOut }

    /// A base that agreed on every field: `values`, the others empty.
    static func agreedOnEveryField(_ values: [ContactField: String]) -> [SyncKey: String?] {
        var base = agreed
        for field in ContactField.allCases where field != .email { base[.field(field)] = .some(values[field]) }
        return base
    }
}

extension Dictionary where Key == SyncKey, Value == String? {
    fileprivate static func + (a: Self, b: Self) -> Self { a.merging(b) { _, new in new } }
}

@Test func aContactWhoseRecordWasMergedIntoAnotherLocalContactsIsKeptForReview() {
    let planner = SyncPlanner(settings: SyncSettings(SyncConfiguration()), now: PlannerRow.time(100))
    let local = PlannerRow.Local(crmId: "101").state(base: PlannerRow.agreed)
    let plan = planner.planMergedAway(local, survivor: "303")
    #expect(plan.action == .recordMerge)
    #expect(plan.mergedIntoCrmId == "303")
    #expect(plan.changes.isEmpty && !plan.hasCRMWrites)
    #expect(plan.note == SyncPlanner.mergedForReview)
}

@Test func everyRuleCodesAsItsSentenceAndBack() throws {
    #expect(Set(SyncRule.all.map(\.description)).count == SyncRule.all.count, "sentences are unique")
    let encoded = try JSONEncoder().encode(SyncRule.all)
    #expect(try JSONDecoder().decode([SyncRule].self, from: encoded) == SyncRule.all)
    #expect(
        String(decoding: try JSONEncoder().encode([SyncRule.conflictNewest(.crm)]), as: UTF8.self)
            == #"["conflict: newest (crm)"]"#)
}
