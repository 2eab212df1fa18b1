import Foundation
import Metrics
import Prometheus
import SyncEngine
import SyncModel
import Synchronization

/// What `crmsync run` exports for Prometheus, through swift-metrics: each run's outcome, duration, changes and
/// requests (recorded when the run ends), whether this process holds the writer lease (while a run holds it), and the
/// register's state read at each scrape (checkpoint age, quarantine, erasures pending and overdue). Labels name only
/// outcomes, directions and kinds: no personal data.
///
/// It owns its registry (no global bootstrap), so a test or a second daemon in one process gets its own.
public final class RunMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    /// The schedule's period: `/health` fails once no run has succeeded for two of them.
    public let period: Duration
    private let state: Mutex<State>

    struct State {
        var startedAt: Date
        var lastSuccess: Date?
        var lastOutcome: ScheduledOutcome?
        var lastRunEnd: Date?
        var leaseHeld = false
    }

    /// Every metric, by name (the README documents them).
    enum Name {
        static let runs = "crmsync_runs_total"
        static let runDuration = "crmsync_run_duration_seconds"
        static let contactsChanged = "crmsync_contacts_changed_total"
        static let requests = "crmsync_crm_requests_total"
        static let rateLimited = "crmsync_crm_rate_limited_total"
        static let retries = "crmsync_crm_retries_total"
        static let dailyBudget = "crmsync_crm_daily_budget_remaining"
        static let checkpointAge = "crmsync_checkpoint_age_seconds"
        static let feedLag = "crmsync_change_feed_lag_seconds"
        static let quarantined = "crmsync_quarantined_contacts"
        static let erasuresPending = "crmsync_erasures_pending"
        static let erasuresOverdue = "crmsync_erasures_overdue"
        static let leaseHeld = "crmsync_lease_held"
        static let lastSuccess = "crmsync_last_success_timestamp_seconds"
    }

    static let outcomes: [(ScheduledOutcome, String)] = [
        (.succeeded, "succeeded"), (.partial, "partial"), (.crmUnavailable, "crm_unavailable"),
        (.leaseHeld, "lease_held"), (.failed, "failed"),
    ]
    static let kinds = ["create", "update", "consent", "opt_out", "erasure"]
    static let directions = ["to_crm", "to_local"]

    public init(period: Duration, startedAt: Date = Date()) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[Name.runDuration] = [1, 5, 15, 60, 300, 900, 3600].map(Duration.seconds)
        self.factory = factory
        self.period = period
        state = Mutex(State(startedAt: startedAt))
        // Every series exists from the start, at zero: an alert on a counter's increase needs its first value.
        for (_, outcome) in Self.outcomes { _ = counter(Name.runs, [("outcome", outcome)]) }
        for direction in Self.directions {
            for kind in Self.kinds { _ = counter(Name.contactsChanged, [("direction", direction), ("kind", kind)]) }
        }
        for name in [Name.requests, Name.rateLimited, Name.retries] { _ = counter(name) }
        for name in [
            Name.dailyBudget, Name.checkpointAge, Name.feedLag, Name.quarantined, Name.erasuresPending,
            Name.erasuresOverdue, Name.leaseHeld, Name.lastSuccess,
        ] {
            gauge(name).record(0)
        }
        _ = Metrics.Timer(label: Name.runDuration, factory: factory)
    }

    private func counter(_ name: String, _ dimensions: [(String, String)] = []) -> Metrics.Counter {
        Metrics.Counter(label: name, dimensions: dimensions, factory: factory)
    }

    private func gauge(_ name: String) -> Metrics.Gauge { Metrics.Gauge(label: name, factory: factory) }

    /// A run took the writer lease (`true`) or let it go.
    public func leaseHeld(_ held: Bool) {
        state.withLock { $0.leaseHeld = held }
        gauge(Name.leaseHeld).record(held ? 1 : 0)
    }

    /// One scheduled run ended: its outcome, how long it took, and (when it got as far) its report.
    public func runFinished(
        _ outcome: ScheduledOutcome, duration: Duration, report: SyncReport?, checkpoint: Date?, at now: Date = Date()
    ) {
        let name = Self.outcomes.first { $0.0 == outcome }?.1 ?? "failed"
        counter(Name.runs, [("outcome", name)]).increment()
        Metrics.Timer(label: Name.runDuration, factory: factory).recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        let succeeded = outcome == .succeeded || outcome == .partial
        state.withLock { state in
            state.lastOutcome = outcome
            state.lastRunEnd = now
            if succeeded { state.lastSuccess = now }
        }
        if succeeded { gauge(Name.lastSuccess).record(now.timeIntervalSince1970) }
        guard let report else { return }
        for (direction, counts) in [("to_crm", report.summary.toCRM), ("to_local", report.summary.toLocal)] {
            let byKind = [
                ("create", counts.creates), ("update", counts.updates), ("consent", counts.consentChanges),
                ("opt_out", counts.suppressions), ("erasure", counts.erasures),
            ]
            for (kind, count) in byKind where count > 0 {
                counter(Name.contactsChanged, [("direction", direction), ("kind", kind)]).increment(by: count)
            }
        }
        counter(Name.requests).increment(by: report.cost.requestsSent)
        counter(Name.rateLimited).increment(by: report.cost.rateLimited)
        counter(Name.retries).increment(by: report.cost.retries)
        gauge(Name.dailyBudget).record(report.cost.dailyBudgetRemaining)
        if let checkpoint { gauge(Name.feedLag).record(max(0, now.timeIntervalSince(checkpoint))) }
    }

    /// The register's state as a scrape reads it.
    public struct RegisterState: Sendable, Equatable {
        public var checkpoint: Date?
        public var quarantined: Int
        public var erasuresPending: Int
        public var erasuresOverdue: Int

        public init(checkpoint: Date?, quarantined: Int, erasuresPending: Int, erasuresOverdue: Int) {
            self.checkpoint = checkpoint
            self.quarantined = quarantined
            self.erasuresPending = erasuresPending
            self.erasuresOverdue = erasuresOverdue
        }
    }

    /// The Prometheus text for a scrape at `now`, with the register's state as read then.
    public func exposition(register: RegisterState?, now: Date = Date()) -> String {
        if let register {
            gauge(Name.checkpointAge).record(register.checkpoint.map { max(0, now.timeIntervalSince($0)) } ?? 0)
            gauge(Name.quarantined).record(register.quarantined)
            gauge(Name.erasuresPending).record(register.erasuresPending)
            gauge(Name.erasuresOverdue).record(register.erasuresOverdue)
        }
        return registry.emitToString()
    }

    /// `/health`: healthy while a run succeeded within two periods (or, before the first one, while the process has
    /// run for less than two), with a one-line reason either way.
    public func health(now: Date = Date()) -> (healthy: Bool, reason: String) {
        let state = state.withLock { $0 }
        let limit = period.inSeconds * 2
        guard let lastSuccess = state.lastSuccess else {
            let waited = now.timeIntervalSince(state.startedAt)
            return waited < limit
                ? (true, "starting: no run finished yet")
                : (false, "no successful run since the start \(Int(waited)) s ago\(Self.last(state.lastOutcome))")
        }
        let age = now.timeIntervalSince(lastSuccess)
        return age < limit
            ? (true, "ok: last successful run \(Int(age)) s ago")
            : (
                false,
                "no successful run for \(Int(age)) s (two periods: \(Int(limit)) s)\(Self.last(state.lastOutcome))"
            )
    }

    private static func last(_ outcome: ScheduledOutcome?) -> String {
        guard let outcome, let name = outcomes.first(where: { $0.0 == outcome })?.1 else { return "" }
        return "; last run: \(name)"
    }
}
