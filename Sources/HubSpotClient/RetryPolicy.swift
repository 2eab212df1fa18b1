import Foundation
import SyncModel

/// Exponential backoff with full jitter: attempt n waits a uniform time in [0, min(maxDelay, base × 2ⁿ)].
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int, baseDelay: Duration, maxDelay: Duration) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The delay before retry number `retry` (1 for the first retry), with `unit` a uniform draw in [0, 1).
    public func delay(beforeRetry retry: Int, unit: Double) -> Duration {
        let ceiling = min(maxDelay.inMilliseconds, baseDelay.inMilliseconds * pow(2, Double(max(0, retry - 1))))
        return .milliseconds(Int64(ceiling * unit))
    }
}

/// Whether a request may be sent again when its outcome is unknown (a 5xx, a timeout, a broken connection).
public enum ReplaySafety: Sendable {
    /// Reads, upserts by email, v4 status writes, unsubscribe-all: sending twice does no harm.
    case idempotent
    /// Creates, merges, GDPR deletes: only retried when HubSpot certainly did not process them (429,
    /// connection refused).
    case unsafe
}
