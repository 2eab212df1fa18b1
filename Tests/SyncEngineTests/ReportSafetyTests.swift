import Foundation
import MockHubSpot
import SyncCore
import SyncEngine
import SyncModel
import SyncStore
import Testing

/// What a CRM user typed reaches a reviewer as text in every report format: no markup, no bidi reordering.
@Suite struct ReportSafetyTests {
    static let hostile: [String: String] = [
        "city": "<img src=x onerror=alert(1)>",
        "jobtitle": "[login](http://evil.example/login) ![pixel](http://evil.example/p.png)",
        "company": "Acme \u{202E}txt.exe\u{202C} Oy",
        "industry": "**Bold** `tick` | pipe www.evil.example",
    ]

    /// A dry run of one CRM record carrying every hostile value, rendered in `format`, PII shown.
    static func render(_ format: ReportRenderer.Format) async throws -> (String, SyncReport) {
        let fixture = try await EngineFixture()
        var properties = hostile
        properties["email"] = "mallory@example.fi"
        try await fixture.seedCRM([MockSeedContact(properties)])
        let report = try await fixture.sync(dryRun: true)
        return (ReportRenderer.render(report, format: format, showPII: true), report)
    }

    @Test(arguments: ReportRenderer.Format.allCases)
    func noFormatCarriesABidiControl(format: ReportRenderer.Format) async throws {
        let (rendered, report) = try await Self.render(format)
        #expect(report.changes.contains { $0.new == Self.hostile["company"] }, "the value reached the report")
        #expect(!rendered.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x202C })
        switch format {
        case .json: break
        case .html: #expect(rendered.contains("&lt;U+202E&gt;txt.exe&lt;U+202C&gt;"))
        case .text, .markdown: #expect(rendered.contains("<U+202E>txt.exe<U+202C>"))
        }
    }

    @Test func jsonKeepsTheExactValueForMachines() async throws {
        let (rendered, _) = try await Self.render(.json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(rendered.utf8)) as? [String: Any])
        let changes = try #require(object["changes"] as? [[String: Any]])
        let values = Set(changes.compactMap { $0["new"] as? String })
        for value in Self.hostile.values { #expect(values.contains(value)) }
        #expect(rendered.contains(#"\u202E"#))
    }

    @Test func markdownShowsMarkupAsCodeNeverAsMarkup() async throws {
        let (rendered, _) = try await Self.render(.markdown)
        let rows = rendered.split(separator: "\n").filter { $0.hasPrefix("| ") && $0.contains("→ local") }
        #expect(rows.count >= 4)
        // Every value is a code span: outside code spans no `<`, `[`, `!`, `*` or bare `www.` remains.
        for row in rows {
            let outside = Self.outsideCodeSpans(String(row))
            for mark in ["<", "[", "![", "**", "www.", "http"] { #expect(!outside.contains(mark), "\(row)") }
            // The table keeps its six columns: a `|` in a value is escaped.
            #expect(Self.cells(String(row)) == 6, "\(row)")
        }
        #expect(rendered.contains("`<img src=x onerror=alert(1)>`"))
        #expect(rendered.contains("``**Bold** `tick` \\| pipe www.evil.example``"))
    }

    /// `row` with its code spans removed (backslash-escaped pipes count as text).
    static func outsideCodeSpans(_ row: String) -> String {
        var result = ""
        var index = row.startIndex
        while index < row.endIndex {
            if row[index] == "`" {
                var fenceEnd = index
                while fenceEnd < row.endIndex && row[fenceEnd] == "`" { fenceEnd = row.index(after: fenceEnd) }
                let fence = String(row[index..<fenceEnd])
                if let close = row.range(of: fence, range: fenceEnd..<row.endIndex) {
                    index = close.upperBound
                    continue
                }
            }
            result.append(row[index])
            index = row.index(after: index)
        }
        return result
    }

    static func cells(_ row: String) -> Int {
        outsideCodeSpans(row).replacingOccurrences(of: "\\|", with: "").split(separator: "|").count
    }
}
