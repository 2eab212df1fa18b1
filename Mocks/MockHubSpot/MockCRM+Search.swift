import Foundation

extension MockCRM {
    static let dateProperties: Set<String> = ["lastmodifieddate", "createdate"]
    static let numericProperties: Set<String> = ["hs_object_id", "annualrevenue", "numemployees"]

    /// `POST /crm/v3/objects/contacts/search`: filters, one sort, `limit` ≤ 200, never past 10,000 results,
    /// and (when configured) an index that trails writes.
    func search(_ body: Data) -> MockReply {
        guard case .success(let object) = RequestJSON.object(body) else { return .validation("Invalid input JSON") }
        guard body.count <= 3_000 else { return .validation("Request body is too large for search (3,000 characters)") }
        let limit = (object["limit"] as? Int) ?? 10
        guard (1...200).contains(limit) else { return .validation("limit must be between 1 and 200") }
        let after = Int((object["after"] as? String) ?? "0") ?? ((object["after"] as? Int) ?? 0)
        guard after >= 0 else { return .validation("after must be a non-negative offset") }
        guard after < 10_000 else {
            return .validation("Search can not page past 10,000 results", code: "SEARCH_LIMIT", field: "after")
        }
        let groups = (object["filterGroups"] as? [[String: Any]]) ?? []
        let filterGroups = groups.map { ($0["filters"] as? [[String: Any]]) ?? [] }
        guard filterGroups.count <= 5, filterGroups.allSatisfy({ $0.count <= 6 }),
            filterGroups.reduce(0, { $0 + $1.count }) <= 18
        else { return .validation("Too many filters: at most 5 groups of 6, 18 in all") }
        let sorts = (object["sorts"] as? [Any]) ?? []
        guard sorts.count <= 1 else { return .validation("At most one sort") }
        var sortProperty = "hs_object_id"
        var descending = false
        if let sort = sorts.first as? [String: Any] {
            sortProperty = sort["propertyName"] as? String ?? sortProperty
            descending = (sort["direction"] as? String) == "DESCENDING"
        } else if let sort = sorts.first as? String {
            descending = sort.hasPrefix("-")
            sortProperty = descending ? String(sort.dropFirst()) : sort
        }
        let now = self.now
        var matches: [(record: ContactRecord, properties: [String: String], key: SortKey)] = []
        for record in contacts.values where !record.archived {
            // The index catches up on the movable clock (`POST /__mock/advance`), so tests of lag need not wait.
            guard let visible = record.searchable(at: now.addingTimeInterval(limitClockOffset)) else { continue }
            let times = RecordTimes(created: record.createdAt, modified: visible.updatedAt)
            let passes =
                filterGroups.isEmpty
                || filterGroups.contains { group in group.allSatisfy { Self.matches($0, visible.properties, times) } }
            if passes {
                matches.append(
                    (record, visible.properties, SortKey(sortProperty, visible.properties, times, record.id)))
            }
        }
        matches.sort { descending ? $1.key < $0.key : $0.key < $1.key }
        let page = matches.dropFirst(after).prefix(limit)
        let properties = object["properties"] as? [String]
        var body: [String: Any] = [
            "total": matches.count,
            "results": page.map {
                $0.record.json(properties: properties, withHistory: [], propertiesOverride: $0.properties)
            },
        ]
        let next = after + page.count
        if next < matches.count && next < 10_000 { body["paging"] = ["next": ["after": String(next)]] }
        return .json(200, body)
    }

    /// A record's dates as milliseconds, read from the record instead of parsing its ISO 8601 strings on
    /// every search (which made a search over 12,000 records take a quarter of a second).
    struct RecordTimes {
        var created: Double
        var modified: Double

        init(created: Date, modified: Date) {
            self.created = Double(HubSpotWire.milliseconds(created))
            self.modified = Double(HubSpotWire.milliseconds(modified))
        }

        func value(of property: String) -> Double? {
            switch property {
            case "createdate": created
            case "lastmodifieddate": modified
            default: nil
            }
        }
    }

    /// Compares a property the way HubSpot does: dates and numbers as numbers, other text case-insensitively.
    struct SortKey: Comparable {
        var number: Double?
        var text: String
        var id: Int64

        init(_ property: String, _ properties: [String: String], _ times: RecordTimes, _ id: String) {
            let raw = properties[property]
            self.number = times.value(of: property) ?? raw.flatMap { MockCRM.numericValue(property, $0) }
            self.text = raw?.lowercased() ?? ""
            self.id = Int64(id) ?? 0
        }

        static func < (a: SortKey, b: SortKey) -> Bool {
            if let x = a.number, let y = b.number, x != y { return x < y }
            if a.number == nil && b.number == nil && a.text != b.text { return a.text < b.text }
            return a.id < b.id
        }
    }

    static func numericValue(_ property: String, _ raw: String) -> Double? {
        if dateProperties.contains(property) {
            if let parsed = try? Date(raw, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
                return Double(HubSpotWire.milliseconds(parsed))
            }
            return Double(raw)
        }
        return numericProperties.contains(property) ? Double(raw) : nil
    }

    static func matches(_ filter: [String: Any], _ properties: [String: String], _ times: RecordTimes) -> Bool {
        guard let name = filter["propertyName"] as? String, let operation = filter["operator"] as? String else {
            return false
        }
        let actual = properties[name]
        func text(_ any: Any?) -> String? {
            switch any {
            case let string as String: string
            case let number as NSNumber: number.stringValue
            default: nil
            }
        }
        let value = text(filter["value"])
        func compare(_ expected: String?) -> Int? {
            guard let actual, let expected else { return nil }
            if let a = times.value(of: name) ?? numericValue(name, actual),
                let b = Double(expected) ?? numericValue(name, expected)
            {
                return a < b ? -1 : (a > b ? 1 : 0)
            }
            let a = actual.lowercased()
            let b = expected.lowercased()
            return a < b ? -1 : (a > b ? 1 : 0)
        }
        switch operation {
        case "EQ": return compare(value) == 0
        case "NEQ": return compare(value) != 0
        case "LT": return (compare(value) ?? 0) < 0 && actual != nil
        case "LTE": return (compare(value) ?? 1) <= 0 && actual != nil
        case "GT": return (compare(value) ?? 0) > 0 && actual != nil
        case "GTE": return (compare(value) ?? -1) >= 0 && actual != nil
        case "BETWEEN":
            let high = text(filter["highValue"])
            guard let low = compare(value), let top = compare(high) else { return false }
            return low >= 0 && top <= 0
        case "IN", "NOT_IN":
            let values = ((filter["values"] as? [Any]) ?? []).compactMap(text)
            let found = values.contains { compare($0) == 0 }
            return operation == "IN" ? found : !found
        case "HAS_PROPERTY": return actual != nil
        case "NOT_HAS_PROPERTY": return actual == nil
        case "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN":
            let token = (value ?? "").lowercased().replacingOccurrences(of: "*", with: "")
            let found = actual?.lowercased().contains(token) == true
            return operation == "CONTAINS_TOKEN" ? found : !found
        default: return false
        }
    }
}
