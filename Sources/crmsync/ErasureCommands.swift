import ArgumentParser
import Foundation
import Logging
import SyncCore
import SyncEngine
import SyncModel
import SyncStore

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Erase a subject: here at once (tombstone), then GDPR-deleted in the CRM and verified.",
        discussion: """
            The request is recorded before anything else, so a crash at any step is finished by the next `erase` \
            or sync run. It never waits for a running sync. An unknown email still gets a tombstone and a CRM delete (HubSpot then blocklists it). \
            Exit 0 when verified (or recorded with --no-wait), 3 when the CRM delete is not yet verified.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The subject's email.") var email: String
    @Option(help: "Why, without personal data (e.g. 'request by email 2026-11-25').") var reason: String?
    @Option(help: "Your reference for the request (default: generated).") var requestId: String?
    @Flag(help: "Erase locally now and leave the CRM delete to the next sync.") var noWait = false

    func run() async throws {
        let context = try CommandContext(global)
        let address = try context.email(email)
        let store = try context.openStore()
        let id = requestId ?? "erase-\(UUID().uuidString.lowercased().prefix(8))"
        let propagator: ErasurePropagator
        if noWait {
            _ = try context.perform { try store.recordErasureRequest(email: address, requestId: id, reason: reason) }
            try context.perform { try store.eraseLocally(requestId: id) }
            print("erasure \(id): erased locally; the CRM delete follows at the next sync")
            return
        }
        // No writer lease: an erasure never waits for a running sync. The sync checks tombstones immediately
        // before each CRM write, and the GDPR deletes go out under a claim in the store, so they are sent once.
        propagator = ErasurePropagator(
            store: ThreadedRegister(store), client: try context.client(), logger: Logger(label: "crmsync.erasure"))
        let request = try await context.performRemote {
            try await propagator.erase(email: address, requestId: id, reason: reason)
        }
        print("erasure \(id): \(request.state.rawValue)" + (request.lastError.map { " (\($0))" } ?? ""))
        if request.state != .verified { throw ExitStatus.partialFailure.exitCode }
    }
}

struct ErasuresCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erasures",
        abstract: "List erasure requests with state and deadline; exit 4 when any is overdue (for cron alerts).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text

    struct Line: Encodable {
        var id: String
        var state: String
        var receivedAt: Date
        var deadline: Date
        var sentAt: Date?
        var verifiedAt: Date?
        var attempts: Int
        var lastError: String?
        var note: String?
        var overdue: Bool
    }

    func run() throws {
        let context = try CommandContext(global)
        let store = try context.openStore()
        let now = Date()
        let lines = try context.perform { try store.erasureRequests() }.map {
            Line(
                id: $0.id, state: $0.state.rawValue, receivedAt: $0.receivedAt, deadline: $0.deadline,
                sentAt: $0.sentAt,
                verifiedAt: $0.verifiedAt, attempts: $0.attempts, lastError: $0.lastError, note: $0.note,
                overdue: $0.isOverdue(at: now))
        }
        switch format {
        case .json: print(JSONOutput.render(lines))
        case .text:
            if lines.isEmpty { print("no erasure requests") }
            for line in lines {
                let flag = line.overdue ? "  OVERDUE" : ""
                print(
                    "\(line.id)  \(line.state.padding(toLength: 8, withPad: " ", startingAt: 0))  received \(line.receivedAt.formatted(.iso8601))"
                        + "  deadline \(line.deadline.formatted(.iso8601))\(flag)"
                        + (line.lastError.map { "  last error: \($0)" } ?? "") + (line.note.map { "  (\($0))" } ?? ""))
            }
        }
        if lines.contains(where: \.overdue) { throw ExitStatus.erasuresOverdue.exitCode }
    }
}

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Erase marketing-only contacts with no activity for retention.marketingOnlyMonths (default 24).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Only list how many would be erased.") var dryRun = false
    @Flag(help: "Show the addresses in the list instead of masking them.") var showPII = false

    func run() async throws {
        let context = try CommandContext(global)
        let store = try context.openStore()
        let months = context.configuration.retention.marketingOnlyMonths
        let cutoff = Calendar(identifier: .gregorian).date(byAdding: .month, value: -months, to: Date()) ?? Date()
        let candidates = try context.perform { try store.retentionCandidates(inactiveSince: cutoff) }
        print(
            "\(candidates.count) marketing-only contact(s) inactive for \(months) months in the register"
                + (dryRun ? " would be erased unless the CRM shows them active" : ""))
        for email in candidates.prefix(50) { print("  \(showPII ? email.display : email.masked)") }
        // Restriction of processing is what a subject asks for instead of erasure: never erased by retention.
        let held = try context.perform { try store.retentionHeld(inactiveSince: cutoff) }
        if !held.isEmpty {
            print("\(held.count) more held: processing restricted (never erased by retention)")
            for email in held.prefix(50) { print("  \(showPII ? email.display : email.masked)") }
        }
        // An earlier run that was cut short may have left erasures unfinished: this run finishes them too.
        let unfinished = try context.perform { try store.pendingErasures().count }
        guard !dryRun, !candidates.isEmpty || unfinished > 0 else { return }
        let client = try context.client()
        let outcome = try await context.performHoldingLease(store: store) { fenced in
            try await ErasurePropagator(
                store: ThreadedRegister(fenced), client: client, logger: Logger(label: "crmsync.erasure")
            )
            .eraseForRetention(candidates, months: months, on: Date())
        }
        let unverified = outcome.erased - outcome.verified
        print(
            "erased \(outcome.erased); \(outcome.verified) verified in the CRM, \(unverified) pending"
                + (outcome.resumed > 0 ? "; \(outcome.resumed) left by an earlier run verified" : "")
                + (outcome.keptByCRM > 0
                    ? "; \(outcome.keptByCRM) kept: active in the CRM since the cutoff, or a customer there" : ""))
        if unverified > 0 { throw ExitStatus.partialFailure.exitCode }
    }
}
