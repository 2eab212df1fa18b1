import Crypto
import Foundation
import SubjectPolicy
import SyncModel

/// A sync report as one self-contained HTML page (`sync --format html`): counts by direction with a small chart,
/// consent and opt-out changes first (what a reviewer must see), then field changes per contact, filterable by
/// direction, kind and rule. No network and nothing from elsewhere: the page's one style sheet and one script are
/// inline, and its Content-Security-Policy allows exactly those two (by hash) and nothing else, not even images.
///
/// Every value a CRM user could have typed goes through ``ReportText/neutralized(_:)`` (controls and bidi overrides
/// shown as `<U+XXXX>`) and then HTML escaping: it shows as text, never as markup. The filter reads its starting
/// values from the page's fragment (`plan.html#direction=toCRM&kind=consent`), so a link can name a view.
enum HTMLReport {
    static func render(_ report: SyncReport) -> String {
        let s = report.summary
        let title = report.isDryRun ? "Sync plan (dry run: nothing was changed)" : "Sync report (applied)"
        let counts: [(String, String, Int, Int?)] = [
            ("creates", "creates", s.toCRM.creates, s.toLocal.creates),
            ("updates", "updates", s.toCRM.updates, s.toLocal.updates),
            ("consent", "consent changes", s.toCRM.consentChanges, s.toLocal.consentChanges),
            ("optouts", "opt-outs", s.toCRM.suppressions, s.toLocal.suppressions),
            ("erasures", "erasures", s.toCRM.erasures, nil),
        ]
        // Each change's kind once; by kind, then contact, then the order the run planned them.
        let kinds = report.changes.map { kind(of: $0.field) }
        let sorted = report.changes.indices.sorted { a, b in
            (kinds[a].order, report.changes[a].contact, a) < (kinds[b].order, report.changes[b].contact, b)
        }.map { (change: report.changes[$0], kind: kinds[$0]) }
        let rules = Set(report.changes.map(\.rule)).sorted()
        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="\(policy)">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>crmsync: \(escape(title))</title>
            <style>\(style)</style>
            </head>
            <body>
            <h1>\(escape(title))</h1>
            <p class="meta">Run started \(escape(report.startedAt.formatted(.iso8601))). \
            \(s.contactsExamined) contacts examined, \(s.conflicts) conflicting field(s) decided, \(s.archived) archived in \
            the CRM, \(s.merged) merged, \(s.skipped) skipped, \(s.failures) failed, \(s.refused) refused by the CRM. \
            Requests: \(report.cost.requestsSent) sent, \(report.cost.plannedWriteRequests) write request(s) \
            \(report.isDryRun ? "planned" : "made").</p>

            """
        // The warnings the text report gives: a reviewer approving a plan must see them too.
        if let skew = report.clockSkewSeconds {
            html += "<p class=\"warn\">Clock: the local clock is \(Int(abs(skew))) s "
            html +=
                "\(skew > 0 ? "ahead of" : "behind") HubSpot's; local field and consent times are not corrected.</p>\n"
        }
        if report.futureDatedDecisions > 0 {
            html += "<p class=\"warn\">Dated in the future: \(report.futureDatedDecisions) stored decision(s) lie more "
            html +=
                "than \(Int(DecisionTime.futureTolerance / 60)) minutes after this host's clock; they win over older "
            html += "ones until then.</p>\n"
        }
        html +=
            "<h2>Counts</h2>\n<table id=\"counts\"><thead><tr><th></th><th>to CRM</th><th>to local</th></tr></thead>"
        html += "<tbody>\n"
        for (id, label, toCRM, toLocal) in counts {
            html += "<tr><th>\(label)</th><td id=\"count-toCRM-\(id)\">\(toCRM)</td>"
            html += "<td id=\"count-toLocal-\(id)\">\(toLocal.map(String.init) ?? "-")</td></tr>\n"
        }
        html += "</tbody></table>\n" + chart(counts) + "\n"
        html += """
            <h2>Changes</h2>
            <form id="filters">
            <label>direction <select id="direction"><option value="">all</option>\
            <option value="toCRM">to CRM</option><option value="toLocal">to local</option></select></label>
            <label>kind <select id="kind"><option value="">all</option>\
            \(Kind.allCases.map { "<option value=\"\($0.rawValue)\">\($0.label)</option>" }.joined())</select></label>
            <label>rule <select id="rule"><option value="">all</option>\
            \(rules.map { "<option value=\"\(escape($0))\">\(escape($0))</option>" }.joined())</select></label>
            <output id="shown">\(report.changes.count) of \(report.changes.count) changes shown</output>
            </form>

            """
        let consentKinds: Set<Kind> = [.consent, .optOut]
        let firstPart = sorted.filter { consentKinds.contains($0.kind) }
        let secondPart = sorted.filter { !consentKinds.contains($0.kind) }
        html += "<h3>Consent and opt-out changes</h3>\n" + table(firstPart)
        html += "<h3>Field changes per contact</h3>\n" + table(secondPart)
        if !report.changesListed {
            html += "<p class=\"meta\">Not every change is listed; the counts above are complete "
            html += "(<code>--all-changes</code> lists every one).</p>\n"
        }
        html += list("Notes", report.notes.map { "<code>\(escape($0.contact))</code>: \(escape($0.note))" })
        html += list("Refused by the CRM (quarantined, retried later)", report.refused.map(escape))
        html += list("Failures", report.failures.map(escape))
        html += "<script>\(script)</script>\n</body>\n</html>\n"
        return html
    }

    /// What a change is about, as the filter and the sections group it.
    enum Kind: String, CaseIterable {
        case consent, optOut, record, link, field

        var label: String {
            switch self {
            case .consent: "consent"
            case .optOut: "opt-out"
            case .record: "record"
            case .link: "CRM link"
            case .field: "field"
            }
        }

        var order: Int { Kind.allCases.firstIndex(of: self)! }
    }

    static func kind(of field: String) -> Kind {
        switch SyncKey(rawValue: field) {
        case .consent: .consent
        case .optedOutOfAll: .optOut
        case .record: .record
        case .crmId: .link
        default: .field
        }
    }

    private static func table(_ changes: [(change: SyncReport.Change, kind: Kind)]) -> String {
        guard !changes.isEmpty else { return "<p class=\"none\">none</p>\n" }
        var html = "<table class=\"changes\"><thead><tr><th>contact</th><th>direction</th><th>field</th><th>old</th>"
        html += "<th>new</th><th>rule</th></tr></thead><tbody>\n"
        for (change, kind) in changes {
            let direction = change.direction == .toCRM ? "toCRM" : "toLocal"
            let rule = escape(change.rule)
            html += "<tr data-direction=\"\(direction)\" data-kind=\"\(kind.rawValue)\" "
            html += "data-rule=\"\(rule)\"><td><code>\(escape(change.contact))</code></td>"
            html += "<td>\(change.direction == .toCRM ? "→ CRM" : "→ local")</td><td>\(escape(change.field))</td>"
            html += "<td>\(change.old.map { "<code>\(escape($0))</code>" } ?? "∅")</td>"
            html += "<td>\(change.new.map { "<code>\(escape($0))</code>" } ?? "∅")</td>"
            html += "<td>\(rule)\(change.conflict ? " <strong>conflict</strong>" : "")</td></tr>\n"
        }
        return html + "</tbody></table>\n"
    }

    private static func list(_ title: String, _ items: [String]) -> String {
        guard !items.isEmpty else { return "" }
        return "<h2>\(title)</h2>\n<ul>\n" + items.map { "<li>\($0)</li>\n" }.joined() + "</ul>\n"
    }

    /// Counts by direction as horizontal bars (SVG attributes, no inline style: the policy allows none).
    private static func chart(_ counts: [(String, String, Int, Int?)]) -> String {
        let largest = max(1, counts.map { max($0.2, $0.3 ?? 0) }.max() ?? 1)
        let rowHeight = 34
        var svg = "<svg id=\"chart\" role=\"img\" aria-label=\"changes by direction\" width=\"560\" "
        svg += "height=\"\(counts.count * rowHeight + 24)\" viewBox=\"0 0 560 \(counts.count * rowHeight + 24)\">"
        svg +=
            "<rect x=\"140\" y=\"2\" width=\"12\" height=\"12\" class=\"crm\"/><text x=\"158\" y=\"13\">to CRM</text>"
        svg +=
            "<rect x=\"240\" y=\"2\" width=\"12\" height=\"12\" class=\"local\"/><text x=\"258\" y=\"13\">to local</text>"
        for (index, (_, label, toCRM, toLocal)) in counts.enumerated() {
            let y = 24 + index * rowHeight
            svg += "<text x=\"0\" y=\"\(y + 18)\">\(label)</text>"
            for (offset, value, css) in [(0, toCRM, "crm"), (14, toLocal ?? 0, "local")] {
                let width = value == 0 ? 0 : max(2, Int(Double(value) / Double(largest) * 340))
                svg += "<rect x=\"140\" y=\"\(y + offset)\" width=\"\(width)\" height=\"12\" class=\"\(css)\"/>"
                svg += "<text x=\"\(146 + width)\" y=\"\(y + offset + 11)\" class=\"n\">\(value)</text>"
            }
        }
        return svg + "</svg>"
    }

    /// Text as HTML: neutralised first (controls, bidi and other invisible format characters as `<U+XXXX>`), then
    /// every character that means something in HTML escaped.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in ReportText.neutralized(text) {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1b1b}h1{font-size:1.4em}\
        table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;\
        vertical-align:top}#counts td{text-align:right}code{white-space:pre-wrap;word-break:break-all}\
        .meta,.none{color:#555}.warn{color:#9b2c2c;font-weight:600}svg text{font:12px system-ui,sans-serif}rect.crm{fill:#2b6cb0}rect.local{fill:#c05621}\
        form label{margin-right:1em}tr[hidden]{display:none}
        """

    static let script = """
        (function(){var f=['direction','kind','rule'];var rows=document.querySelectorAll('tr[data-kind]');\
        var params=new URLSearchParams(location.hash.slice(1));f.forEach(function(n){var v=params.get(n);\
        var s=document.getElementById(n);if(v!==null){for(var i=0;i<s.options.length;i++){if(s.options[i].value===v)\
        {s.value=v;}}}s.addEventListener('change',apply);});function apply(){var shown=0;rows.forEach(function(r){\
        var ok=f.every(function(n){var v=document.getElementById(n).value;return v===''||r.dataset[n]===v;});\
        r.hidden=!ok;if(ok){shown++;}});document.getElementById('shown').textContent=shown+' of '+rows.length+\
        ' changes shown';document.body.dataset.shown=String(shown);}apply();})();
        """

    /// Only the page's own style sheet and script, by hash; nothing from the network.
    static let policy: String = {
        func hash(_ text: String) -> String { Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString() }
        return "default-src 'none'; style-src 'sha256-\(hash(style))'; script-src 'sha256-\(hash(script))'; "
            + "base-uri 'none'; form-action 'none'"
    }()
}
