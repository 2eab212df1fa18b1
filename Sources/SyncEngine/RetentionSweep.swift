import Foundation
import SyncModel
import SyncStore

/// What a retention run did.
public struct RetentionOutcome: Sendable, Equatable {
    /// Subjects erased here (and sent to the CRM) by this run.
    public var erased = 0
    /// Of those, verified in the CRM.
    public var verified = 0
    /// Requests an earlier run left unfinished that this run verified.
    public var resumed = 0

    public init() {}
}

extension ErasurePropagator {
    /// The request id of a retention erasure: `retention-<day>-<subject hash prefix>`. One per subject, so a
    /// rerun on the same day (after an aborted run, or for contacts newly due) erases what is due and never
    /// takes another subject's request for its own; no personal data.
    public func retentionRequestId(for email: EmailAddress, on day: Date) -> String {
        "retention-\(day.formatted(.iso8601.year().month().day()))-\(store.subjectHash(of: email).prefix(12))"
    }

    /// `crmsync retention`: finishes what an earlier (perhaps aborted) run left, then erases each candidate
    /// through the same path as `crmsync erase`.
    public func eraseForRetention(_ candidates: [EmailAddress], months: Int, on day: Date) async throws
        -> RetentionOutcome
    {
        var outcome = RetentionOutcome()
        outcome.resumed = try await resumeAll().verified
        for email in candidates {
            try Task.checkCancellation()
            let request = try await erase(
                email: email, requestId: retentionRequestId(for: email, on: day),
                reason: "retention: marketing-only, inactive \(months) months")
            outcome.erased += 1
            if request.state == .verified { outcome.verified += 1 }
        }
        return outcome
    }
}
