import Foundation

/// Whether the token holds one scope crmsync needs, found by a call that needs it and changes nothing.
public struct ScopeStatus: Sendable, Equatable, Codable {
    public var scope: String
    /// What crmsync does with it.
    public var usedFor: String
    public var granted: Bool
}

extension HubSpotClient {
    public static let schemaScope = "crm.schemas.contacts.read"
    public static let definitionsScope = "communication_preferences.read"

    /// Probes each scope crmsync needs with a call that requires it and writes nothing (reads, and batch
    /// writes with no inputs). `403 MISSING_SCOPES` means the scope is missing; any other answer means the
    /// token got past the scope check. A `401` (the token itself is wrong) is thrown.
    public func checkScopes() async throws -> [ScopeStatus] {
        struct Empty: Encodable { var inputs: [String] = [] }
        let empty = try Self.body(Empty())
        let probes: [(String, String, Call)] = [
            (
                "crm.objects.contacts.read", "pulling contacts",
                Call(method: "GET", to: .contacts, query: [("limit", "1"), ("properties", "email")])
            ),
            (
                "crm.objects.contacts.write", "pushing contacts and GDPR deletes",
                Call(method: "POST", to: .contactsBatch(.update), body: empty)
            ),
            (
                Self.schemaScope, "checking the mapping against property definitions",
                Call(method: "GET", to: .contactProperties)
            ),
            (
                Self.definitionsScope, "checking purposes against subscription types",
                Call(method: "GET", to: .subscriptionDefinitions)
            ),
            (
                "communication_preferences.statuses.batch.read", "reading consent and opt-outs",
                Call(method: "POST", to: .statuses(.batchRead), query: [("channel", "EMAIL")], body: empty)
            ),
            (
                "communication_preferences.statuses.batch.write", "writing consent and opt-outs",
                Call(method: "POST", to: .statuses(.batchWrite), body: empty)
            ),
        ]
        var statuses: [ScopeStatus] = []
        for (scope, usedFor, call) in probes {
            var granted = true
            do {
                _ = try await perform(call) { _ in () }
            } catch let error as HubSpotError where error.status == 403 {
                granted = false
            } catch let error as HubSpotError where error.status == 401 {
                throw error
            } catch let error as HubSpotError where (error.status ?? 0) >= 400 && (error.status ?? 0) < 500 {
                // Refused for the empty body, past the scope check: the scope is there.
            }
            statuses.append(ScopeStatus(scope: scope, usedFor: usedFor, granted: granted))
        }
        return statuses
    }
}
