import Foundation
import SyncMetrics
import Testing

@testable import SyncEngine

@Suite struct RunMetricsTests {
    static let start = Date(timeIntervalSince1970: 1_796_112_000)

    /// The value of one series in the exposition (`name{labels} value`), or nil when it is not there.
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func everySeriesIsThereFromTheStartAtZero() {
        let metrics = RunMetrics(period: .seconds(60), startedAt: Self.start)
        let text = metrics.exposition(register: nil, now: Self.start)
        for series in [
            #"crmsync_runs_total{outcome="succeeded"}"#, #"crmsync_runs_total{outcome="crm_unavailable"}"#,
            #"crmsync_contacts_changed_total{direction="to_crm",kind="create"}"#,
            #"crmsync_contacts_changed_total{direction="to_local",kind="opt_out"}"#, "crmsync_crm_requests_total",
            "crmsync_crm_rate_limited_total", "crmsync_crm_retries_total", "crmsync_crm_daily_budget_remaining",
            "crmsync_checkpoint_age_seconds", "crmsync_change_feed_lag_seconds", "crmsync_quarantined_contacts",
            "crmsync_erasures_pending", "crmsync_erasures_overdue", "crmsync_lease_held",
            "crmsync_last_success_timestamp_seconds", "crmsync_run_duration_seconds_count",
        ] {
            #expect(Self.value(text, series) == 0, "\(series)")
        }
    }

    @Test func aRunMovesItsCountersByWhatItsReportSays() {
        let metrics = RunMetrics(period: .seconds(60), startedAt: Self.start)
        var report = SyncReport(mode: .applied, startedAt: Self.start)
        report.summary.toCRM.creates = 3
        report.summary.toLocal.consentChanges = 2
        report.summary.toCRM.suppressions = 1
        report.cost.requestsSent = 17
        report.cost.rateLimited = 2
        report.cost.retries = 4
        report.cost.dailyBudgetRemaining = 249_000
        let now = Self.start.addingTimeInterval(30)
        metrics.runFinished(
            .succeeded, duration: .seconds(7), report: report, checkpoint: now.addingTimeInterval(-300), at: now)
        metrics.runFinished(.crmUnavailable, duration: .seconds(1), report: nil, checkpoint: nil, at: now)
        let text = metrics.exposition(
            register: .init(
                checkpoint: now.addingTimeInterval(-300), quarantined: 2, erasuresPending: 3, erasuresOverdue: 1),
            now: now.addingTimeInterval(60))
        #expect(Self.value(text, #"crmsync_contacts_changed_total{direction="to_crm",kind="create"}"#) == 3)
        #expect(Self.value(text, #"crmsync_contacts_changed_total{direction="to_local",kind="consent"}"#) == 2)
        #expect(Self.value(text, #"crmsync_contacts_changed_total{direction="to_crm",kind="opt_out"}"#) == 1)
        #expect(Self.value(text, #"crmsync_runs_total{outcome="succeeded"}"#) == 1)
        #expect(Self.value(text, #"crmsync_runs_total{outcome="crm_unavailable"}"#) == 1)
        #expect(Self.value(text, "crmsync_crm_requests_total") == 17)
        #expect(Self.value(text, "crmsync_crm_rate_limited_total") == 2)
        #expect(Self.value(text, "crmsync_crm_retries_total") == 4)
        #expect(Self.value(text, "crmsync_crm_daily_budget_remaining") == 249_000)
        #expect(Self.value(text, "crmsync_change_feed_lag_seconds") == 300)
        #expect(Self.value(text, "crmsync_checkpoint_age_seconds") == 360)
        #expect(Self.value(text, "crmsync_quarantined_contacts") == 2)
        #expect(Self.value(text, "crmsync_erasures_pending") == 3)
        #expect(Self.value(text, "crmsync_erasures_overdue") == 1)
        #expect(Self.value(text, "crmsync_run_duration_seconds_count") == 2)
        #expect(Self.value(text, "crmsync_last_success_timestamp_seconds") == now.timeIntervalSince1970)
        metrics.leaseHeld(true)
        #expect(Self.value(metrics.exposition(register: nil), "crmsync_lease_held") == 1)
        metrics.leaseHeld(false)
        #expect(Self.value(metrics.exposition(register: nil), "crmsync_lease_held") == 0)
    }

    /// Healthy while a run succeeded within two periods (and before the first run, for two periods from the start);
    /// unhealthy after two periods without one, naming the last outcome; healthy again after a good run.
    @Test func healthFollowsTheLastSuccessfulRunAgainstTwoPeriods() {
        let metrics = RunMetrics(period: .seconds(60), startedAt: Self.start)
        #expect(metrics.health(now: Self.start.addingTimeInterval(30)).healthy)
        let starting = metrics.health(now: Self.start.addingTimeInterval(121))
        #expect(!starting.healthy)
        #expect(starting.reason.hasPrefix("no successful run since the start"))
        metrics.runFinished(
            .succeeded, duration: .seconds(1), report: nil, checkpoint: nil, at: Self.start.addingTimeInterval(130))
        #expect(metrics.health(now: Self.start.addingTimeInterval(200)).healthy)
        metrics.runFinished(
            .crmUnavailable, duration: .seconds(1), report: nil, checkpoint: nil, at: Self.start.addingTimeInterval(200)
        )
        #expect(metrics.health(now: Self.start.addingTimeInterval(249)).healthy)
        let down = metrics.health(now: Self.start.addingTimeInterval(251))
        #expect(!down.healthy)
        #expect(down.reason == "no successful run for 121 s (two periods: 120 s); last run: crm_unavailable")
        metrics.runFinished(
            .partial, duration: .seconds(1), report: nil, checkpoint: nil, at: Self.start.addingTimeInterval(260))
        #expect(metrics.health(now: Self.start.addingTimeInterval(261)).healthy)
    }

    @Test func theListenAddressIsAHostAndPortOrAPortOnLoopback() {
        #expect(MetricsListener.address("9464")! == ("127.0.0.1", 9464))
        #expect(MetricsListener.address("0.0.0.0:9464")! == ("0.0.0.0", 9464))
        #expect(MetricsListener.address("[::1]:9464")! == ("::1", 9464))
        for bad in ["", ":9464", "host:", "host:70000", "host:port", "localhost"] {
            #expect(MetricsListener.address(bad) == nil, "\(bad)")
        }
    }
}
