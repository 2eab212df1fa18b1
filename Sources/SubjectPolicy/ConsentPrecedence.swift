import Foundation
import SyncModel

/// One side's statement about one purpose: the state and, where that side knows it, when it was decided.
public struct StatedDecision: Sendable, Hashable {
    public var state: ConsentState
    /// Nil: the side gives no time (the statement is still a decision unless its state is `unknown`).
    public var at: Date?

    public init(_ state: ConsentState, at: Date?) {
        self.state = state
        self.at = at
    }
}

/// "Newest wins": which of two statements about one purpose stands. The register's ledger asks it for the current
/// state of a purpose, the planner for the winner between the register and the CRM, and the planner again for a
/// decision HubSpot holds for an address.
///
/// | candidate | incumbent | stands |
/// |---|---|---|
/// | `unknown` | a decision | the incumbent: `unknown` is never a decision |
/// | a decision | `unknown` | the candidate |
/// | dated | dated differently | the newer |
/// | same time, or either undated | | the more restrictive (withdrawn over unknown over granted); on a full tie the incumbent |
public enum ConsentPrecedence {
    /// Whether `candidate` replaces `incumbent` by the table above.
    public static func prevails(_ candidate: StatedDecision, over incumbent: StatedDecision) -> Bool {
        if candidate.state == .unknown && incumbent.state != .unknown { return false }
        if incumbent.state == .unknown && candidate.state != .unknown { return true }
        if let candidateAt = candidate.at, let incumbentAt = incumbent.at, candidateAt != incumbentAt {
            return candidateAt > incumbentAt
        }
        return candidate.state.restrictiveness > incumbent.state.restrictiveness
    }
}

extension ConsentEvent {
    /// The event as a statement for ``ConsentPrecedence``.
    public var stated: StatedDecision { StatedDecision(state, at: occurredAt) }
}
