import Foundation

/// The generation of HubSpot's API a request came in on: the legacy numeric paths or a date version.
///
/// The mock serves every endpoint under each generation where HubSpot has it (contract section 0); the
/// handlers differ only where HubSpot does (write validation from 2026-09, the definitions' shape).
enum MockAPIGeneration: Sendable, Equatable {
    case legacy
    case dated(String)

    /// Every generation served, legacy first.
    static let served: [MockAPIGeneration] = [.legacy, .dated("2026-03"), .dated("2026-09")]

    /// `/crm/v3/objects/contacts` or `/crm/objects/2026-09/contacts`.
    var contacts: String {
        switch self {
        case .legacy: "/crm/v3/objects/contacts"
        case .dated(let version): "/crm/objects/\(version)/contacts"
        }
    }

    /// Property definitions of the contact object (`0-1` is the object type id of contacts).
    var properties: [String] {
        switch self {
        case .legacy: ["/crm/v3/properties/contacts", "/crm/v3/properties/0-1"]
        case .dated(let version): ["/crm/properties/\(version)/contacts", "/crm/properties/\(version)/0-1"]
        }
    }

    /// The subscription statuses API: v4 on the legacy generation.
    var statuses: String {
        switch self {
        case .legacy: "/communication-preferences/v4/statuses"
        case .dated(let version): "/communication-preferences/\(version)/statuses"
        }
    }

    var definitions: String {
        switch self {
        case .legacy: "/communication-preferences/v3/definitions"
        case .dated(let version): "/communication-preferences/\(version)/definitions"
        }
    }

    /// HubSpot enforces the portal's required properties on API writes from 2026-09 on.
    var enforcesRequiredProperties: Bool {
        if case .dated(let version) = self { return version >= "2026-09" }
        return false
    }

    /// The path in legacy form, so that fault filters and counts written for `/crm/v3/...` match every
    /// generation: `/crm/objects/2026-09/contacts/search` → `/crm/v3/objects/contacts/search`.
    static func legacyForm(of path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // "", "crm", "objects", "2026-09", ... → "", "crm", "v3", "objects", ...
        guard parts.count > 3, isDateVersion(parts[3]) || isDateVersion(parts[2]) else { return path }
        if parts[1] == "crm", parts[2] == "objects" || parts[2] == "properties", isDateVersion(parts[3]) {
            return (["", "crm", "v3", parts[2]] + parts[4...]).joined(separator: "/")
        }
        if parts[1] == "communication-preferences", isDateVersion(parts[2]) {
            let generation = parts[3] == "definitions" ? "v3" : "v4"
            return (["", "communication-preferences", generation] + parts[3...]).joined(separator: "/")
        }
        return path
    }

    static func isDateVersion(_ segment: String) -> Bool {
        segment.count == 7
            && segment.enumerated().allSatisfy { index, character in
                index == 4 ? character == "-" : character.isNumber
            }
    }
}
