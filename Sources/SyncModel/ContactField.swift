/// Every field of a contact that crmsync can synchronise, named as the store's columns.
public enum ContactField: String, CaseIterable, Codable, Sendable, Hashable, Comparable {
    case email
    case firstName
    case lastName
    case phone
    case mobile
    case streetAddress
    case city
    case postalCode
    case country
    case jobTitle
    case company
    case industry
    case revenueBand
    case companySize
    case lifecycleStage
    case source

    /// The HubSpot contact property a field maps to unless `sync.json` says otherwise;
    /// nil for fields that stay local by default.
    public var defaultCRMProperty: String? {
        switch self {
        case .email: "email"
        case .firstName: "firstname"
        case .lastName: "lastname"
        case .phone: "phone"
        case .mobile: "mobilephone"
        case .streetAddress: "address"
        case .city: "city"
        case .postalCode: "zip"
        case .country: "country"
        case .jobTitle: "jobtitle"
        case .company: "company"
        case .industry: "industry"
        case .revenueBand: "annualrevenue"
        case .companySize: "numemployees"
        case .lifecycleStage: "lifecyclestage"
        case .source: nil
        }
    }

    /// Whether a value of this field is a name or contact detail that must be masked in logs and reports.
    public var isPersonal: Bool {
        switch self {
        case .email, .firstName, .lastName, .phone, .mobile, .streetAddress, .postalCode: true
        default: false
        }
    }

    /// Finds a field from a loosely written header (`first_name`, `First Name`, `firstname`).
    public init?(looseName: String) {
        guard let field = ContactField.byFoldedName[ContactField.fold(looseName)] else { return nil }
        self = field
    }

    private static let byFoldedName = Dictionary(uniqueKeysWithValues: allCases.map { (fold($0.rawValue), $0) })

    /// Lower-cased letters and digits only: `First Name`, `first_name` and `firstName` fold alike.
    static func fold(_ name: String) -> String {
        String(name.lowercased().filter { $0.isLetter || $0.isNumber })
    }

    public static func < (lhs: ContactField, rhs: ContactField) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Where a contact first came from, as the privacy notice lists the register's sources.
public enum ContactSource: String, CaseIterable, Codable, Sendable {
    case webForm = "web form"
    case email
    case phone
    case socialMedia = "social media"
    case event
    case publicSource = "public source"
    case `import`

    /// Accepts `web form`, `web_form`, `webForm` alike.
    public init?(looseName: String) {
        if let exact = ContactSource(rawValue: looseName) {
            self = exact
            return
        }
        guard let source = ContactSource.byFoldedName[ContactField.fold(looseName)] else { return nil }
        self = source
    }

    private static let byFoldedName = Dictionary(
        uniqueKeysWithValues: allCases.map { (ContactField.fold($0.rawValue), $0) })
}

/// HubSpot's lifecycle stages, the values `lifecyclestage` accepts.
public enum LifecycleStage: String, CaseIterable, Sendable {
    case subscriber, lead, marketingqualifiedlead, salesqualifiedlead, opportunity, customer, evangelist, other
}
