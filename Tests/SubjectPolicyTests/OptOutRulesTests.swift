import Foundation
import PropertyBased
import SubjectPolicy
import SyncModel
import Testing

@Suite struct OptOutRulesTests {
    /// (HubSpot's own opt-out coming into the register is fine: it leaves HubSpot opted out.)
    @Test func aRestrictedOrOptedOutSubjectLeavesHubSpotOptedOut() async {
        await propertyCheck(input: PolicyGen.subject, Gen.bool, Gen.bool) { subject, grant, restoring in
            let outcome = OptOutRules.decide(subject, restoresGrant: grant, restoresAfterSpread: restoring)
            guard subject.isRestricted || subject.isOptedOut else { return }
            switch outcome {
            case .spreadLifted, .liftedByReConsent:
                Issue.record("HubSpot's opt-out would end for a restricted or opted-out subject: \(outcome)")
            case .toCRM: #expect(!subject.crmOptedOut)
            case .agreed(let base?): #expect(base != .agreed(false))
            default: break
            }
        }
    }

    @Test func onlyARegisterReConsentAfterItOrTheEndOfItsOwnSpreadLiftsHubSpotsOptOut() async {
        await propertyCheck(input: PolicyGen.subject, Gen.bool, Gen.bool) { subject, grant, restoring in
            switch OptOutRules.decide(subject, restoresGrant: grant, restoresAfterSpread: restoring) {
            case .liftedByReConsent(let since):
                #expect(subject.crmOptedOutAt == since && subject.isLiftedHere(after: since))
            case .spreadLifted:
                #expect(subject.crmOptOutIsSpread && grant)
            default: break
            }
        }
    }

    @Test func theSubjectsOwnOptOutInHubSpotComesIn() async {
        await propertyCheck(input: PolicyGen.subject) { subject in
            guard subject.crmOptedOut, !subject.isOptedOut, !subject.crmOptOutIsSpread,
                !(subject.crmOptedOutAt.map(subject.isLiftedHere(after:)) ?? false)
            else { return }
            #expect(OptOutRules.decide(subject, restoresGrant: true, restoresAfterSpread: false) == .toRegister)
        }
    }

    @Test func theBaseReadsBackWhatItStores() async {
        await propertyCheck(input: PolicyGen.optOutBase) { base in
            guard let base else { return }
            #expect(OptOutBase(stored: base.stored) == base)
        }
        #expect(OptOutBase(stored: "restriction@1800000000000") == .spread(at: PolicyGen.time(0)))
        #expect(OptOutBase(stored: "restriction") == .spreadForRestriction(atMilliseconds: nil))
        #expect(OptOutBase(stored: "restriction@soon") == nil)
        #expect(OptOutBase(stored: nil) == nil)
    }

    @Test func aSpreadIsKnownByItsMarkedTimeOnly() {
        let base = OptOutBase.spread(at: PolicyGen.time(2))
        #expect(base.isSpread(crmOptedOut: true, crmOptedOutAt: PolicyGen.time(2)))
        #expect(!base.isSpread(crmOptedOut: true, crmOptedOutAt: PolicyGen.time(3)))
        #expect(!base.isSpread(crmOptedOut: true, crmOptedOutAt: nil))
        #expect(OptOutBase.spreadForRestriction(atMilliseconds: nil).isSpread(crmOptedOut: true, crmOptedOutAt: nil))
        #expect(base.isEcho(withdrawnAt: PolicyGen.time(2), crmOptedOut: false, crmOptedOutAt: nil))
        #expect(!base.isEcho(withdrawnAt: PolicyGen.time(3), crmOptedOut: true, crmOptedOutAt: PolicyGen.time(2)))
    }
}
