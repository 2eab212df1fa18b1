/// Why a person's consent, opt-out or restriction changed: every rule, in one module.
///
/// The store, the importer, the planner and the checker ask these types; none of them decides on its own.
///
/// | question | where the answer lives |
/// |---|---|
/// | Which of two decisions about one purpose stands (the register's ledger, the register against HubSpot, a decision HubSpot holds for an address)? | ``ConsentPrecedence``: the newest; on the same or an unknown time the more restrictive; `unknown` is never a decision |
/// | Why did a purpose move between the register and HubSpot, or why not? | ``ConsentRules`` (its table), outcome ``ConsentOutcome`` |
/// | Why did the opt-out of all email move, and how is it lifted? | ``OptOutRules`` (its table), outcome ``OptOutOutcome`` |
/// | Is HubSpot's opt-out the subject's, or the restriction crmsync spread? | ``OptOutBase`` (`.agreed`, `.spreadForRestriction(at:)`), ``SubjectFacts`` |
/// | When is a decision made now dated, and which stored times are refused as in the future? | ``DecisionTime`` |
/// | Which sentence does a report print for a change? | ``SyncRule`` |
///
/// Erasure and retention are not consent rules and live with the code that carries them out (`ErasurePropagator`,
/// `RetentionSweep`); the README's "How a sync decides" lists them too.
public enum SubjectPolicy {}
