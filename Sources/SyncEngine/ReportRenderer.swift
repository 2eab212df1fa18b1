import Foundation
import SubjectPolicy
import SyncModel

/// Renders a ``SyncReport`` as text for a terminal, Markdown for a ticket, JSON for machines, or one self-contained
/// HTML page for a reviewer (``HTMLReport``).
///
/// Whatever a CRM user could have typed (values, contact labels, notes, HubSpot's messages) goes through
/// ``ReportText`` in every format: it shows as text, never as markup or as a bidi control.
public enum ReportRenderer {
    public enum Format: String, Sendable, CaseIterable {
        case text, markdown, json, html
    }

    public static func render(_ report: SyncReport, format: Format, showPII: Bool) -> String {
        let report = showPII ? report : report.masked()
        switch format {
        case .json: return json(report)
        case .text: return table(report, markdown: false)
        case .markdown: return table(report, markdown: true)
        case .html: return HTMLReport.render(report)
        }
    }

    static func json(_ report: SyncReport) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return ReportText.jsonEscapingFormatCharacters(
            String(decoding: (try? encoder.encode(report)) ?? Data("{}".utf8), as: UTF8.self))
    }

    static func table(_ report: SyncReport, markdown: Bool) -> String {
        let s = report.summary
        let title = report.isDryRun ? "Sync plan (dry run: nothing was changed)" : "Sync report (applied)"
        var lines: [String] = []
        lines.append(markdown ? "## \(title)" : title)
        lines.append("")
        let rows: [(String, String, String)] = [
            ("creates", "\(s.toCRM.creates)", "\(s.toLocal.creates)"),
            ("updates", "\(s.toCRM.updates)", "\(s.toLocal.updates)"),
            ("consent changes", "\(s.toCRM.consentChanges)", "\(s.toLocal.consentChanges)"),
            ("opt-outs", "\(s.toCRM.suppressions)", "\(s.toLocal.suppressions)"),
            ("erasures", "\(s.toCRM.erasures)", "-"),
        ]
        if markdown {
            lines.append("| | to CRM | to local |")
            lines.append("|---|---:|---:|")
            for row in rows { lines.append("| \(row.0) | \(row.1) | \(row.2) |") }
        } else {
            lines.append("                   to CRM   to local")
            for row in rows {
                lines.append(
                    "  " + row.0.padding(toLength: 16, withPad: " ", startingAt: 0) + pad(row.1, 7) + pad(row.2, 11))
            }
        }
        lines.append("")
        lines.append(
            "\(s.contactsExamined) contacts examined, \(s.conflicts) conflicting field(s) decided, \(s.archived) archived in the CRM, "
                + "\(s.merged) merged, \(s.skipped) skipped, \(s.failures) failed, \(s.refused) refused by the CRM")
        let c = report.cost
        let share = String(format: "%.2f", c.shareOfRemainingBudget * 100)
        lines.append(
            "requests: \(c.requestsSent) sent, \(c.plannedWriteRequests) write request(s) "
                + (report.isDryRun ? "planned" : "made") + " (\(share)% of the \(c.dailyBudgetRemaining) left today); "
                + "\(c.retries) retries, \(c.rateLimited) rate-limited")
        if let skew = report.clockSkewSeconds {
            let side = skew > 0 ? "ahead of" : "behind"
            lines.append(
                "clock: the local clock is \(Int(abs(skew))) s \(side) HubSpot's; the checkpoint follows HubSpot's time, "
                    + "local field and consent times do not")
        }
        if report.futureDatedDecisions > 0 {
            lines.append(
                "dated in the future: \(report.futureDatedDecisions) stored decision(s) (consent, opt-out, restriction) "
                    + "lie more than \(Int(DecisionTime.futureTolerance / 60)) minutes after this host's clock; "
                    + "they win over older ones until then (`crmsync contact show` lists a contact's)")
        }
        if !report.changes.isEmpty {
            lines.append("")
            lines.append(markdown ? "### Changes" : "Changes")
            if markdown {
                lines.append("| contact | direction | field | old | new | rule |")
                lines.append("|---|---|---|---|---|---|")
            }
            for change in report.changes {
                let arrow = change.direction == .toCRM ? "→ CRM" : "→ local"
                let rule = change.rule + (change.conflict ? " [conflict]" : "")
                if markdown {
                    let old = change.old.map(ReportText.markdownCode) ?? "∅"
                    let new = change.new.map(ReportText.markdownCode) ?? "∅"
                    let contact = ReportText.markdownCode(change.contact)
                    let field = ReportText.markdownText(change.field)
                    lines.append("| \(contact) | \(arrow) | \(field) | \(old) | \(new) | \(rule) |")
                } else {
                    let old = change.old.map(ReportText.neutralized) ?? "∅"
                    let new = change.new.map(ReportText.neutralized) ?? "∅"
                    let contact = ReportText.neutralized(change.contact)
                    lines.append("  \(contact)  \(arrow)  \(change.field): \(old) ⇒ \(new)  (\(rule))")
                }
            }
        }
        if !report.changesListed {
            lines.append(
                report.changes.isEmpty
                    ? "(changes not listed; the counts above are complete)"
                    : "(\(report.changes.count) changes listed; the counts above are complete; --all-changes lists every one)"
            )
        }
        if !report.notes.isEmpty {
            lines.append("")
            lines.append(markdown ? "### Notes" : "Notes")
            for note in report.notes {
                lines.append(
                    markdown
                        ? "- \(ReportText.markdownCode(note.contact)): \(ReportText.markdownText(note.note))"
                        : "  \(ReportText.neutralized(note.contact)): \(ReportText.neutralized(note.note))")
            }
        }
        if !report.refused.isEmpty {
            lines.append("")
            lines.append(
                markdown
                    ? "### Refused by the CRM (quarantined, retried later)"
                    : "Refused by the CRM (quarantined, retried later)")
            for line in report.refused { lines.append(freeLine(line, markdown: markdown)) }
        }
        if !report.failures.isEmpty {
            lines.append("")
            lines.append(markdown ? "### Failures" : "Failures")
            for failure in report.failures { lines.append(freeLine(failure, markdown: markdown)) }
        }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// A list line of free text (a refusal, a failure: HubSpot's messages can quote a value).
    private static func freeLine(_ text: String, markdown: Bool) -> String {
        markdown ? "- " + ReportText.markdownText(text) : "  " + ReportText.neutralized(text)
    }
}
