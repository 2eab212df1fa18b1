import Foundation
import HubSpotClient
import Logging
import SyncModel
import SyncStore

/// Carries erasures through: recorded durably, erased locally (tombstone), GDPR-deleted in the CRM, then
/// verified by a read that must answer 404. Every step is resumable: a crash between any two leaves a
/// request whose state says what is left, and the next `erase` or sync run finishes it.
public struct ErasurePropagator: Sendable {
    let store: SyncStore
    let client: HubSpotClient
    let clock: any SyncClock
    let maxAttempts: Int
    let baseDelay: Duration

    public init(
        store: SyncStore, client: HubSpotClient, clock: any SyncClock = SystemClock(), maxAttempts: Int = 4,
        baseDelay: Duration = .milliseconds(500)
    ) {
        self.store = store
        self.client = client
        self.clock = clock
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
    }

    /// `crmsync erase`: records the request, erases locally, and (unless `propagate` is false) deletes in
    /// the CRM and verifies at once. Returns the request as it ended.
    public func erase(email: EmailAddress, requestId: String, reason: String?, propagate: Bool = true) async throws
        -> ErasureRequest
    {
        _ = try store.recordErasureRequest(email: email, requestId: requestId, reason: reason)
        try store.eraseLocally(requestId: requestId)
        if propagate, let pending = try store.pendingErasures().first(where: { $0.request.id == requestId }) {
            try await self.propagate(pending)
        }
        return try store.erasureRequest(id: requestId)!
    }

    /// Finishes every unfinished request; returns how many were verified and the failures (masked).
    @discardableResult
    public func resumeAll() async throws -> (verified: Int, failures: [String]) {
        var verified = 0
        var failures: [String] = []
        for pending in try store.pendingErasures() {
            try Task.checkCancellation()
            if try await propagate(pending) == .verified {
                verified += 1
            } else {
                failures.append("\(pending.email.masked): erasure \(pending.request.id) not yet verified in the CRM")
            }
        }
        return (verified, failures)
    }

    /// A stale CRM copy of an erased subject: a new request that goes straight to the CRM delete.
    func eraseStaleCopy(email: EmailAddress) async throws -> ErasureState {
        let id = "stale-\(store.subjectHash(of: email).prefix(12))-\(clock.now.millisecondsSince1970)"
        _ = try store.recordErasureRequest(email: email, requestId: id, reason: "stale CRM copy of an erased subject")
        try store.eraseLocally(requestId: id)
        guard let pending = try store.pendingErasures().first(where: { $0.request.id == id }) else { return .verified }
        return try await propagate(pending)
    }

    /// One request from wherever it stands to `verified` (or `failed`, to be retried later: the delete if it
    /// was never accepted, else only the verification read).
    @discardableResult
    func propagate(_ pending: PendingErasure) async throws -> ErasureState {
        let id = pending.request.id
        let email = pending.email.normalized
        if pending.request.state == .received { try store.eraseLocally(requestId: id) }
        // Once the CRM accepted a delete, later attempts only verify: a second delete by email that matches no
        // record any more would blocklist the address. A failed verification (index lag) keeps `sentAt`.
        var sent = pending.request.sentAt != nil
        var attempt = 0
        while true {
            attempt += 1
            do {
                if !sent {
                    try await client.gdprDelete(email: email)
                    try store.updateErasure(id, state: .sent)
                    sent = true
                }
                if try await client.isErased(email: email) {
                    try store.updateErasure(id, state: .verified)
                    return .verified
                }
                try store.updateErasure(
                    id, state: .failed, error: "still readable after the GDPR delete; verified again, not resent")
            } catch let error as HubSpotError where !error.isDailyLimit {
                try store.updateErasure(
                    id, state: .failed,
                    error: "\(error.category ?? "HTTP") \(error.status.map(String.init) ?? "no answer")")
                // An ambiguous failure: the delete may have gone through. Read before sending again.
                if !sent, (try? await client.isErased(email: email)) == true {
                    try store.updateErasure(id, state: .sent)
                    sent = true
                    continue
                }
            }
            guard attempt < maxAttempts else { return .failed }
            let factor = Int64(1) << Int64(min(attempt - 1, 10))
            try await clock.sleep(for: baseDelay * Int(factor))
        }
    }
}
