import Foundation

/// Query parameters of one request, already decoded.
typealias Query = [String: String]

extension Query {
    func list(_ name: String) -> [String]? {
        guard let raw = self[name], !raw.isEmpty else { return nil }
        return raw.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }

    func flag(_ name: String) -> Bool { self[name]?.lowercased() == "true" }
}

extension MockCRM {
    /// `GET /crm/v3/objects/contacts`: cursor paging in id order; `archived=true` lists archived records only.
    func listContacts(_ query: Query) -> MockReply {
        let history = query.list("propertiesWithHistory") ?? []
        let maximum = history.isEmpty ? 100 : 50
        let limit = Int(query["limit"] ?? "10") ?? -1
        guard (1...maximum).contains(limit) else {
            return .validation("limit must be between 1 and \(maximum)")
        }
        let archived = query.flag("archived")
        var start = 0
        if let after = query["after"], !after.isEmpty {
            guard let decoded = Self.decodeCursor(after) else { return .validation("Invalid after cursor") }
            start = Self.firstIndex(in: orderedIds, after: decoded)
        }
        var results: [[String: Any]] = []
        var index = start
        var lastId: String?
        while index < orderedIds.count && results.count < limit {
            let id = orderedIds[index]
            index += 1
            guard let record = contacts[id], record.archived == archived else { continue }
            var json = record.json(properties: query.list("properties"), withHistory: history)
            if let associations = Self.emptyAssociations(query) { json["associations"] = associations }
            results.append(json)
            lastId = id
        }
        var body: [String: Any] = ["results": results]
        let more = orderedIds[index...].contains { contacts[$0]?.archived == archived }
        if more, let lastId {
            let cursor = Self.encodeCursor(lastId)
            body["paging"] = ["next": ["after": cursor, "link": "/crm/v3/objects/contacts?after=\(cursor)"]]
        }
        return .json(200, body)
    }

    /// Cursors are opaque to clients: base64 of the last id returned.
    static func encodeCursor(_ id: String) -> String { Data(id.utf8).base64EncodedString() }
    static func decodeCursor(_ cursor: String) -> String? {
        Data(base64Encoded: cursor).map { String(decoding: $0, as: UTF8.self) }.flatMap { Int64($0) != nil ? $0 : nil }
    }

    /// Index of the first id greater than `after` (ids are equal-length digit strings, ascending).
    static func firstIndex(in ids: [String], after: String) -> Int {
        var low = 0
        var high = ids.count
        while low < high {
            let middle = (low + high) / 2
            if Self.idLess(ids[middle], after) || ids[middle] == after { low = middle + 1 } else { high = middle }
        }
        return low
    }

    static func idLess(_ a: String, _ b: String) -> Bool { a.count != b.count ? a.count < b.count : a < b }

    /// `GET /crm/v3/objects/contacts/{id}`; merged ids return the survivor.
    func getContact(_ key: String, _ query: Query) -> MockReply {
        let byEmail = query["idProperty"] == "email"
        guard let record = resolve(key, byEmail: byEmail, includeArchived: query.flag("archived")) else {
            return .notFound()
        }
        var json = record.json(
            properties: query.list("properties"), withHistory: query.list("propertiesWithHistory") ?? [])
        if let associations = Self.emptyAssociations(query) { json["associations"] = associations }
        return .json(200, json)
    }

    /// Asked-for associations (`associations=companies,deals`): none are modelled, so each is empty.
    static func emptyAssociations(_ query: Query) -> [String: Any]? {
        guard let types = query.list("associations") else { return nil }
        var associations: [String: Any] = [:]
        for type in types { associations[type] = ["results": [Any]()] }
        return associations
    }

    /// `POST /crm/v3/objects/contacts`.
    func createContact(_ body: Data, generation: MockAPIGeneration = .legacy) -> MockReply {
        guard case .success(let object) = RequestJSON.object(body) else { return .validation("Invalid input JSON") }
        switch Self.validate(object["properties"]) {
        case .failure(let problem):
            return .validation(problem.message, code: problem.code, field: problem.property)
        case .success(let properties):
            if let missing = missingRequiredProperties(after: properties, on: generation) {
                return Self.requiredPropertyReply(code: missing.code, properties: missing.properties)
            }
            if let email = properties["email"] ?? nil {
                if let existing = emailIndex[email] {
                    return .error(409, "CONFLICT", "Contact already exists. Existing ID: \(existing)")
                }
                if blocklist.contains(email) {
                    return .validation(
                        "Email address is blocklisted after a GDPR delete", code: "BLOCKED_EMAIL", field: "email")
                }
            }
            return .json(201, insertContact(properties).json(properties: nil, withHistory: []))
        }
    }

    /// `PATCH /crm/v3/objects/contacts/{id}`.
    func patchContact(_ key: String, _ query: Query, _ body: Data, generation: MockAPIGeneration = .legacy)
        -> MockReply
    {
        guard let record = resolve(key, byEmail: query["idProperty"] == "email") else { return .notFound() }
        guard case .success(let object) = RequestJSON.object(body) else { return .validation("Invalid input JSON") }
        switch Self.validate(object["properties"]) {
        case .failure(let problem):
            return .validation(problem.message, code: problem.code, field: problem.property)
        case .success(let properties):
            if let missing = missingRequiredProperties(after: Self.merged(record, properties), on: generation) {
                return Self.requiredPropertyReply(code: missing.code, properties: missing.properties)
            }
            switch updateContact(record.id, properties) {
            case .success(let updated): return .json(200, updated.json(properties: nil, withHistory: []))
            case .failure(let problem) where problem.category == "CONFLICT":
                return .error(409, "CONFLICT", problem.message)
            case .failure(let problem):
                return .validation(problem.message, code: problem.code, field: problem.property)
            }
        }
    }

    /// `DELETE /crm/v3/objects/contacts/{id}`: archives. Archiving does not move `lastmodifieddate`.
    func archiveContact(_ key: String) -> MockReply {
        guard let record = resolve(key, byEmail: false) else { return .notFound() }
        archive(record.id)
        return .noContent()
    }

    func archive(_ id: String) {
        guard var record = contacts[id], !record.archived else { return }
        record.archived = true
        if let email = record.email, emailIndex[email] == id { emailIndex.removeValue(forKey: email) }
        contacts[id] = record
    }

    /// `POST /crm/v3/objects/contacts/merge`: the survivor gets a new id; both old ids become aliases.
    func merge(_ body: Data) -> MockReply {
        guard case .success(let object) = RequestJSON.object(body),
            let primaryKey = object["primaryObjectId"] as? String, let otherKey = object["objectIdToMerge"] as? String
        else { return .validation("primaryObjectId and objectIdToMerge are required") }
        guard let primary = resolve(primaryKey, byEmail: false), let other = resolve(otherKey, byEmail: false) else {
            return .notFound()
        }
        guard primary.id != other.id else { return .validation("Cannot merge an object with itself") }
        let mergedIds = primary.mergedIds + other.mergedIds + [primary.id, other.id]
        guard mergedIds.count <= 250 else {
            return .validation("A record can take part in at most 250 merges", code: "MERGE_LIMIT", field: "")
        }
        let now = self.now
        let id = issueId()
        var properties = other.properties
        for (name, value) in primary.properties { properties[name] = value }
        var history = other.history
        for (name, changes) in primary.history { history[name] = changes }
        properties["hs_object_id"] = id
        properties["hs_merged_object_ids"] = mergedIds.joined(separator: ";")
        // The merged record's address stays on the survivor as a secondary one (`hs_additional_emails`).
        let secondary = Set(
            primary.additionalEmails + other.additionalEmails + [primary.email, other.email].compactMap { $0 }
        ).subtracting([properties["email"]].compactMap { $0 })
        if secondary.isEmpty {
            properties.removeValue(forKey: "hs_additional_emails")
        } else {
            properties["hs_additional_emails"] = secondary.sorted().joined(separator: ";")
        }
        properties["createdate"] = HubSpotWire.timestamp(min(primary.createdAt, other.createdAt))
        var survivor = ContactRecord(
            id: id, properties: properties, history: history, createdAt: min(primary.createdAt, other.createdAt),
            updatedAt: now, mergedIds: mergedIds)
        survivor.touch(at: now)
        for old in [primary, other] {
            removeContact(old.id)
            aliases[old.id] = id
            for merged in old.mergedIds { aliases[merged] = id }
        }
        // Every address either record carried (their secondary ones too) now finds the survivor.
        for email in [primary.email, other.email].compactMap({ $0 }) { emailIndex[email] = id }
        for (email, target) in emailIndex where target == primary.id || target == other.id { emailIndex[email] = id }
        contacts[id] = survivor
        return .json(200, survivor.json(properties: nil, withHistory: []))
    }

    /// `POST /crm/v3/objects/contacts/gdpr-delete`: permanent; an unknown email is blocklisted.
    func gdprDelete(_ body: Data) -> MockReply {
        guard case .success(let object) = RequestJSON.object(body), let key = object["objectId"] as? String else {
            return .validation("objectId is required")
        }
        let byEmail = (object["idProperty"] as? String) == "email"
        if let record = resolve(key, byEmail: byEmail, includeArchived: true) {
            // Every address the record holds (a merge leaves the merged record's address on its survivor) loses
            // its statuses with it.
            let held = emailIndex.filter { $0.value == record.id }.map(\.key)
            let emails = Array(Set([record.email, byEmail ? key.lowercased() : nil].compactMap { $0 } + held))
            removeContact(record.id)
            for email in emails {
                subscribers.removeValue(forKey: email)
                if emailIndex[email] != nil, contacts[emailIndex[email]!] == nil {
                    emailIndex.removeValue(forKey: email)
                }
            }
            // Aliases of a merged record point nowhere now: they read as 404 like the record.
            for (alias, target) in aliases where target == record.id { aliases.removeValue(forKey: alias) }
            return .noContent()
        }
        guard byEmail else { return .notFound() }
        let email = key.lowercased()
        guard Self.isValidEmail(email) else {
            return .validation("Email address is invalid", code: "INVALID_EMAIL", field: "objectId")
        }
        blocklist.insert(email)
        subscribers.removeValue(forKey: email)
        return .noContent()
    }
}
