import ArgumentParser
import Foundation
import HubSpotClient
import Logging
import ServiceLifecycle
import SyncCore
import SyncEngine
import SyncMetrics
import SyncModel
import SyncStore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the two-way sync on a schedule until SIGTERM or SIGINT (a long-running service).",
        discussion: """
            Each run takes the writer lease (a run from cron or a terminal at the same time waits its turn), \
            finishes erasures left unfinished, and syncs. While the CRM is unreachable the wait doubles, up to \
            four periods. SIGTERM or SIGINT stop the current run between batches: the checkpoint stays where it \
            was and what the CRM did not confirm stays unsynced, so the next run converges.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Period, e.g. 15m (default: schedule.every in sync.json).") var every: String?
    @Option(help: "Random extra wait up to this, e.g. 30s (default: schedule.jitter).") var jitter: String?
    @Option(help: "Requests a daily reconcile (drift report in the log) may spend; 0 turns it off.")
    var reconcileBudget: Int = 2_000
    @Option(
        help: """
            Serve Prometheus metrics at /metrics and a health check at /health on HOST:PORT (a port alone:             127.0.0.1). Off unless given.
            """)
    var metrics: String?

    func run() async throws {
        let context = try CommandContext(global)
        let period = try Self.duration(every, option: "--every") ?? context.configuration.schedule.every
        let spread =
            try Self.duration(jitter, option: "--jitter", allowsZero: true) ?? context.configuration.schedule.jitter
        let listen = try metrics.map { text in
            guard let address = MetricsListener.address(text) else {
                throw CommandContext.fail(.usage, "--metrics: must be HOST:PORT or a port, e.g. 127.0.0.1:9464")
            }
            return address
        }
        let store = try context.openStore()
        let client = try context.client()
        let settings = SyncSettings(context.configuration)
        // Each run writes through the store fenced by that run's lease.
        let engine: @Sendable (SyncStore) -> SyncEngine = { fenced in
            SyncEngine(
                store: ThreadedRegister(fenced), client: client, settings: settings,
                logger: Logger(label: "crmsync.engine"))
        }
        var logger = Logger(label: "crmsync.run")
        logger.logLevel = .info
        let runMetrics = RunMetrics(period: period.duration)
        let reconciler =
            reconcileBudget > 0
            ? DailyReconcile(
                reconciler: Reconciler(
                    store: ThreadedRegister(store), client: try context.client(),
                    settings: SyncSettings(context.configuration),
                    logger: Logger(label: "crmsync.reconcile")),
                budget: reconcileBudget)
            : nil
        let service = ScheduledSync(
            engine: engine, store: store, reconcile: reconciler,
            lease: WriterLease(store: store),
            scheduler: SyncScheduler(every: period.duration, jitter: spread.duration), actor: "run:\(context.actor)",
            logger: logger, metrics: runMetrics)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
        if let listen {
            services.append(
                .init(
                    service: MetricsListener(
                        metrics: runMetrics, host: listen.host, port: listen.port, logger: logger,
                        register: { await ScheduledSync.registerState(of: store) })))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.notice("crmsync run started", metadata: ["schedule.every": "\(period)", "schedule.jitter": "\(spread)"])
        try await group.run()
        logger.notice("crmsync run stopped")
    }

    /// A duration option; zero is a valid jitter (no random extra wait), never a valid period.
    static func duration(_ text: String?, option: String, allowsZero: Bool = false) throws -> ConfiguredDuration? {
        guard let text else { return nil }
        guard let duration = ConfiguredDuration(parsing: text), duration.milliseconds > 0 || allowsZero else {
            throw CommandContext.fail(
                .usage, "\(option): must be a duration like \(allowsZero ? "0s, " : "")30s, 15m or 1h")
        }
        return duration
    }
}

/// The scheduled sync as a service of swift-service-lifecycle: graceful shutdown cancels the current run.
struct ScheduledSync: Service {
    /// The engine of one run, on the store fenced by its lease.
    let engine: @Sendable (SyncStore) -> SyncEngine
    let store: SyncStore
    let reconcile: DailyReconcile?
    let lease: WriterLease
    let scheduler: SyncScheduler
    let actor: String
    let logger: Logger
    let metrics: RunMetrics

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            await scheduler.run { await runOnce() }
        }
    }

    func runOnce() async -> ScheduledOutcome {
        let started = ContinuousClock.now
        var report: SyncReport?
        let outcome = await runOnce(report: &report)
        metrics.runFinished(
            outcome, duration: ContinuousClock.now - started, report: report,
            checkpoint: try? await store.offThread { try Self.checkpoint(of: $0) })
        return outcome
    }

    /// The register's state for a scrape: the checkpoint, the quarantine, erasures pending and overdue.
    /// Read on one of the register's threads: a scrape never waits on a cooperative thread for the database.
    static func registerState(of store: SyncStore, now: Date = Date()) async -> RunMetrics.RegisterState? {
        try? await store.offThread { store in
            guard let erasures = try? store.erasureRequests(), let quarantined = try? store.quarantined() else {
                return nil
            }
            return RunMetrics.RegisterState(
                checkpoint: try? checkpoint(of: store), quarantined: quarantined.count,
                erasuresPending: erasures.filter { $0.state != .verified }.count,
                erasuresOverdue: erasures.filter { $0.isOverdue(at: now) }.count)
        }
    }

    /// Where the change feed stands.
    static func checkpoint(of store: SyncStore) throws -> Date? {
        try store.checkpoint(SyncEngine.modifiedSinceCheckpoint).flatMap(Int64.init).map(
            Date.init(millisecondsSince1970:))
    }

    private func runOnce(report finished: inout SyncReport?) async -> ScheduledOutcome {
        var options = SyncRunOptions(actor: actor)
        options.progress = CommandContext.progressPrinter()
        do {
            let report = try await lease.run { token in
                metrics.leaseHeld(true)
                defer { metrics.leaseHeld(false) }
                // The register may have been restored from a backup since the last run (a database restored under a
                // running daemon): the erasure journal is applied again first, as opening the register does.
                let reapplied = try await store.offThread { try $0.reconcileErasureJournal() }
                if reapplied > 0 {
                    logger.notice(
                        "erasure journal: erasure records the register lacked applied again (a restored backup?)",
                        metadata: ["store.journal.reapplied": "\(reapplied)"])
                }
                let fenced = store.fenced(by: token)
                let report = try await engine(fenced).run(options)
                // Reconciliation spends requests and writes its checkpoint: under the same lease and fence.
                if let reconcile { await reconcile.runIfDue(store: fenced, logger: logger) }
                return report
            }
            finished = report
            logger.info(
                "sync run finished",
                metadata: [
                    "sync.toCRM.creates": "\(report.summary.toCRM.creates)",
                    "sync.toLocal.creates": "\(report.summary.toLocal.creates)",
                    "sync.conflicts": "\(report.summary.conflicts)", "sync.failures": "\(report.summary.failures)",
                    "sync.refused": "\(report.summary.refused)",
                    "crm.requests": "\(report.cost.requestsSent)", "crm.rateLimited": "\(report.cost.rateLimited)",
                ])
            return report.summary.failures == 0 && report.summary.refused == 0 ? .succeeded : .partial
        } catch let held as LeaseHeld {
            logger.notice(
                "lease held by another run; waiting for the next period",
                metadata: ["lease.holder.since": "\(held.holder.acquiredAt)"])
            return .leaseHeld
        } catch is CancellationError {
            logger.notice("sync run stopped by shutdown")
            return .failed
        } catch let error as HubSpotError where error.isUnavailable || error.isDailyLimit {
            logger.warning("CRM unavailable; backing off", metadata: ["crm.error": "\(error.errorDescription ?? "")"])
            return .crmUnavailable
        } catch {
            logger.error(
                "sync run failed",
                metadata: ["error": "\((error as? LocalizedError)?.errorDescription ?? "\(type(of: error))")"])
            return .failed
        }
    }
}

/// Reconciliation once a day, after a scheduled sync, within a request budget; drift goes to the log
/// (counts by category, no personal data) for a person to look at.
struct DailyReconcile: Sendable {
    let reconciler: Reconciler
    let budget: Int
    static let checkpoint = "reconcile.lastAt"

    /// `store`: the run's store, fenced by its lease (the checkpoint is a run's write).
    func runIfDue(store: SyncStore, logger: Logger, now: Date = Date()) async {
        let last = (try? await store.offThread { try $0.checkpoint(Self.checkpoint) }).flatMap {
            $0.flatMap(Int64.init)
        }.map(Date.init(millisecondsSince1970:))
        if let last, now.timeIntervalSince(last) < 86_400 { return }
        do {
            let report = try await reconciler.run(requestBudget: budget)
            try await store.offThread { try $0.setCheckpoint(Self.checkpoint, to: String(now.millisecondsSince1970)) }
            let level: Logger.Level = report.hasDrift ? .warning : .info
            logger.log(
                level: level, "daily reconcile",
                metadata: [
                    "reconcile.complete": "\(report.complete)", "reconcile.requests": "\(report.requests)",
                    "reconcile.missing.archived": "\(report.missingInCRM.archived)",
                    "reconcile.missing.merged": "\(report.missingInCRM.merged)",
                    "reconcile.missing.deleted": "\(report.missingInCRM.deleted)",
                    "reconcile.onlyInCRM": "\(report.onlyInCRM)", "reconcile.notLinked": "\(report.notLinked)",
                    "reconcile.fieldDrift": "\(report.fieldDrift.values.reduce(0, +))",
                    "reconcile.optOutDrift": "\(report.optOutDrift)",
                ])
        } catch {
            logger.warning(
                "daily reconcile failed",
                metadata: ["error": "\((error as? LocalizedError)?.errorDescription ?? "\(type(of: error))")"])
        }
    }
}
