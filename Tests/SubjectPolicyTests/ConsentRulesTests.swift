import Foundation
import PropertyBased
import SubjectPolicy
import SyncModel
import Testing

@Suite struct ConsentRulesTests {
    static func decide(
        _ register: StatedDecision?, _ crm: StatedDecision?, agreed: ConsentState? = nil,
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
            Self.decide(granted1, withdrawn2, agreed: .unknown) == .toRegister(.consentNewest(.crm), isConflict: true))
        #expect(
            Self.decide(withdrawn2, granted1, agreed: .granted)
                == .toCRM(.withdrawn, .consentNewest(.local), isConflict: false))
        // 7: the same time: the more restrictive.
        #expect(
            Self.decide(StatedDecision(.withdrawn, at: t1), granted1)
                == .toCRM(.withdrawn, .consentMoreRestrictiveOnTie, isConflict: true))
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
