import Foundation
import PropertyBased
import SubjectPolicy
import SyncModel
import Testing

@Suite struct ConsentPrecedenceTests {
    /// The current state the ledger keeps after recording `decisions` in this order.
    static func current(after decisions: [StatedDecision]) -> StatedDecision? {
        decisions.reduce(nil) { current, next in
            guard let current else { return next }
            return ConsentPrecedence.prevails(next, over: current) ? next : current
        }
    }

    @Test func theCurrentStateDoesNotDependOnTheOrderDecisionsArrive() async {
        await propertyCheck(input: PolicyGen.datedDecision.array(of: 1...8), Gen.int(in: 0...1000)) { decisions, seed in
            var rng = Xoshiro(seed: (UInt64(seed), 1, 2, 3))
            let shuffled = decisions.shuffled(using: &rng)
            #expect(Self.current(after: decisions)?.state == Self.current(after: shuffled)?.state)
        }
    }

    @Test func theNewestDecisionStandsAndOnATieTheMoreRestrictive() async {
        await propertyCheck(input: PolicyGen.datedDecision.array(of: 1...8)) { decisions in
            let made = decisions.filter { $0.state != .unknown }
            let expected = made.max { a, b in
                a.at! != b.at! ? a.at! < b.at! : a.state.restrictiveness < b.state.restrictiveness
            }
            let current = Self.current(after: decisions)
            if let expected {
                #expect(current?.state == expected.state && current?.at == expected.at)
            } else {
                #expect(current?.state == .unknown)
            }
        }
    }

    @Test func unknownNeverReplacesADecisionAndAnyDecisionReplacesUnknown() async {
        await propertyCheck(input: PolicyGen.stated, PolicyGen.stated) { a, b in
            if a.state == .unknown && b.state != .unknown { #expect(!ConsentPrecedence.prevails(a, over: b)) }
            if a.state != .unknown && b.state == .unknown { #expect(ConsentPrecedence.prevails(a, over: b)) }
        }
    }

    @Test func withoutATimeTheMoreRestrictiveStands() {
        let grant = StatedDecision(.granted, at: PolicyGen.time(4))
        let undatedWithdrawal = StatedDecision(.withdrawn, at: nil)
        #expect(ConsentPrecedence.prevails(undatedWithdrawal, over: grant))
        #expect(!ConsentPrecedence.prevails(grant, over: undatedWithdrawal))
    }
}
