import ArgumentParser
import Foundation
import SyncEngine

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract:
            "Checks the portal against sync.json: the token, its scopes, the mapping, the purposes. Writes nothing.",
        discussion: """
            Exit 0 when everything is in order, 78 when the token is refused, a scope is missing, a mapped \
            property does not exist or cannot be written, or a purpose's subscription does not exist or is \
            inactive; 6 when the CRM cannot be reached.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text

    func run() async throws {
        let context = try CommandContext(global)
        let client = try context.client()
        let settings = SyncSettings(context.configuration)
        let check = try await context.performRemote { try await PortalCheck.run(client: client, settings: settings) }
        switch format {
        case .json: print(JSONOutput.render(check))
        case .text: print(Self.text(check, apiVersion: context.configuration.crm.apiVersion.rawValue))
        }
        if !check.isValid { throw ExitStatus.configuration.exitCode }
    }

    static func text(_ check: PortalCheck, apiVersion: String) -> String {
        var lines = ["token: accepted (API \(apiVersion))", "scopes:"]
        for scope in check.scopes {
            lines.append("  \(scope.granted ? "ok     " : "MISSING") \(scope.scope) (\(scope.usedFor))")
        }
        lines.append("mapping: " + (check.mapping.isEmpty ? "every mapped property exists and is writable" : ""))
        for finding in check.mapping { lines.append("  \(finding.key): \(finding.problem)") }
        lines.append("purposes: " + (check.purposes.isEmpty ? "every subscription exists and is active" : ""))
        for finding in check.purposes { lines.append("  \(finding.key): \(finding.problem)") }
        lines.append(check.isValid ? "ready to sync" : "not ready: fix the items above")
        return lines.joined(separator: "\n")
    }
}
