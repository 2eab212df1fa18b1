import Foundation

/// One property definition of the contact object, as the properties API describes it (contract 0.1).
struct PropertyDefinition: Sendable {
    enum Kind: String, Sendable {
        case string, number, date, datetime, enumeration, bool
    }

    var name: String
    var label: String
    var type: Kind
    var fieldType: String
    var options: [String] = []
    var readOnlyValue = false
    var calculated = false

    var isWritable: Bool { !readOnlyValue && !calculated }

    func json() -> [String: Any] {
        [
            "name": name, "label": label, "type": type.rawValue, "fieldType": fieldType,
            "groupName": "contactinformation", "description": "",
            "options": options.enumerated().map { index, value -> [String: Any] in
                ["label": value, "value": value, "displayOrder": index, "hidden": false]
            },
            "calculated": calculated, "hasUniqueValue": false, "hidden": false, "formField": isWritable,
            "modificationMetadata": [
                "archivable": !readOnlyValue, "readOnlyDefinition": true, "readOnlyValue": readOnlyValue,
            ],
        ]
    }

    /// The legacy (v1/v2) shape: read-only flags at the top level, no `modificationMetadata`.
    func legacyJSON(displayOrder: Int) -> [String: Any] {
        [
            "name": name, "label": label, "description": "", "groupName": "contactinformation",
            "type": type.rawValue, "fieldType": fieldType,
            "options": options.enumerated().map { index, value -> [String: Any] in
                [
                    "label": value, "value": value, "description": "", "displayOrder": index, "hidden": false,
                    "readOnly": false,
                ]
            },
            "displayOrder": displayOrder, "formField": isWritable, "readOnlyValue": readOnlyValue,
            "readOnlyDefinition": true, "hidden": false, "mutableDefinitionNotDeletable": true,
            "calculated": calculated,
            "externalOptions": false, "deleted": false, "hubspotDefined": true,
        ]
    }

    /// Why `value` does not fit this property, in HubSpot's words (code, message); nil when it fits.
    func problem(with value: String) -> (code: String, message: String)? {
        switch type {
        case .string:
            return nil
        case .enumeration:
            let values = fieldType == "checkbox" ? value.split(separator: ";").map(String.init) : [value]
            if let bad = values.first(where: { !options.contains($0) }) {
                return ("INVALID_OPTION", "\(bad) was not one of the allowed options for \(name)")
            }
            return nil
        case .number:
            return Double(value) == nil || value.contains(",")
                ? ("INVALID_DECIMAL", "\(name) must be a number without thousands separators") : nil
        case .bool:
            return ["true", "false"].contains(value) ? nil : ("INVALID_BOOLEAN", "\(name) must be true or false")
        case .date:
            let isDay = value.count == 10 && HubSpotWire.parseTimestamp(value + "T00:00:00Z") != nil
            return isDay || Int64(value) != nil ? nil : ("INVALID_DATE", "\(name) must be a date (YYYY-MM-DD)")
        case .datetime:
            return Int64(value) != nil || HubSpotWire.parseTimestamp(value) != nil
                ? nil : ("INVALID_DATETIME", "\(name) must be a datetime")
        }
    }
}

extension PropertyDefinition {
    /// The contact properties of a fresh portal that the register uses, plus the system ones. `industry`
    /// is a free string here (HubSpot's is a long enumeration) so that registers keep their own wording.
    static let contactDefaults: [PropertyDefinition] = {
        func text(_ name: String, _ label: String) -> PropertyDefinition {
            PropertyDefinition(name: name, label: label, type: .string, fieldType: "text")
        }
        return [
            text("email", "Email"), text("firstname", "First Name"), text("lastname", "Last Name"),
            PropertyDefinition(name: "phone", label: "Phone Number", type: .string, fieldType: "phonenumber"),
            PropertyDefinition(
                name: "mobilephone", label: "Mobile Phone Number", type: .string, fieldType: "phonenumber"),
            text("address", "Street Address"), text("city", "City"), text("zip", "Postal Code"),
            text("country", "Country/Region"), text("jobtitle", "Job Title"), text("company", "Company Name"),
            text("industry", "Industry"),
            PropertyDefinition(name: "annualrevenue", label: "Annual Revenue", type: .number, fieldType: "number"),
            PropertyDefinition(
                name: "numemployees", label: "Number of Employees", type: .enumeration, fieldType: "select",
                options: ["1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"]),
            PropertyDefinition(
                name: "lifecyclestage", label: "Lifecycle Stage", type: .enumeration, fieldType: "radio",
                options: [
                    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
                    "evangelist", "other",
                ]),
            PropertyDefinition(
                name: "hs_lead_status", label: "Lead Status", type: .enumeration, fieldType: "radio",
                options: [
                    "NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
                    "BAD_TIMING",
                ]),
            PropertyDefinition(
                name: "hs_object_id", label: "Record ID", type: .number, fieldType: "number", readOnlyValue: true),
            PropertyDefinition(
                name: "createdate", label: "Create Date", type: .datetime, fieldType: "date", readOnlyValue: true),
            PropertyDefinition(
                name: "lastmodifieddate", label: "Last Modified Date", type: .datetime, fieldType: "date",
                readOnlyValue: true),
            PropertyDefinition(
                name: "hs_email_optout", label: "Unsubscribed from all email", type: .bool,
                fieldType: "booleancheckbox", options: ["true", "false"], readOnlyValue: true),
            PropertyDefinition(
                name: "hs_marketable_status", label: "Marketing contact status", type: .enumeration,
                fieldType: "select", options: ["true", "false"], readOnlyValue: true),
            PropertyDefinition(
                name: "hs_merged_object_ids", label: "Merged Record IDs", type: .enumeration, fieldType: "checkbox",
                readOnlyValue: true),
            PropertyDefinition(
                name: "hs_additional_emails", label: "Additional email addresses", type: .string,
                fieldType: "textarea", readOnlyValue: true),
            PropertyDefinition(
                name: "hs_analytics_num_visits", label: "Number of Sessions", type: .number, fieldType: "number",
                calculated: true),
        ]
    }()

    static let contactsByName = Dictionary(uniqueKeysWithValues: contactDefaults.map { ($0.name, $0) })
}

extension MockCRM {
    /// `GET /crm/properties/{version}/contacts` (legacy `/crm/v3/properties/contacts`).
    func propertiesReply() -> MockReply {
        .json(200, ["results": PropertyDefinition.contactDefaults.map { $0.json() }])
    }

    /// `GET /properties/v1/contacts/properties` and its v2: the legacy shape, a bare array of definitions.
    func legacyPropertiesReply() -> MockReply {
        .json(200, PropertyDefinition.contactDefaults.enumerated().map { $1.legacyJSON(displayOrder: $0) })
    }

    /// `GET .../properties/contacts/{name}`.
    func propertyReply(_ name: String) -> MockReply {
        guard let definition = PropertyDefinition.contactsByName[name] else {
            return .notFound("Unable to find property \(name)")
        }
        return .json(200, definition.json())
    }

    /// The properties the portal requires that a record would lack after a write (`merged`: its values
    /// after the write), with HubSpot's code; nil when the write satisfies every rule.
    func missingRequiredProperties(after merged: [String: String?], on generation: MockAPIGeneration) -> (
        code: String, properties: [String]
    )? {
        guard generation.enforcesRequiredProperties else { return nil }
        func lacks(_ name: String) -> Bool { (merged[name] ?? nil)?.isEmpty ?? true }
        let missing = configuration.requiredProperties.filter(lacks)
        if !missing.isEmpty { return ("MISSING_REQUIRED_PROPERTY", missing) }
        for rule in configuration.conditionalRequired
        where rule.when.allSatisfy({ (merged[$0.key] ?? nil) == $0.value }) {
            let missing = rule.require.filter(lacks)
            if !missing.isEmpty { return ("MISSING_CONDITIONAL_REQUIRED_PROPERTY", missing) }
        }
        return nil
    }

    /// The `errors` entries and message HubSpot gives a write that misses required properties.
    static func requiredPropertyErrors(code: String, properties: [String]) -> (message: String, errors: [[String: Any]])
    {
        let errors = properties.map { name -> [String: Any] in
            ["code": code, "message": "A value for \(name) must be provided", "context": ["propertyName": [name]]]
        }
        return ("Property values were not valid: required properties are missing", errors)
    }

    /// A record's values after writing `properties` over `existing`.
    static func merged(_ existing: ContactRecord?, _ properties: [String: String?]) -> [String: String?] {
        var values: [String: String?] = existing?.properties.mapValues { Optional($0) } ?? [:]
        for (name, value) in properties { values[name] = value }
        return values
    }

    /// One failed input of a batch that misses required properties, for a 207 envelope.
    static func requiredPropertyBatchError(code: String, properties: [String], ids: [String], traceId: String?)
        -> [String: Any]
    {
        var error = HubSpotWire.batchError(
            category: "VALIDATION_ERROR", message: requiredPropertyErrors(code: code, properties: properties).message,
            ids: ids, traceId: traceId)
        error["errors"] = requiredPropertyErrors(code: code, properties: properties).errors
        var context = error["context"] as? [String: Any] ?? [:]
        context["propertyName"] = properties
        error["context"] = context
        return error
    }

    /// The `400 VALIDATION_ERROR` reply for a write that misses required properties.
    static func requiredPropertyReply(code: String, properties: [String], input: Int? = nil) -> MockReply {
        let (message, errors) = requiredPropertyErrors(code: code, properties: properties)
        return .json(
            400,
            HubSpotWire.error(
                category: "VALIDATION_ERROR", message: input.map { "Input \($0): \(message)" } ?? message,
                errors: errors, context: ["propertyName": properties]))
    }
}
