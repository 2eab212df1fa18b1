import Foundation
import Logging
import SyncCore
import SyncModel

/// Options of one run.
public struct SyncRunOptions: Sendable {
    /// Plan and report only: no mutating request to the CRM, no write to the store (not even the checkpoint).
    public var dryRun = false
    /// Run even when the estimated cost exceeds what the daily budget allows.
    public var ignoreBudget = false
    /// List changes in the report (counts are always complete).
    public var listChanges = true
    /// At most this many changes are listed, so a large first sync keeps its memory bounded.
    public var maxListedChanges = 5_000
    /// Who the audit log names.
    public var actor = "sync"
    /// Called after every batch: progress on a terminal.
    public var progress: (@Sendable (SyncProgress) -> Void)?

    public init(dryRun: Bool = false, ignoreBudget: Bool = false, listChanges: Bool = true, actor: String = "sync") {
        self.dryRun = dryRun
        self.ignoreBudget = ignoreBudget
        self.listChanges = listChanges
        self.actor = actor
    }
}

/// How far a run has come.
public struct SyncProgress: Sendable {
    public var batches = 0
    public var contactsPlanned = 0
    public var writeRequests = 0
}

/// A run that could not start or finish, with a reason a user can act on.
public struct SyncError: Error, LocalizedError, Sendable {
    public enum Kind: Sendable, Equatable {
        case budgetExceeded
        /// `mapping` names a property the portal lacks or the API cannot write: fix `sync.json`.
        case mappingInvalid
    }

    public var kind: Kind
    public var detail: String

    public var errorDescription: String? { detail }
}

/// Makes the canonical store and the CRM agree: pull what changed, match, plan, apply, checkpoint.
///
/// Work streams page by page (a page of CRM changes, then batches of local edits), so memory stays bounded
/// however many contacts there are. The checkpoint moves only after both sides hold the result, and only
/// over windows that closed `consistencyHorizon` before the run started by HubSpot's clock (its `Date` header,
/// not the local clock, which may be off): the trailing window is read again
/// next run, which is harmless because applying is idempotent.
public final class SyncEngine: Sendable {
    let store: any RegisterPort
    let client: any CRMPort
    let settings: SyncSettings
    let clock: any SyncClock
    let logger: Logger

    public static let modifiedSinceCheckpoint = "contacts.modifiedSince"
    static let archiveSweepCheckpoint = "contacts.archiveSweepAt"

    public init(
        store: any RegisterPort, client: any CRMPort, settings: SyncSettings, clock: any SyncClock = SystemClock(),
        logger: Logger = .silent("crmsync.engine")
    ) {
        self.store = store
        self.client = client
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    /// One run: a dry run returns the plan as a report; a real run applies it and returns what it did.
    ///
    /// Every line logged during the run, by the engine, the client or the store, names it (``SyncRunID``).
    public func run(_ options: SyncRunOptions = .init()) async throws -> SyncReport {
        let applier = SyncApplier(
            store: store, client: client, settings: settings, clock: clock, actor: options.actor, logger: logger)
        // The one place a dry run and a real run part: where the plans go.
        var sink: any RunSink =
            options.dryRun
            ? RecordingSink(store: store, client: client) : ApplyingSink(applier: applier)
        let runId = try await sink.startRun()
        let runName = runId.map { "\($0)" } ?? "dry-" + UUID().uuidString.prefix(8).lowercased()
        return try await SyncRunID.$current.withValue(runName) {
            do {
                let report = try await perform(options, sink: &sink)
                if let runId { try await sink.finishRun(runId, report: report) }
                return report
            } catch {
                if let runId { try? await sink.finishRun(runId, report: nil) }
                throw error
            }
        }
    }

    /// The run's steps: budget and portal checks, unfinished erasures, pull, push, archive sweep, checkpoint.
    private func perform(_ options: SyncRunOptions, sink: inout any RunSink) async throws -> SyncReport {
        let started = clock.now
        let metricsAtStart = client.metrics
        let checkpoint = try await store.checkpoint(Self.modifiedSinceCheckpoint).flatMap(Int64.init)
        // A dry run spends reads only: it is never stopped by the budget. A first run's estimate needs no request,
        // so it is made before any; an incremental run's is the change feed's size, from the feed's first page.
        let checksBudget = !options.dryRun && !options.ignoreBudget
        if checksBudget && checkpoint == nil {
            try await checkBudget(pulls: max(try await store.linkedCount(), 1), incremental: false)
        }
        // The portal's property definitions, once per run: a mapping it cannot take stops the run before any write.
        let schema = try await PortalSchema.load(client: client, settings: settings)
        let mappingProblems = schema.mappingProblems
        guard mappingProblems.isEmpty else {
            throw SyncError(
                kind: .mappingInvalid,
                detail: mappingProblems.map { "sync.json: \($0.key): \($0.problem)" }.joined(separator: "; "))
        }
        sink.use(schema)
        var run = RunState(report: SyncReport(mode: sink.mode, startedAt: started), options: options, sink: sink)
        run.report.futureDatedDecisions = try await store.futureDatedDecisions(now: started)
        run.quarantinedNotDue = try await store.quarantinedNotDue()
        let planner = SyncPlanner(settings: settings, now: started)
        // Watermarks are HubSpot's time, read from its answers so far: a local clock ahead of HubSpot would
        // put the checkpoint in HubSpot's future and skip the edits made before it.
        let (crmStarted, feedEnd) = crmTime(run: &run)
        logger.info(
            "sync started", metadata: ["sync.mode": "\(run.report.mode)", "sync.incremental": "\(checkpoint != nil)"])
        // The first run's listing holds every record modified before it started; the change feed reads up
        // to the run's start, so this run's own writes (newer) wait for the next run, as echoes. The feed's first
        // page is read before anything is written: its search answer's total is the budget estimate, so the
        // estimate costs no search of its own. Its records are read in full only after unfinished erasures are
        // finished, so a record an erasure deletes meanwhile is not found, as if the page had been read after.
        var feed = checkpoint.map {
            client.changedContactPages(
                since: Date(millisecondsSince1970: $0), until: feedEnd, properties: ["email"]
            ).makeAsyncIterator()
        }
        var firstPage = try await feed?.next()
        if checksBudget, let firstPage { try await checkBudget(pulls: firstPage.total, incremental: true) }
        try await sink.finishUnfinishedErasures(into: &run)
        /// The held first page, then the rest of the feed.
        func nextPage() async throws -> ChangePage? {
            if let page = firstPage.take() { return page }
            return try await feed?.next()
        }
        var watermark = crmStarted
        if feed != nil {
            while let page = try await nextPage() {
                let (found, _) = try await client.batchRead(
                    page.contacts.map(\.id), properties: settings.pulledProperties)
                var unique: [String: CRMContact] = [:]
                for record in found.values { unique[record.id] = record }
                try await process(Array(unique.values), locals: [], run: &run, planner: planner)
                watermark = page.watermark
            }
        } else {
            run.listedAddresses = []
            for try await page in client.contactPages(properties: settings.pulledProperties, archived: false) {
                for record in page.contacts { run.listedAddresses?.formUnion(record.addresses.map(RunState.key)) }
                try await process(page.contacts, locals: [], run: &run, planner: planner)
            }
        }
        try await pushLocalEdits(run: &run, planner: planner)
        try await sweepArchives(run: &run, planner: planner)
        let metrics = client.metrics
        run.report.cost.requestsSent = metrics.requests - metricsAtStart.requests
        run.report.cost.retries = metrics.retries - metricsAtStart.retries
        run.report.cost.rateLimited = metrics.rateLimited - metricsAtStart.rateLimited
        run.report.cost.bytesReceived = metrics.bytesReceived - metricsAtStart.bytesReceived
        run.report.cost.dailyBudgetRemaining = await client.remainingDailyBudget()
        run.report.cost.shareOfRemainingBudget =
            Double(run.report.cost.plannedWriteRequests) / Double(max(1, run.report.cost.dailyBudgetRemaining))
        run.report.finishedAt = clock.now
        let horizonEnd = crmStarted.addingTimeInterval(-(settings.consistencyHorizon).inSeconds)
        let next = min(watermark, horizonEnd)
        let previous = checkpoint.map(Date.init(millisecondsSince1970:)) ?? .distantPast
        // Never move backwards; a run with failures keeps its checkpoint so the failed records come again.
        if run.report.summary.failures == 0 && next > previous {
            try await sink.setCheckpoint(Self.modifiedSinceCheckpoint, to: next)
        }
        logger.info(
            "sync finished",
            metadata: [
                "sync.contacts": "\(run.report.summary.contactsExamined)",
                "sync.failures": "\(run.report.summary.failures)",
            ])
        return run.report
    }

    struct RunState {
        var report: SyncReport
        let options: SyncRunOptions
        /// Where this run's plans go (applied, or only recorded for a dry run).
        let sink: any RunSink
        /// Local ids already planned this run, so a local edit is not planned twice.
        var processed = ContactIdSet()
        var progress = SyncProgress()
        /// Quarantined contacts whose next try is not due: left out of this run's pushes.
        var quarantinedNotDue: Set<String> = []
        /// A first run: every address (primary and merged-in) of the live records its full listing read, as hashes
        /// of the lower-cased text. A local contact not linked yet whose every spelling is missing here has no record
        /// to read by email: the listing just said so. (A record created in HubSpot since is met by the upsert,
        /// which takes the existing record for the address.) Nil on an incremental run.
        var listedAddresses: Set<Int>?
        /// Dry run: subjects (addresses and CRM ids) whose unfinished erasure the real run finishes before it
        /// pulls (so it never meets their CRM copy); planned once, not again as a stale copy.
        var erasuresFinishedFirst: Set<String> = []

        static func key(_ address: String) -> Int { address.lowercased().hashValue }

        /// Whether a read by email of `address` can find a record this run did not list.
        func mayHaveRecord(_ address: String) -> Bool { listedAddresses?.contains(Self.key(address)) ?? true }

        mutating func record(_ outcome: SyncApplier.Outcome) {
            report.summary.failures += outcome.failures.count
            report.failures += outcome.failures
            report.summary.refused += outcome.refused.count
            report.refused += outcome.refused
        }
    }

    /// Local contacts a push plans and applies at a time. Every request chunks by 100, so a page of 1,000 costs
    /// what ten of 100 do, except the subscription writes: a page's statuses pack into full requests of 100 inputs,
    /// and only its last one is partly empty (once per 1,000 contacts, not once per 100).
    static let pushPageSize = 1_000

    /// Local edits not covered by the CRM's change feed, ``pushPageSize`` at a time, with their CRM records.
    private func pushLocalEdits(run: inout RunState, planner: SyncPlanner) async throws {
        try await forEachPage(of: store.dirtyStates, size: Self.pushPageSize, run: &run) { pending, run in
            let linked = pending.compactMap(\.contact.crmId)
            // HubSpot compares addresses as text: an internationalised address is looked up in every spelling.
            // A first run reads only the addresses its listing found a record for, and every internationalised one:
            // a record created in HubSpot under its other spelling while the run goes on would not be taken by the
            // upsert (HubSpot compares addresses as text), and a second record would be made.
            let unlinked = pending.filter { $0.contact.crmId == nil }.flatMap { state -> [String] in
                let spellings = state.contact.email.spellings
                return spellings.count > 1 || spellings.contains(where: run.mayHaveRecord) ? spellings : []
            }
            var records: [String: CRMContact] = [:]
            if !linked.isEmpty {
                for record in try await client.batchRead(linked, properties: settings.pulledProperties).found.values {
                    records[record.id] = record
                }
            }
            if !unlinked.isEmpty {
                for record in try await client.batchRead(unlinked, byEmail: true, properties: settings.pulledProperties)
                    .found.values
                {
                    records[record.id] = record
                }
            }
            try await process(Array(records.values), locals: pending, run: &run, planner: planner)
        }
    }

    /// Pages of `size` local contacts from `page` (id order), without those this run planned already or whose
    /// quarantine is not due, handed to `body` while any are left.
    private func forEachPage(
        of page: (_ after: String, _ limit: Int) async throws -> [LocalContactState], size: Int = 100,
        run: inout RunState,
        _ body: ([LocalContactState], inout RunState) async throws -> Void
    ) async throws {
        var after = ""
        while true {
            let batch = try await page(after, size)
            guard let last = batch.last else { return }
            after = last.contact.id
            let pending = batch.filter {
                !run.processed.contains($0.contact.id) && !run.quarantinedNotDue.contains($0.contact.id)
            }
            if !pending.isEmpty { try await body(pending, &run) }
        }
    }

    /// Archiving does not move `lastmodifieddate`: list archived records now and then and record them locally.
    private func sweepArchives(run: inout RunState, planner: SyncPlanner) async throws {
        let last = try await store.checkpoint(Self.archiveSweepCheckpoint).flatMap(Int64.init).map(
            Date.init(millisecondsSince1970:))
        let now = clock.now
        // A sweep dated after now (the clock stepped back since, or that run's clock ran fast) is due: it would
        // otherwise wait out the step as well.
        if let last, last <= now, now.timeIntervalSince(last) < (settings.archiveSweepInterval).inSeconds { return }
        let failuresBefore = run.report.summary.failures
        // Which archived records the register links is asked page by page: the register's links are not held in
        // memory (a million of them peaked the first sync of a million contacts at 512 MiB).
        if try await store.linkedCount() > 0 {
            for try await page in client.contactPages(properties: ["email"], archived: true) {
                let locals = try await store.localStates(crmIds: page.contacts.map(\.id), emails: [])
                let linked = Set(locals.compactMap(\.contact.crmId))
                let known = page.contacts.filter { linked.contains($0.id) }
                guard !known.isEmpty else { continue }
                let pairs = match(known, locals: locals).filter { $0.local?.crmArchivedAt == nil && $0.local != nil }
                var plans: [ContactPlan] = []
                for pair in pairs {
                    plans.append(
                        planner.plan(
                            local: pair.local,
                            remote: pair.record.map { RemoteContact($0, settings: settings, statuses: nil) },
                            context: .init(isErased: { _ in false }, isEmailTaken: { _, _ in false })))
                }
                run.record(try await run.sink.apply(plans))
                for plan in plans { run.report.add(plan, listChanges: run.options.listChanges) }
                // Archived by this run: its address is swept from the next run on, so a dry run, which records no
                // archive, plans what the real run does.
                for id in plans.compactMap(\.localId) { run.processed.insert(id) }
            }
        }
        try await sweepAddressesWithoutRecord(run: &run, planner: planner)
        // A sweep with failures is swept again next run (they also hold the change-feed checkpoint and give exit 3).
        if run.report.summary.failures == failuresBefore {
            try await run.sink.setCheckpoint(Self.archiveSweepCheckpoint, to: now)
        }
    }

    /// HubSpot keeps decisions per address, whatever record carries it, and reports no change for an address with no
    /// live record: on the sweep's schedule, the addresses of contacts with none to sync with (merged away, archived,
    /// restricted and never created) are read, 100 a request, so the subject's decisions there reach the register
    /// and the register's objection reaches the address without waiting for a local change. Only plans that carry a
    /// decision go on (nothing is created or re-created here).
    private func sweepAddressesWithoutRecord(run: inout RunState, planner: SyncPlanner) async throws {
        try await forEachPage(of: store.statesWithoutLiveRecord, run: &run) { pending, run in
            try await process([], locals: pending, run: &run, planner: planner) { plan in
                (plan.action == .none || plan.action == .skip) && !plan.changes.isEmpty
            }
        }
    }

    /// HubSpot's time now, from the `Date` header of the latest answer (the local clock when there is none or
    /// when it agrees with the header): the earliest it can be, which the checkpoint may not pass, and the
    /// latest, where the change feed ends. A skew larger than the consistency horizon is logged and reported.
    private func crmTime(run: inout RunState) -> (earliest: Date, latest: Date) {
        let now = clock.now
        guard let reading = client.serverClock, !reading.agrees(atLocal: now) else { return (now, now) }
        let skew = reading.skew
        if abs(skew) > max(settings.consistencyHorizon.inSeconds, ServerClockReading.resolution) {
            run.report.clockSkewSeconds = skew.rounded()
            logger.info(
                "local clock differs from HubSpot's",
                metadata: [
                    "sync.clock.skewSeconds": "\(Int(skew.rounded()))",
                    "sync.consistencyHorizonSeconds": "\(Int(settings.consistencyHorizon.inSeconds))",
                ])
        }
        let range = reading.crmTimeRange(atLocal: now)
        return (range.lowerBound, range.upperBound)
    }

    /// Stops before starting when the run would spend more than the daily budget allows, keeping the
    /// erasure reserve: an estimate from the change feed's size (its first page's search total, on an
    /// incremental run) or the linked contacts (on the first), and the local edits waiting.
    private func checkBudget(pulls: Int, incremental: Bool) async throws {
        let dirty = try await store.dirtyCount()
        let searches = incremental ? pulls / client.changePageSize + 1 : 0
        let remaining = await client.remainingDailyBudget()
        let reserve = remaining * settings.erasureReservePercent / 100
        let estimate = RequestCost.estimate(contacts: pulls + dirty, searchPages: searches)
        if estimate > remaining - reserve {
            throw SyncError(
                kind: .budgetExceeded,
                detail:
                    "the run would need about \(estimate) requests but \(remaining - reserve) are left today after the erasure reserve; run with --ignore-budget to go ahead"
            )
        }
    }

    static func runSummary(_ report: SyncReport) -> String {
        struct RunSummary: Encodable {
            var summary: SyncReport.Summary
            var cost: SyncReport.Cost
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(
            decoding: (try? encoder.encode(RunSummary(summary: report.summary, cost: report.cost))) ?? Data(),
            as: UTF8.self)
    }
}

/// The local contacts a run has planned, held as 16-byte UUIDs (contact ids are UUIDs; any other id is kept as
/// text): a first sync of a million contacts holds a million of them.
struct ContactIdSet {
    private var uuids: Set<UUID> = []
    private var others: Set<String> = []

    mutating func insert(_ id: String) {
        if let uuid = UUID(uuidString: id) { uuids.insert(uuid) } else { others.insert(id) }
    }

    func contains(_ id: String) -> Bool {
        if let uuid = UUID(uuidString: id) { return uuids.contains(uuid) }
        return others.contains(id)
    }
}
