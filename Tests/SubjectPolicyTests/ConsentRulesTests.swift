import Foundation
import PropertyBased
import SubjectPolicy
import SyncModel
import Testing

@Suite struct ConsentRulesTests {
    static func decide(
        _ register: StatedDecision?, _ crm: StatedDecision?, agreed: ConsentBase? = nil,
        subject: SubjectFacts = .init(
            registerOptOut: nil, isRestricted: false, crmOptedOut: false, crmOptedOutAt: nil, optOutBase: nil),
        takingCRMOptOut: Bool = false
    ) -> ConsentOutcome {
        ConsentRules.decide(
            register: register, crm: crm, agreed: agreed, subject: subject, takingCRMOptOut: takingCRMOptOut)
    }

    @Test func aGrantNeverGoesToHubSpotWhileRestrictedOrOptedOut() async {
        await propertyCheck(
            input: PolicyGen.stated.optional, PolicyGen.stated.optional, PolicyGen.subject, Gen.bool
        ) { register, crm, subject, taking in
            let outcome = ConsentRules.decide(
                register: register, crm: crm, agreed: nil, subject: subject, takingCRMOptOut: taking)
            if case .toCRM(.granted, _, _) = outcome {
                #expect(!subject.isRestricted && !subject.isOptedOut && !(subject.crmOptedOut && taking))
            }
        }
    }

    @Test func theEchoOfARestrictionSpreadIsNeverTakenAsTheSubjectsDecision() async {
        await propertyCheck(input: PolicyGen.stated.optional, PolicyGen.time, PolicyGen.subject) {
            register, at, subject in
            guard subject.isSpreadEcho(at) else { return }
            let outcome = ConsentRules.decide(
                register: register, crm: StatedDecision(.withdrawn, at: at), agreed: nil, subject: subject,
                takingCRMOptOut: false)
            if case .toRegister = outcome { Issue.record("the spread's echo was taken: \(outcome)") }
        }
    }

    @Test func unknownIsNeverSentOverADecisionNorTakenOverOne() async {
        await propertyCheck(input: PolicyGen.stated, PolicyGen.stated, PolicyGen.subject) { register, crm, subject in
            let outcome = ConsentRules.decide(
                register: register, crm: crm, agreed: nil, subject: subject, takingCRMOptOut: false)
            switch outcome {
            // The echo of a spread is not a decision: the register's `unknown` from before it goes back.
            case .toCRM(let state, let rule, _) where rule != .consentRestoredAfterRestriction:
                #expect(state != .unknown || crm.state == .unknown)
            case .toRegister: #expect(crm.state != .unknown)
            default: break
            }
        }
    }

    @Test func aStatusStillCarryingTheAgreedTimeNeverBeatsTheRegistersChange() async {
        await propertyCheck(input: PolicyGen.datedDecision, PolicyGen.datedDecision, PolicyGen.subject) {
            agreedStatement, register, subject in
            // The register's `unknown` is no change: it never competes (row 4).
            guard register.state != .unknown else { return }
            let agreed = ConsentBase(agreedStatement.state, crmAt: agreedStatement.at)
            let outcome = ConsentRules.decide(
                register: register, crm: agreedStatement, agreed: agreed, subject: subject, takingCRMOptOut: false)
            if case .toRegister(let rule, _) = outcome {
                Issue.record("HubSpot's unmoved status \(agreedStatement) was taken over \(register): \(rule)")
            }
        }
    }

    @Test func theBaseReadsBackWhatItStores() async {
        await propertyCheck(input: Gen<ConsentState>.case, PolicyGen.time.optional, PolicyGen.time.optional) {
            state, crmAt, registerAt in
            let base = ConsentBase(state, crmAt: crmAt, registerAt: registerAt)
            #expect(ConsentBase(stored: base.stored) == base)
        }
        #expect(ConsentBase(stored: "granted") == ConsentBase(.granted))
        #expect(ConsentBase(stored: "granted;crm=x") == nil)
        #expect(ConsentBase(stored: "maybe") == nil)
    }

    @Test func theTable() {
        let t1 = PolicyGen.time(1)
        let t2 = PolicyGen.time(2)
        let granted1 = StatedDecision(.granted, at: t1)
        let withdrawn2 = StatedDecision(.withdrawn, at: t2)
        // 1: the same on both sides.
        #expect(Self.decide(granted1, StatedDecision(.granted, at: t2)) == .agreed(.granted))
        // 4, 5: one side never decided.
        #expect(Self.decide(nil, withdrawn2) == .toRegister(.consentOnlyCRM, isConflict: false))
        #expect(Self.decide(withdrawn2, nil) == .toCRM(.withdrawn, .consentOnlyLocal, isConflict: false))
        // 6: the newer, a conflict when both moved away from the base.
        #expect(
            Self.decide(granted1, withdrawn2, agreed: ConsentBase(.unknown))
                == .toRegister(.consentNewest(.crm), isConflict: true))
        #expect(
            Self.decide(withdrawn2, granted1, agreed: ConsentBase(.granted))
                == .toCRM(.withdrawn, .consentNewest(.local), isConflict: false))
        // 7: the same time: the more restrictive.
        #expect(
            Self.decide(StatedDecision(.withdrawn, at: t1), granted1)
                == .toCRM(.withdrawn, .consentMoreRestrictiveOnTie, isConflict: true))
        // 6: one side still states what was agreed, at the agreed time: the other side moved, whatever the clocks.
        let pushedAt = PolicyGen.time(3)
        let pushed = ConsentBase(.granted, crmAt: pushedAt, registerAt: t1)
        #expect(
            Self.decide(StatedDecision(.withdrawn, at: t2), StatedDecision(.granted, at: pushedAt), agreed: pushed)
                == .toCRM(.withdrawn, .consentMovedOnOneSide(.local), isConflict: false))
        #expect(
            Self.decide(
                StatedDecision(.granted, at: PolicyGen.time(4)), StatedDecision(.withdrawn, at: PolicyGen.time(3.5)),
                agreed: ConsentBase(.granted, crmAt: pushedAt, registerAt: PolicyGen.time(4)))
                == .toRegister(.consentMovedOnOneSide(.crm), isConflict: false))
        // HubSpot's status dated before the agreement is not a change since it (another address's, after a merge):
        // newest wins.
        #expect(
            Self.decide(granted1, StatedDecision(.withdrawn, at: t1.addingTimeInterval(-1)), agreed: pushed)
                == .toCRM(.granted, .consentNewest(.local), isConflict: false))
        // Both moved: the newer, as a conflict.
        #expect(
            Self.decide(StatedDecision(.withdrawn, at: t2), StatedDecision(.withdrawn, at: pushedAt), agreed: pushed)
                == .agreed(.withdrawn))
        #expect(
            Self.decide(
                StatedDecision(.withdrawn, at: t2), StatedDecision(.unknown, at: PolicyGen.time(4)), agreed: pushed)
                == .toCRM(.withdrawn, .consentOnlyLocal, isConflict: false))
        // 2: the echo of a spread goes back once the restriction is lifted.
        let spread = SubjectFacts(
            registerOptOut: nil, isRestricted: false, crmOptedOut: true, crmOptedOutAt: t2,
            optOutBase: .spread(at: t2))
        #expect(
            Self.decide(granted1, withdrawn2, subject: spread)
                == .toCRM(.granted, .consentRestoredAfterRestriction, isConflict: false))
        var restricted = spread
        restricted.isRestricted = true
        #expect(Self.decide(granted1, withdrawn2, subject: restricted) == .unchanged(.spreadEchoWhileRestricted))
        // 3: a CRM grant during the register's opt-out.
        let optedOut = SubjectFacts(
            registerOptOut: Suppression(
                contactId: "c", kind: .optedOutOfAll, isActive: true, reason: nil, changedAt: t1, origin: .local),
            isRestricted: false, crmOptedOut: false, crmOptedOutAt: nil, optOutBase: .agreed(true))
        #expect(
            Self.decide(StatedDecision(.withdrawn, at: t1), StatedDecision(.granted, at: t2), subject: optedOut)
                == .unchanged(.crmGrantDuringOptOut))
    }
}
