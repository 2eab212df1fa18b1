import ArgumentParser
import Foundation
import Logging
import SyncEngine
import SyncStore

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare both sides record by record, without the change feed, and report drift by category.",
        discussion:
            "Exit 0 when no drift is found, 3 when some is (listed by category), 6 when the CRM cannot be reached.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Most requests to spend; the report says when it stopped early.") var budget: Int = 2_000
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text

    func run() async throws {
        let context = try CommandContext(global)
        let store = try context.openStore()
        let reconciler = Reconciler(
            store: ThreadedRegister(store), client: try context.client(), settings: SyncSettings(context.configuration),
            logger: Logger(label: "crmsync.reconcile"))
        let report = try await context.performRemote { try await reconciler.run(requestBudget: budget) }
        switch format {
        case .json: print(JSONOutput.render(report))
        case .text:
            print(
                "reconcile: \(report.crmRecordsCompared) CRM records compared in \(report.requests) requests"
                    + (report.complete ? "" : " (stopped at the budget: partial)"))
            print(
                "  missing in the CRM: \(report.missingInCRM.archived) archived, \(report.missingInCRM.merged) merged, \(report.missingInCRM.deleted) deleted"
            )
            print("  only in the CRM: \(report.onlyInCRM); in both but not linked: \(report.notLinked)")
            let drift = report.fieldDrift.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                separator: ", ")
            print("  field drift behind the change feed: " + (drift.isEmpty ? "none" : drift))
            print("  opt-out drift: \(report.optOutDrift)")
            let consent = report.consentDrift.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print("  consent drift (per address): " + (consent.isEmpty ? "none" : consent.joined(separator: ", ")))
            let refused = report.refusedValues.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print("  CRM values the register refuses: " + (refused.isEmpty ? "none" : refused.joined(separator: ", ")))
            let pending = report.pendingCRMChanges.values.reduce(0, +)
            print("  CRM changes the next sync will take: \(pending)")
        }
        if report.hasDrift { throw ExitStatus.partialFailure.exitCode }
    }
}
