import Foundation
import PropertyBased
import SubjectPolicy
import SyncModel

/// Generators for the subject policy's inputs. Times come from a handful of seconds, so ties and equal times (the
/// cases the rules treat specially) are common.
enum PolicyGen {
    static func time(_ second: Double) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + second) }

    static let time = Gen.int(in: 0...4).map { PolicyGen.time(Double($0)) }

    static let stated = zip(Gen<ConsentState>.case, time.optional).map { state, at in StatedDecision(state, at: at) }

    static let datedDecision = zip(Gen<ConsentState>.case, time).map { state, at in StatedDecision(state, at: at) }

    static let registerOptOut = zip(Gen.bool, Gen<ChangeOrigin>.case, time).map { active, origin, at in
        Suppression(
            contactId: "c", kind: .optedOutOfAll, isActive: active, reason: nil, changedAt: at, origin: origin)
    }.optional

    static let optOutBase = Gen.int(in: 0...7).map { n -> OptOutBase? in
        switch n {
        case 0: nil
        case 1: .agreed(true)
        case 2: .agreed(false)
        case 3: .spreadForRestriction(atMilliseconds: nil)
        default: .spread(at: time(Double(n - 4)))
        }
    }

    static let subject = zip(registerOptOut, Gen.bool, Gen.bool, time.optional, optOutBase).map { input in
        SubjectFacts(
            registerOptOut: input.0, isRestricted: input.1, crmOptedOut: input.2, crmOptedOutAt: input.3,
            optOutBase: input.4)
    }
}
