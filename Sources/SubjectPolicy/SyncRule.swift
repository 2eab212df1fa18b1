import SyncModel

/// The rule that decided one planned change: the README's "How a sync decides", one case per rule.
///
/// Reports show the sentence (``description``); counts and tests compare cases, never sentences, so
/// rewording a sentence changes no count.
public enum SyncRule: Hashable, Sendable, CustomStringConvertible {
    // Records and fields
    case onlyInCRM
    case onlyLocal
    case changedLocally
    case changedInCRM
    /// Both sides changed the field; `sync.conflicts` names the side.
    case conflictPolicy(ChangeOrigin)
    /// Both sides changed the field; the newer edit (this side's) wins.
    case conflictNewest(ChangeOrigin)
    /// Both sides changed the field at the same (or an unknown) time: the tie-breaker's side wins.
    case conflictTie(ChangeOrigin)
    case archiveRecorded
    case matchedByEmail
    case mergedInCRM
    case erasureWins
    // Consent
    case consentOnlyCRM
    case consentOnlyLocal
    case consentNewest(ChangeOrigin)
    /// One side still states what both agreed at the last sync, at the agreed time: the other side's change stands.
    case consentMovedOnOneSide(ChangeOrigin)
    case consentMoreRestrictiveOnTie
    case crmGrantDuringOptOutRefused
    case consentRestoredAfterRestriction
    case reConsentAfterOptOut
    // Opt-out and restriction
    case optOutIsSticky
    case restrictionSpread
    case restrictionOptOutRemoved
    case liftedByReConsent

    public var description: String {
        switch self {
        case .onlyInCRM: "only in the CRM"
        case .onlyLocal: "only local"
        case .changedLocally: "changed locally"
        case .changedInCRM: "changed in the CRM"
        case .conflictPolicy(let side): "conflict: policy \(side.rawValue)"
        case .conflictNewest(let side): "conflict: newest (\(side.rawValue))"
        case .conflictTie(let side): "conflict: tie, tie-breaker \(side.rawValue)"
        case .archiveRecorded: "archive recorded"
        case .matchedByEmail: "matched by email"
        case .mergedInCRM: "merged in the CRM"
        case .erasureWins: "erasure wins"
        case .consentOnlyCRM: "consent: only the CRM has a decision"
        case .consentOnlyLocal: "consent: only local has a decision"
        case .consentNewest(let side): "consent: newest (\(side.rawValue))"
        case .consentMovedOnOneSide(let side): "consent: changed on one side since the last sync (\(side.rawValue))"
        case .consentMoreRestrictiveOnTie: "consent: tie or unknown time, more restrictive wins"
        case .crmGrantDuringOptOutRefused: "consent: a CRM grant during the opt-out is refused"
        case .consentRestoredAfterRestriction: "restriction lifted: consent restored"
        case .reConsentAfterOptOut: "re-consent after the opt-out"
        case .optOutIsSticky: "opt-out is sticky"
        case .restrictionSpread: "restriction spread as suppression"
        case .restrictionOptOutRemoved: "restriction lifted: its opt-out removed"
        case .liftedByReConsent: "lifted by local re-consent after the opt-out"
        }
    }

    /// Every rule, for reading a sentence back.
    public static let all: [SyncRule] =
        [
            .onlyInCRM, .onlyLocal, .changedLocally, .changedInCRM, .archiveRecorded, .matchedByEmail, .mergedInCRM,
            .erasureWins, .consentOnlyCRM, .consentOnlyLocal, .consentMoreRestrictiveOnTie,
            .crmGrantDuringOptOutRefused, .consentRestoredAfterRestriction, .reConsentAfterOptOut, .optOutIsSticky,
            .restrictionSpread, .restrictionOptOutRemoved, .liftedByReConsent,
        ]
        + ChangeOrigin.allCases.flatMap {
            [
                SyncRule.conflictPolicy($0), .conflictNewest($0), .conflictTie($0), .consentNewest($0),
                .consentMovedOnOneSide($0),
            ]
        }
}

/// Coded as its sentence (Swift derives the coding of a `RawRepresentable`).
extension SyncRule: RawRepresentable, Codable {
    public var rawValue: String { description }

    public init?(rawValue: String) {
        guard let rule = Self.all.first(where: { $0.description == rawValue }) else { return nil }
        self = rule
    }
}
