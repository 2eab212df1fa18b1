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
    /// A CRM user merges the subject's record into `into`'s (the survivor keeps `into`'s address).
    case crmMerge(subject: Int, into: Int)
    /// Someone GDPR-deletes the subject's record in HubSpot, not through crmsync.
    case crmDeleteByOther(subject: Int)
    /// The subject comes back through a form: a new record under the address of one archived or deleted in
    /// the CRM, opting out of all email there when `optOut`.
    case crmRecreateByForm(subject: Int, optOut: Bool)
    /// An administrator backs the store up (the backup `restoreBackup` later puts back).
    case backupStore
    /// The last backup of the store is put back in place of the store.
    case restoreBackup
    /// NTP steps the host's clock by `seconds` (for command-line decisions and syncs from now on).
    case hostClockStep(seconds: Int)
    /// The retention job, with every contact inactive since the cutoff; `crmMovedOn`: a CRM user edits one
    /// candidate's record after the candidates were listed.
    case retention(crmMovedOn: Int?)
    /// The subject's address is internationalised for the whole history (emitted first): `domain` an IDN domain
    /// the CRM spells in Unicode and the register in ASCII (or the reverse with `crmUnicode` false), or a
    /// non-ASCII local part.
    case internationalAddress(subject: Int, domain: Bool, crmUnicode: Bool)
    /// From now on the portal requires a last name on every write, and HubSpot refuses per input (207).
    case perInputRefusal

    public static let subjects = 3
    public static let purposes: [Purpose] = [.newsletter, .marketingEmail, .eventInvitations, .blog]
    static let cities = ["Oulu", "Turku", "Tampere", "Espoo"]

    /// How this history spells internationalised subjects (set by ``ModelChecker/run(_:in:faults:)``).
    @TaskLocal static var international: [Int: (domain: Bool, crmUnicode: Bool)] = [:]

    /// The subject's address in canonical form (the register's key).
    public static func email(_ subject: Int) -> String { spelling(subject, alternate: false, unicode: false) }
    /// The address a CRM user may move the subject to, in canonical form.
    public static func alternateEmail(_ subject: Int) -> String {
        spelling(subject, alternate: true, unicode: false)
    }
    /// How the CRM side spells the subject's address (its form, its users).
    static func crmSpelling(_ subject: Int, alternate: Bool = false) -> String {
        spelling(subject, alternate: alternate, unicode: international[subject]?.crmUnicode ?? false)
    }
    /// How the register's side spells it (imports, the command line).
    static func localSpelling(_ subject: Int, alternate: Bool = false) -> String {
        spelling(subject, alternate: alternate, unicode: !(international[subject]?.crmUnicode ?? true))
    }
    /// Every spelling of one of the subject's addresses another system may hold.
    static func spellings(of canonical: String) -> [String] {
        (try? EmailAddress(canonical))?.spellings ?? [canonical]
    }

    private static func spelling(_ subject: Int, alternate: Bool, unicode: Bool) -> String {
        let local = "p\(subject)\(alternate ? ".new" : "")"
        switch international[subject] {
        case nil: return "\(local)@example.fi"
        case (false, _)?: return "\(local)ä@example.fi"
        case (true, _)?: return "\(local)@\(unicode ? "bücher.fi" : "xn--bcher-kva.fi")"
        }
    }

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
        case .crmMerge(let s, let t): "crmMerge(p\(s) into p\(t))"
        case .crmDeleteByOther(let s): "crmDeleteByOther(p\(s))"
        case .crmRecreateByForm(let s, let out): "crmRecreateByForm(p\(s)\(out ? ", opted out" : ""))"
        case .backupStore: "backupStore"
        case .restoreBackup: "restoreBackup"
        case .hostClockStep(let seconds): "hostClockStep(\(seconds > 0 ? "+" : "")\(seconds) s)"
        case .retention(let moved): "retention\(moved.map { "(p\($0) active in the CRM)" } ?? "")"
        case .internationalAddress(let s, let domain, let crmUnicode):
            "internationalAddress(p\(s), \(domain ? "IDN domain, CRM in \(crmUnicode ? "Unicode" : "ASCII")" : "non-ASCII local part"))"
        case .perInputRefusal: "perInputRefusal"
        }
    }

    /// A random history of `length` operations from `generator`: a few subjects created first (on either
    /// side), then edits, consent, opt-outs, restrictions, erasures, syncs, dry runs and crashes.
    public static func history(length: Int, using generator: inout some RandomNumberGenerator) -> [CheckOperation] {
        var history: [CheckOperation] = []
        if Int.random(in: 0..<4, using: &generator) == 0 {
            history.append(
                .internationalAddress(
                    subject: Int.random(in: 0..<subjects, using: &generator),
                    domain: Int.random(in: 0..<3, using: &generator) != 0, crmUnicode: Bool.random(using: &generator)))
        }
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
        switch Int.random(in: 0..<116, using: &g) {
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
        case 94..<100: return .crashingSync(afterMutations: Int.random(in: 0...3, using: &g))
        case 100..<102:
            return .crmMerge(subject: s, into: (s + Int.random(in: 1..<subjects, using: &g)) % subjects)
        case 102..<104: return .crmDeleteByOther(subject: s)
        case 104..<107: return .crmRecreateByForm(subject: s, optOut: Bool.random(using: &g))
        case 107..<109: return .backupStore
        case 109..<111: return .restoreBackup
        case 111..<113: return .hostClockStep(seconds: [-600, 600].randomElement(using: &g)!)
        case 113..<115: return .retention(crmMovedOn: Bool.random(using: &g) ? s : nil)
        default: return .perInputRefusal
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
