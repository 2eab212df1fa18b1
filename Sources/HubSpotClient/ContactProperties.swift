import Foundation
import SyncCore

/// One property definition of the contact object as HubSpot's JSON has it (contract 0.1).
struct HubSpotPropertyDefinition: Decodable, Sendable {
    var definition: CRMPropertyDefinition

    enum CodingKeys: String, CodingKey { case name, type, fieldType, options, calculated, modificationMetadata }
    struct Option: Decodable { var value: String }
    struct Modification: Decodable { var readOnlyValue: Bool? }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        definition = CRMPropertyDefinition(
            name: try container.decode(String.self, forKey: .name),
            type: CRMPropertyDefinition.Kind(rawValue: try container.decodeIfPresent(String.self, forKey: .type) ?? "")
                ?? .other,
            fieldType: try container.decodeIfPresent(String.self, forKey: .fieldType),
            options: try container.decodeIfPresent([Option].self, forKey: .options)?.map(\.value) ?? [],
            calculated: try container.decodeIfPresent(Bool.self, forKey: .calculated) ?? false,
            readOnlyValue: try container.decodeIfPresent(Modification.self, forKey: .modificationMetadata)?
                .readOnlyValue ?? false)
    }
}

extension HubSpotClient {
    /// The contact object's property definitions (needs the `crm.schemas.contacts.read` scope).
    public func contactProperties() async throws -> [CRMPropertyDefinition] {
        struct Reply: Decodable { var results: [HubSpotPropertyDefinition] }
        return try await perform(Call(method: "GET", to: .contactProperties), as: Reply.self).results.map(\.definition)
    }
}
