import Foundation
import SyncModel

/// One event of a generated history: an edit on either side, a sync, a dry run, a crash.
///
/// Subjects are drawn from a small pool so that histories collide: the same person edited on both sides,
/// erased after an email change, re-consented after an opt-out.
public enum CheckOperation: Sendable, Equatable, CustomStringConvertible {
    case localCreate(subject: Int, lastName: Bool)
    case localEdit(subject: Int, city: Int)
    case importConsent(subject: Int, purpose: Int, word: String)
    case crmCreate(subject: Int)
    case crmEdit(subject: Int, city: Int)
    case crmEmailChange(subject: Int)
    case crmArchive(subject: Int)
    case localGrant(subject: Int, purpose: Int)
    case localWithdraw(subject: Int, purpose: Int)
    case crmSubscription(subject: Int, purpose: Int, subscribed: Bool)
    case localOptOut(subject: Int)
    case crmOptOut(subject: Int)
    case liftOptOut(subject: Int, purpose: Int)
    case restrict(subject: Int)
    case liftRestriction(subject: Int)
    case erase(subject: Int, wait: Bool)
    case sync
    case dryRunThenSync
    /// A sync whose process dies after `afterMutations` mutating requests went through.
    case crashingSync(afterMutations: Int)
    /// A sync on a host whose clock is `seconds` ahead of HubSpot's (behind, when negative).
    case skewedSync(seconds: Int)
    /// From now on the search index trails writes by `milliseconds` (less than the consistency horizon).
    case indexLag(milliseconds: Int)

    public static let subjects = 3
    public static let purposes: [Purpose] = [.newsletter, .marketingEmail, .eventInvitations, .blog]
    static let cities = ["Oulu", "Turku", "Tampere", "Espoo"]

    public static func email(_ subject: Int) -> String { "p\(subject)@example.fi" }
    public static func alternateEmail(_ subject: Int) -> String { "p\(subject).new@example.fi" }

    public var description: String {
        switch self {
        case .localCreate(let s, let last): "localCreate(p\(s)\(last ? "" : ", no last name"))"
        case .localEdit(let s, let c): "localEdit(p\(s), city \(Self.cities[c]))"
        case .importConsent(let s, let p, let w): "importConsent(p\(s), \(Self.purposes[p].rawValue), \(w))"
        case .crmCreate(let s): "crmCreate(p\(s))"
        case .crmEdit(let s, let c): "crmEdit(p\(s), city \(Self.cities[c]))"
        case .crmEmailChange(let s): "crmEmailChange(p\(s))"
        case .crmArchive(let s): "crmArchive(p\(s))"
        case .localGrant(let s, let p): "localGrant(p\(s), \(Self.purposes[p].rawValue))"
        case .localWithdraw(let s, let p): "localWithdraw(p\(s), \(Self.purposes[p].rawValue))"
        case .crmSubscription(let s, let p, let on): "crmSubscription(p\(s), \(Self.purposes[p].rawValue), \(on))"
        case .localOptOut(let s): "localOptOut(p\(s))"
        case .crmOptOut(let s): "crmOptOut(p\(s))"
        case .liftOptOut(let s, let p): "liftOptOut(p\(s), \(Self.purposes[p].rawValue))"
        case .restrict(let s): "restrict(p\(s))"
        case .liftRestriction(let s): "liftRestriction(p\(s))"
        case .erase(let s, let wait): "erase(p\(s)\(wait ? "" : ", --no-wait"))"
        case .sync: "sync"
        case .dryRunThenSync: "dryRunThenSync"
        case .crashingSync(let k): "crashingSync(after \(k) writes)"
        case .skewedSync(let seconds): "skewedSync(\(seconds > 0 ? "+" : "")\(seconds) s)"
        case .indexLag(let ms): "indexLag(\(ms) ms)"
        }
    }

    /// A random history of `length` operations from `generator`: a few subjects created first (on either
    /// side), then edits, consent, opt-outs, restrictions, erasures, syncs, dry runs and crashes.
    public static func history(length: Int, using generator: inout some RandomNumberGenerator) -> [CheckOperation] {
        var history: [CheckOperation] = []
        for subject in 0..<subjects where Int.random(in: 0..<3, using: &generator) != 0 {
            history.append(
                Bool.random(using: &generator)
                    ? .localCreate(subject: subject, lastName: true) : .crmCreate(subject: subject))
        }
        if Bool.random(using: &generator) { history.append(.sync) }
        while history.count < length { history.append(random(using: &generator)) }
        return history
    }

    static func random(using g: inout some RandomNumberGenerator) -> CheckOperation {
        let s = Int.random(in: 0..<subjects, using: &g)
        let p = Int.random(in: 0..<purposes.count, using: &g)
        let c = Int.random(in: 0..<cities.count, using: &g)
        switch Int.random(in: 0..<100, using: &g) {
        case 0..<5: return .localCreate(subject: s, lastName: Int.random(in: 0..<5, using: &g) != 0)
        case 5..<10: return .localEdit(subject: s, city: c)
        case 10..<13:
            return .importConsent(
                subject: s, purpose: p, word: ["granted", "withdrawn", "unknown"].randomElement(using: &g)!)
        case 13..<17: return .crmCreate(subject: s)
        case 17..<22: return .crmEdit(subject: s, city: c)
        case 22..<25: return .crmEmailChange(subject: s)
        case 25..<27: return .crmArchive(subject: s)
        case 27..<36: return .localGrant(subject: s, purpose: p)
        case 36..<41: return .localWithdraw(subject: s, purpose: p)
        case 41..<47: return .crmSubscription(subject: s, purpose: p, subscribed: Bool.random(using: &g))
        case 47..<51: return .localOptOut(subject: s)
        case 51..<53: return .crmOptOut(subject: s)
        case 53..<58: return .liftOptOut(subject: s, purpose: p)
        case 58..<61: return .restrict(subject: s)
        case 61..<64: return .liftRestriction(subject: s)
        case 64..<68: return .erase(subject: s, wait: Bool.random(using: &g))
        case 68..<83: return .sync
        case 83..<86: return .skewedSync(seconds: [-600, -90, 90, 600].randomElement(using: &g)!)
        case 86..<92: return .dryRunThenSync
        case 92..<94: return .indexLag(milliseconds: [0, 200, 600].randomElement(using: &g)!)
        default: return .crashingSync(afterMutations: Int.random(in: 0...3, using: &g))
        }
    }
}

/// SplitMix64: a seeded generator, so a seed replays its history exactly.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
