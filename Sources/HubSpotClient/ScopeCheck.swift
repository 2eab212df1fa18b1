import Foundation
import SyncCore

extension HubSpotClient {
    public static let schemaScope = "crm.schemas.contacts.read"
    public static let definitionsScope = "communication_preferences.read"

    /// Probes each scope crmsync needs with a call that requires it and writes nothing (reads, and batch
    /// writes with no inputs). `403 MISSING_SCOPES` means the scope is missing; any other answer means the
    /// token got past the scope check. A `401` (the token itself is wrong) is thrown.
    public func checkScopes() async throws -> [ScopeStatus] {
        struct Empty: Encodable { var inputs: [String] = [] }
        let empty = try Self.body(Empty())
        let probes: [(String, CRMCapability, String, Call)] = [
            (
                "crm.objects.contacts.read", .readContacts, "pulling contacts",
                Call(method: "GET", to: .contacts, query: [("limit", "1"), ("properties", "email")])
            ),
            (
                "crm.objects.contacts.write", .writeContacts, "pushing contacts and GDPR deletes",
                Call(method: "POST", to: .contactsBatch(.update), body: empty)
            ),
            (
                Self.schemaScope, .readPropertyDefinitions, "checking the mapping against property definitions",
                Call(method: "GET", to: .contactProperties)
            ),
            (
                Self.definitionsScope, .readSubscriptionDefinitions, "checking purposes against subscription types",
                Call(method: "GET", to: .subscriptionDefinitions)
            ),
            (
                "communication_preferences.statuses.batch.read", .readStatuses, "reading consent and opt-outs",
                Call(method: "POST", to: .statuses(.batchRead), query: [("channel", "EMAIL")], body: empty)
            ),
            (
                "communication_preferences.statuses.batch.write", .writeStatuses, "writing consent and opt-outs",
                Call(method: "POST", to: .statuses(.batchWrite), body: empty)
            ),
        ]
        var statuses: [ScopeStatus] = []
        for (scope, capability, usedFor, call) in probes {
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
            statuses.append(ScopeStatus(scope: scope, usedFor: usedFor, granted: granted, capability: capability))
        }
        return statuses
    }
}
