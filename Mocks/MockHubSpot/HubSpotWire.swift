import Foundation

/// How the mock writes HubSpot's JSON: timestamps, error bodies, records. It never borrows the client's
/// types, so a field the client misspells fails a test instead of being mirrored here.
enum HubSpotWire {
    /// `2025-06-02T10:11:12.345Z`, as HubSpot writes times. Plain arithmetic (days to civil date), because
    /// Foundation's ISO 8601 formatting was the mock's hottest path when listing pages.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = milliseconds(date)
        let (dayNumber, msOfDay) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let days = msOfDay < 0 ? dayNumber - 1 : dayNumber
        let ms = msOfDay < 0 ? msOfDay + 86_400_000 : msOfDay
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(ms / 3_600_000, 2)):\(pad(ms / 60_000 % 60, 2)):"
            + "\(pad(ms / 1000 % 60, 2)).\(pad(ms % 1000, 3))Z"
    }

    /// An ISO 8601 time with or without milliseconds.
    static func parseTimestamp(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
    }

    /// Milliseconds since 1970: how search filters and sorts compare dates.
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }

    static func json(_ object: Any) -> Data { JSONWriter.data(object) }

    /// HubSpot's error body (contract section 8).
    static func error(
        category: String, message: String, subCategory: String? = nil, errors: [[String: Any]] = [],
        context: [String: Any] = [:]
    ) -> [String: Any] {
        var body: [String: Any] = [
            "status": "error", "message": message, "correlationId": UUID().uuidString.lowercased(),
            "category": category, "context": context, "links": [String: Any](),
        ]
        if let subCategory { body["subCategory"] = subCategory }
        if !errors.isEmpty { body["errors"] = errors }
        return body
    }

    /// One failed input of a batch, as it appears in the envelope's `errors`.
    static func batchError(category: String, message: String, ids: [String] = [], traceId: String? = nil)
        -> [String: Any]
    {
        var error: [String: Any] = ["status": "error", "category": category, "message": message]
        var context: [String: Any] = [:]
        if !ids.isEmpty { context["ids"] = ids }
        error["context"] = context
        if let traceId { error["objectWriteTraceId"] = traceId }
        return error
    }

    /// The 429 body (contract section 7).
    static func rateLimited(policy: String) -> [String: Any] {
        let name = policy.lowercased()
        return [
            "status": "error", "message": "You have reached your \(name) limit.", "errorType": "RATE_LIMIT",
            "correlationId": UUID().uuidString.lowercased(), "policyName": policy,
        ]
    }

    static let serverErrorPage = Data(
        "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>".utf8)
}

/// What a handler answers: a status, a body and extra headers. Built inside the actor, sent out as bytes.
struct MockReply: Sendable {
    var status: Int
    var body: Data
    var contentType = "application/json;charset=utf-8"
    var headers: [String: String] = [:]

    static func json(_ status: Int, _ object: Any) -> MockReply {
        MockReply(status: status, body: HubSpotWire.json(object))
    }
    /// A value the control surface shares with its typed client, through `Codable`.
    static func encoded(_ status: Int, _ value: some Encodable) -> MockReply {
        guard let body = try? HubSpotWire.controlEncoder().encode(value) else {
            return .error(500, "INTERNAL_ERROR", "unencodable reply")
        }
        return MockReply(status: status, body: body)
    }
    static func noContent() -> MockReply { MockReply(status: 204, body: Data()) }

    static func error(_ status: Int, _ category: String, _ message: String, context: [String: Any] = [:]) -> MockReply {
        .json(status, HubSpotWire.error(category: category, message: message, context: context))
    }

    /// HubSpot's answer to a token that lacks every one of `scopes`.
    static func missingScopes(_ scopes: [String]) -> MockReply {
        .error(
            403, "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
            context: ["requiredGranularScopes": scopes])
    }

    static func notFound(_ what: String = "Object not found") -> MockReply {
        .error(404, "OBJECT_NOT_FOUND", what)
    }

    static func validation(_ message: String, code: String? = nil, field: String? = nil) -> MockReply {
        var errors: [[String: Any]] = []
        if let code { errors.append(["message": message, "in": field ?? "", "code": code]) }
        return .json(400, HubSpotWire.error(category: "VALIDATION_ERROR", message: message, errors: errors))
    }
}

/// A parsed request body: a JSON object, or the reply that says why it is not one.
enum RequestJSON {
    static func object(_ data: Data) -> Result<[String: Any], ReplyError> {
        guard !data.isEmpty else { return .failure(ReplyError(.validation("Request body is required"))) }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return .failure(ReplyError(.validation("Invalid input JSON: the body is not a JSON object")))
        }
        return .success(object)
    }
}

/// A reply thrown from deep inside a handler.
struct ReplyError: Error {
    var reply: MockReply
    init(_ reply: MockReply) { self.reply = reply }
}
