import Foundation
import SyncCore
import SyncModel

/// Where a run's plans go, chosen once when the run starts: applied (a real run) or only recorded (a dry run).
///
/// Everything before the sink (pull, match, plan, the report's counts) is the same code for both, so a dry run
/// and the real run that follows it on the same state produce the same plan by construction. Only the sink
/// writes: to the CRM, to the store, the checkpoints, the run log.
protocol RunSink: Sendable {
    var mode: SyncReport.Mode { get }

    /// The portal's property definitions, read at the start of the run: values that do not fit are refused
    /// before they are sent.
    mutating func use(_ schema: PortalSchema)

    /// Unfinished erasures, before anything is pulled: finished (real run), or reported as what the real run
    /// would finish (dry run), and left out of the plan as stale copies either way.
    func finishUnfinishedErasures(into run: inout SyncEngine.RunState) async throws

    /// One batch of plans: applied, or nothing.
    func apply(_ plans: [ContactPlan]) async throws -> SyncApplier.Outcome

    /// Moves a checkpoint (never backwards: the caller decides the value).
    func setCheckpoint(_ name: String, to value: Date) async throws

    /// The run's entry in the run log, started and finished (nil: no entry).
    func startRun() async throws -> Int64?
    func finishRun(_ id: Int64, report: SyncReport?) async throws
}

/// A real run's sink: unfinished erasures first, then plans through the applier (local writes → CRM → confirm).
struct ApplyingSink: RunSink {
    var applier: SyncApplier
    var store: any RegisterPort { applier.store }

    var mode: SyncReport.Mode { .applied }

    mutating func use(_ schema: PortalSchema) { applier.schema = schema }

    func finishUnfinishedErasures(into run: inout SyncEngine.RunState) async throws {
        let (verified, failures) = try await applier.erasures.resumeAll()
        run.report.summary.toCRM.erasures += verified
        run.report.summary.failures += failures.count
        run.report.failures += failures
    }

    func apply(_ plans: [ContactPlan]) async throws -> SyncApplier.Outcome { try await applier.apply(plans) }

    func setCheckpoint(_ name: String, to value: Date) async throws {
        try await store.setCheckpoint(name, to: String(value.millisecondsSince1970))
    }

    func startRun() async throws -> Int64? { try await store.startRun(kind: "sync") }

    func finishRun(_ id: Int64, report: SyncReport?) async throws {
        guard let report else { return try await store.finishRun(id, status: "failed", summary: nil) }
        try await store.finishRun(
            id, status: report.summary.failures == 0 ? "ok" : "partial", summary: SyncEngine.runSummary(report))
    }
}

/// A dry run's sink: records nothing, sends nothing; reports the unfinished erasures the real run would finish
/// and the values the portal would refuse (as the real run's applier refuses them before sending).
struct RecordingSink: RunSink {
    let store: any RegisterPort
    /// Reads only: which record an unfinished erasure's deletes take.
    let client: any CRMPort
    var schema: PortalSchema?

    init(store: any RegisterPort, client: any CRMPort) {
        self.store = store
        self.client = client
    }

    var mode: SyncReport.Mode { .dryRun }

    mutating func use(_ schema: PortalSchema) { self.schema = schema }

    func finishUnfinishedErasures(into run: inout SyncEngine.RunState) async throws {
        let unfinished = try await store.pendingErasures()
        run.erasuresFinishedFirst = Set(unfinished.map(\.email.normalized) + unfinished.flatMap(\.crmIds))
        // The real run's deletes take whatever record HubSpot finds under the address (by id, or by email for a
        // subject it never held), also one holding it only as a merged-in secondary address: read which, for every
        // unfinished erasure (the real run asks HubSpot the same way).
        for pending in unfinished {
            for spelling in pending.email.spellings {
                if let record = try await client.contact(email: spelling, properties: ["email"], withHistory: []) {
                    run.erasuresFinishedFirst.formUnion([record.id] + record.mergedIds)
                }
            }
        }
        run.report.summary.toCRM.erasures += unfinished.count
        run.report.cost.plannedWriteRequests += unfinished.count * 2
        for pending in unfinished {
            run.report.notes.append(
                .init(
                    contact: pending.email.normalized,
                    note:
                        "erasure \(pending.request.id) (\(pending.request.state.rawValue)) would be finished in the CRM"
                ))
        }
    }

    func apply(_ plans: [ContactPlan]) async throws -> SyncApplier.Outcome {
        var outcome = SyncApplier.Outcome()
        guard let schema else { return outcome }
        for plan in plans where plan.hasCRMWrites && plan.action != .eraseInCRM {
            if let refusal = schema.refusal(of: plan) {
                outcome.refused.append("\(plan.email?.masked ?? "?"): \(refusal)")
            }
        }
        return outcome
    }

    func setCheckpoint(_ name: String, to value: Date) async throws {}
    func startRun() async throws -> Int64? { nil }
    func finishRun(_ id: Int64, report: SyncReport?) async throws {}
}
