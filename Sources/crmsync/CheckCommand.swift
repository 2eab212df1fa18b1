import ArgumentParser
import Foundation
import SyncCore
import SyncEngine
import SyncStore

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract:
            "Checks the portal against sync.json: the token, its scopes, the mapping, the purposes. Writes nothing.",
        discussion: """
            Exit 0 when everything is in order, 78 when the token is refused, a scope is missing, a mapped \
            property does not exist or cannot be written, a purpose's subscription does not exist or is \
            inactive, or the store's files are open to other users of the host; 6 when the CRM cannot be reached.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text

    func run() async throws {
        let context = try CommandContext(global)
        let client = try context.client()
        let settings = SyncSettings(context.configuration)
        let check = try await context.performRemote { try await PortalCheck.run(client: client, settings: settings) }
        let store = CommandContext.storeModeWarnings(context.configuration.store.location)
        switch format {
        case .json: print(JSONOutput.render(Output(portal: check, store: store)))
        case .text: print(Self.text(check, store: store, apiVersion: context.configuration.crm.apiVersion.rawValue))
        }
        if !check.isValid || !store.isEmpty { throw ExitStatus.configuration.exitCode }
    }

    /// The portal's findings with the store's file modes beside them (`"store": []` when owner-only).
    struct Output: Encodable {
        var portal: PortalCheck
        var store: [String]

        func encode(to encoder: any Encoder) throws {
            try portal.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(store, forKey: .store)
        }

        enum Key: String, CodingKey { case store }
    }

    static func text(_ check: PortalCheck, store: [String] = [], apiVersion: String) -> String {
        var lines = ["token: accepted (API \(apiVersion))", "scopes:"]
        for scope in check.scopes {
            lines.append("  \(scope.granted ? "ok     " : "MISSING") \(scope.scope) (\(scope.usedFor))")
        }
        lines.append("mapping: " + (check.mapping.isEmpty ? "every mapped property exists and is writable" : ""))
        for finding in check.mapping { lines.append("  \(finding.key): \(finding.problem)") }
        lines.append("purposes: " + (check.purposes.isEmpty ? "every subscription exists and is active" : ""))
        for finding in check.purposes { lines.append("  \(finding.key): \(finding.problem)") }
        lines.append("store files: " + (store.isEmpty ? "owner-only, or not created yet" : ""))
        for warning in store { lines.append("  " + warning) }
        lines.append(check.isValid && store.isEmpty ? "ready to sync" : "not ready: fix the items above")
        return lines.joined(separator: "\n")
    }
}
