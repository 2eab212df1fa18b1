import ArgumentParser
import Foundation
import SyncCore
import SyncEngine
import SyncStore

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Two-way sync of contacts, consent and opt-outs with the CRM; --dry-run says what it would do.",
        discussion: """
            Exit 0 when everything agreed, 3 when some records failed (listed in the report), 6 when the CRM \
            could not be reached or the day's budget would be exceeded, 5 when another run holds the lease, 78 \
            when the token or sync.json is wrong.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Plan and report only: no request that changes the CRM, no write to the store.") var dryRun = false
    @Option(help: "Also write the report to this file.") var report: String?
    @Option(
        help:
            "Report format: text, markdown, json, or html (one self-contained page; with --report, the terminal gets text)."
    )
    var format: ReportFormat = .text
    @Flag(help: "Show personal data in the report instead of masking it.") var showPII = false
    @Flag(help: "Run even when the estimated cost exceeds what the daily budget allows.") var ignoreBudget = false
    @Flag(help: "List every change in the report (by default the first 5,000; counts are always complete).")
    var allChanges = false

    enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
        case text, markdown, json, html
        var renderer: ReportRenderer.Format { ReportRenderer.Format(rawValue: rawValue)! }
    }

    func run() async throws {
        let context = try CommandContext(global)
        let store = try context.openStore(existingOnly: dryRun)
        var options = SyncRunOptions(dryRun: dryRun, ignoreBudget: ignoreBudget, actor: "sync:\(context.actor)")
        options.progress = CommandContext.progressPrinter()
        if allChanges { options.maxListedChanges = .max }
        // A dry run writes nothing and needs no lease; a real run writes through the store fenced by its lease.
        let result =
            dryRun
            ? try await context.performRemote { try await context.engine(store: store).run(options) }
            : try await context.performHoldingLease(store: store) { fenced in
                try await context.engine(store: fenced).run(options)
            }
        if isatty(STDERR_FILENO) == 1 { FileHandle.standardError.write(Data("\n".utf8)) }
        let rendered = ReportRenderer.render(result, format: format.renderer, showPII: showPII)
        // A page is for a browser: with a file to hold it, the terminal gets the text report.
        print(
            format == .html && report != nil ? ReportRenderer.render(result, format: .text, showPII: showPII) : rendered
        )
        if let report {
            try CommandContext.writePrivate(rendered + "\n", to: report)
        }
        if result.summary.failures > 0 || result.summary.refused > 0 { throw ExitStatus.partialFailure.exitCode }
    }
}
