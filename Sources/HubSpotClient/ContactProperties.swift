import Foundation

/// One property definition of the contact object (contract 0.1): its type, options and whether the API may
/// write it.
public struct CRMPropertyDefinition: Decodable, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case string, number, date, datetime, enumeration, bool
        case other
    }

    public var name: String
    public var type: Kind
    public var fieldType: String?
    /// The allowed values of an enumeration, exactly as they must be written.
    public var options: [String]
    public var calculated: Bool
    public var readOnlyValue: Bool

    public init(
        name: String, type: Kind, fieldType: String? = nil, options: [String] = [], calculated: Bool = false,
        readOnlyValue: Bool = false
    ) {
        self.name = name
        self.type = type
        self.fieldType = fieldType
        self.options = options
        self.calculated = calculated
        self.readOnlyValue = readOnlyValue
    }

    /// Whether the API may set it: neither read-only nor calculated.
    public var isWritable: Bool { !readOnlyValue && !calculated }

    enum CodingKeys: String, CodingKey { case name, type, fieldType, options, calculated, modificationMetadata }
    struct Option: Decodable { var value: String }
    struct Modification: Decodable { var readOnlyValue: Bool? }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        type = Kind(rawValue: try container.decodeIfPresent(String.self, forKey: .type) ?? "") ?? .other
        fieldType = try container.decodeIfPresent(String.self, forKey: .fieldType)
        options = try container.decodeIfPresent([Option].self, forKey: .options)?.map(\.value) ?? []
        calculated = try container.decodeIfPresent(Bool.self, forKey: .calculated) ?? false
        readOnlyValue =
            try container.decodeIfPresent(Modification.self, forKey: .modificationMetadata)?.readOnlyValue ?? false
    }

    /// Why `value` cannot be written to this property (without quoting the value); nil when it fits.
    public func problem(with value: String) -> String? {
        switch type {
        case .string, .other:
            return nil
        case .enumeration:
            // Multi-select (checkbox) properties take several options separated by semicolons.
            let values = fieldType == "checkbox" ? value.split(separator: ";").map(String.init) : [value]
            return values.allSatisfy(options.contains)
                ? nil : "is not one of the \(options.count) options of \(name) (values must match exactly)"
        case .number:
            let plain = value.allSatisfy { $0.isNumber || $0 == "." || $0 == "-" || $0 == "e" || $0 == "E" }
            return plain && Double(value) != nil ? nil : "is not a number \(name) accepts (digits, no separators)"
        case .bool:
            return ["true", "false"].contains(value) ? nil : "is not true or false, as \(name) needs"
        case .date:
            return Int64(value) != nil || (value.count == 10 && HubSpotTime.parse(value + "T00:00:00Z") != nil)
                ? nil : "is not a date (YYYY-MM-DD) for \(name)"
        case .datetime:
            return Int64(value) != nil || HubSpotTime.parse(value) != nil ? nil : "is not a date and time for \(name)"
        }
    }
}

extension HubSpotClient {
    /// The contact object's property definitions (needs the `crm.schemas.contacts.read` scope).
    public func contactProperties() async throws -> [CRMPropertyDefinition] {
        struct Reply: Decodable { var results: [CRMPropertyDefinition] }
        return try await perform(Call(method: "GET", to: .contactProperties), as: Reply.self).results
    }
}
