import Foundation
import SyncCore
import SyncModel

/// The portal's contact property definitions, read once per run, checked against `mapping` before any
/// write and against every value before it is sent.
struct PortalSchema: Sendable {
    let definitions: [String: CRMPropertyDefinition]
    let mapping: [ContactField: String]

    init(definitions: [CRMPropertyDefinition], mapping: [ContactField: String]) {
        self.definitions = Dictionary(definitions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.mapping = mapping
    }

    static func load(client: any CRMPort, settings: SyncSettings) async throws -> PortalSchema {
        PortalSchema(definitions: try await client.contactProperties(), mapping: settings.mapping)
    }

    /// Mapped properties the portal lacks or does not let the API write, by `mapping` key.
    var mappingProblems: [PortalFinding] {
        mapping.sorted { $0.key < $1.key }.compactMap { field, property in
            guard let definition = definitions[property] else {
                return PortalFinding(
                    key: "mapping.\(field.rawValue)", problem: "the portal has no contact property \"\(property)\"")
            }
            guard definition.isWritable else {
                let why = definition.calculated ? "calculated" : "read-only"
                return PortalFinding(
                    key: "mapping.\(field.rawValue)",
                    problem: "\"\(property)\" is \(why) in the portal: the API cannot write it")
            }
            return nil
        }
    }

    /// Why a plan's CRM write is refused before it is sent (nil: it fits), as the report and the quarantine say it.
    func refusal(of plan: ContactPlan) -> String? {
        let problems = problems(in: plan.toCRMProperties)
        return problems.isEmpty ? nil : "not sent: " + problems.joined(separator: "; ")
    }

    /// Why values cannot be sent, one line per field (field names and the rule, never the values).
    func problems(in properties: [String: String]) -> [String] {
        let fields = Dictionary(mapping.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
        return properties.sorted { $0.key < $1.key }.compactMap { property, value in
            guard !value.isEmpty, let problem = definitions[property]?.problem(with: value) else { return nil }
            return "\(fields[property]?.rawValue ?? property) \(problem)"
        }
    }
}

/// One thing `crmsync check` (or the start of a run) found wrong, by the `sync.json` key it concerns.
public struct PortalFinding: Sendable, Equatable, Codable {
    /// `mapping.lastName`, `purposes.blog`, or a scope name.
    public var key: String
    public var problem: String
}

/// The portal checked against the configuration: token, scopes, mapping, purposes.
public struct PortalCheck: Sendable, Codable {
    public var scopes: [ScopeStatus] = []
    public var mapping: [PortalFinding] = []
    public var purposes: [PortalFinding] = []

    public var isValid: Bool { scopes.allSatisfy(\.granted) && mapping.isEmpty && purposes.isEmpty }

    /// Every check against the portal: which scopes the token lacks, whether each mapped property exists and
    /// is writable, whether each purpose's subscription exists and is active. Writes nothing.
    public static func run(client: any CRMPort, settings: SyncSettings) async throws -> PortalCheck {
        var check = PortalCheck()
        check.scopes = try await client.checkScopes()
        if check.scopes.first(where: { $0.capability == .readPropertyDefinitions })?.granted != false {
            check.mapping = try await PortalSchema.load(client: client, settings: settings).mappingProblems
        }
        if check.scopes.first(where: { $0.capability == .readSubscriptionDefinitions })?.granted != false {
            let definitions = try await client.subscriptionDefinitions()
            for (purpose, subscription) in settings.subscriptions.sorted(by: { $0.key < $1.key }) {
                guard let definition = definitions.first(where: { $0.id == subscription.subscriptionId }) else {
                    check.purposes.append(
                        PortalFinding(
                            key: "purposes.\(purpose.rawValue)",
                            problem: "subscription \(subscription.subscriptionId) does not exist in the portal"))
                    continue
                }
                if definition.isActive == false {
                    check.purposes.append(
                        PortalFinding(
                            key: "purposes.\(purpose.rawValue)",
                            problem: "subscription \(subscription.subscriptionId) is not active in the portal"))
                }
            }
        }
        return check
    }
}
