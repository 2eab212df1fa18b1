import ArgumentParser
import Foundation
import SyncCore
import SyncEngine
import SyncStore

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Last runs, checkpoint age, pending outbox, erasures, budget used today, lease.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text
    @Option(help: "How many runs to show.") var runs: Int = 5

    struct RunLine: Encodable {
        var id: Int64
        var kind: String
        var startedAt: Date
        var durationSeconds: Double?
        var status: String
        var summary: SyncReport.Summary?
        var requests: Int?
        var rateLimited: Int?
    }

    struct Status: Encodable {
        var runs: [RunLine]
        var checkpoint: Date?
        var checkpointAgeSeconds: Double?
        var pendingOutbox: Int
        var pendingErasures: Int
        var overdueErasures: Int
        var requestsToday: Int
        var dailyBudget: Int
        var leaseHolder: String?
        /// Contacts the CRM refused for good, waiting for their next try (local ids and reasons, no PII).
        var quarantined: [QuarantineEntry]
        /// The store's files others on the host may read (the database, `-wal`, `-shm`): paths and modes, no PII.
        var warnings: [String]
        /// Erasure records the erasure journal held and the store lacked, applied again at this open (a restore).
        var erasuresReapplied: Int
    }

    struct StoredSummary: Decodable {
        var summary: SyncReport.Summary
        var cost: SyncReport.Cost
    }

    func run() throws {
        let context = try CommandContext(global)
        let store = try context.openStore()
        let now = Date()
        let status = try context.perform { () -> Status in
            let recent = try store.recentRuns(limit: max(runs, 50))
            let lines = recent.map { run -> RunLine in
                let stored = run.summary.flatMap { try? JSONDecoder().decode(StoredSummary.self, from: Data($0.utf8)) }
                return RunLine(
                    id: run.id, kind: run.kind, startedAt: run.startedAt,
                    durationSeconds: run.finishedAt.map { $0.timeIntervalSince(run.startedAt) }, status: run.status,
                    summary: stored?.summary, requests: stored?.cost.requestsSent, rateLimited: stored?.cost.rateLimited
                )
            }
            let today = Calendar(identifier: .gregorian).startOfDay(for: now)
            let requestsToday = lines.filter { $0.startedAt >= today }.compactMap(\.requests).reduce(0, +)
            let checkpoint = try store.checkpoint("contacts.modifiedSince").flatMap(Int64.init).map(
                Date.init(millisecondsSince1970:))
            let erasures = try store.erasureRequests()
            let lease = try WriterLease.currentHolder(of: store)?.holder
            return Status(
                runs: Array(lines.prefix(runs)), checkpoint: checkpoint,
                checkpointAgeSeconds: checkpoint.map { now.timeIntervalSince($0) },
                pendingOutbox: try store.outboxCount(),
                pendingErasures: erasures.filter { $0.state != .verified }.count,
                overdueErasures: erasures.filter { $0.isOverdue(at: now) }.count, requestsToday: requestsToday,
                dailyBudget: context.configuration.crm.rateLimit.dailyBudget, leaseHolder: lease,
                quarantined: try store.quarantined(),
                warnings: CommandContext.storeModeWarnings(context.configuration.store.location),
                erasuresReapplied: store.journalRestored)
        }
        switch format {
        case .json: print(JSONOutput.render(status))
        case .text: print(Self.text(status))
        }
    }

    static func text(_ status: Status) -> String {
        var lines = status.warnings.map { "warning: " + $0 }
        lines.append("last runs")
        if status.runs.isEmpty { lines.append("  (none yet)") }
        for run in status.runs {
            let duration = run.durationSeconds.map { String(format: "%.1fs", $0) } ?? "running"
            var line = "  #\(run.id) \(run.kind) \(run.startedAt.formatted(.iso8601)) \(duration) \(run.status)"
            if let s = run.summary {
                line +=
                    "  to CRM \(s.toCRM.creates)+\(s.toCRM.updates)~ \(s.toCRM.consentChanges) consents; to local \(s.toLocal.creates)+\(s.toLocal.updates)~"
                    + " \(s.toLocal.consentChanges) consents; \(s.conflicts) conflicts, \(s.failures) errors,"
                    + " \(s.refused) refused"
            }
            if let requests = run.requests { line += "; \(requests) requests, \(run.rateLimited ?? 0) × 429" }
            lines.append(line)
        }
        let age =
            status.checkpointAgeSeconds.map { String(format: "%.0f s ago", $0) } ?? "none (the next sync is a full one)"
        lines.append("checkpoint: " + (status.checkpoint.map { "\($0.formatted(.iso8601)) (\(age))" } ?? age))
        lines.append("pending outbox: \(status.pendingOutbox)")
        lines.append("erasures: \(status.pendingErasures) pending, \(status.overdueErasures) overdue")
        if status.erasuresReapplied > 0 {
            lines.append(
                "erasure journal: \(status.erasuresReapplied) erasure record(s) the store lacked (a restored backup?) "
                    + "applied again")
        }
        lines.append("requests today: \(status.requestsToday) of the daily budget \(status.dailyBudget)")
        lines.append("lease: " + (status.leaseHolder ?? "free"))
        lines.append("refused by the CRM (quarantined): \(status.quarantined.count)")
        for entry in status.quarantined {
            lines.append(
                "  contact \(entry.contactId): \(ReportText.neutralized(entry.reason)); \(entry.attempts) attempt(s), "
                    + "next try after "
                    + entry.nextAttemptAt.formatted(.iso8601))
        }
        return lines.joined(separator: "\n")
    }
}
