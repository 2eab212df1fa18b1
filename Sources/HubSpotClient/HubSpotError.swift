import Foundation
import SyncCore

/// A HubSpot call that did not succeed, with what a user can act on. Never carries an email, a name or
/// the token: CRM messages that may quote personal data are kept out of ``errorDescription``.
public struct HubSpotError: CRMError, LocalizedError, Sendable {
    private enum Code: Sendable, Equatable {
        case http
        case dailyLimit
        case dailyBudget
        case transport
        case malformedResponse
        case retriesExhausted
    }

    private let code: Code
    /// The HTTP status, when the CRM answered.
    public let status: Int?
    /// HubSpot's category (`VALIDATION_ERROR`, `OBJECT_NOT_FOUND`, …), when the body said one.
    public let category: String?
    /// Set when the portal refused a write for missing required properties.
    public let requiredProperties: RequiredPropertyRefusal?
    /// `X-HubSpot-Correlation-Id`, to quote to HubSpot support.
    public let correlationId: String?
    /// The operation, e.g. `POST /crm/v3/objects/contacts/batch/upsert`.
    public let endpoint: String
    let detail: String

    private init(
        _ code: Code, endpoint: String, status: Int? = nil, category: String? = nil, correlationId: String? = nil,
        requiredProperties: RequiredPropertyRefusal? = nil, detail: String
    ) {
        self.code = code
        self.endpoint = endpoint
        self.status = status
        self.category = category
        self.requiredProperties = requiredProperties
        self.correlationId = correlationId
        self.detail = detail
    }

    static func http(_ response: HTTPResponse, endpoint: String) -> HubSpotError {
        let body = try? JSONDecoder().decode(ErrorBody.self, from: response.body)
        let category = body?.category ?? body?.policyName.map { _ in "RATE_LIMITS" }
        let refusal = RequiredPropertyRefusal(errors: body?.errors, context: body?.context)
        var detail = body == nil ? "non-JSON error body" : "category \(category ?? "unknown")"
        if let refusal { detail += ", \(refusal.code) \(refusal.properties.joined(separator: ", "))" }
        return HubSpotError(
            .http, endpoint: endpoint, status: response.status, category: category,
            correlationId: response.header("X-HubSpot-Correlation-Id") ?? body?.correlationId,
            requiredProperties: refusal, detail: detail)
    }

    static func dailyLimit(endpoint: String) -> HubSpotError {
        .init(
            .dailyLimit, endpoint: endpoint, status: 429, category: "RATE_LIMITS",
            detail: "HubSpot's DAILY limit is reached; stop until tomorrow (UTC midnight)")
    }

    static func dailyBudget(endpoint: String, budget: Int) -> HubSpotError {
        .init(.dailyBudget, endpoint: endpoint, detail: "the configured daily budget of \(budget) requests is spent")
    }

    static func transport(_ error: TransportError, endpoint: String) -> HubSpotError {
        .init(.transport, endpoint: endpoint, detail: error.description)
    }

    static func malformed(endpoint: String, status: Int, what: String) -> HubSpotError {
        .init(
            .malformedResponse, endpoint: endpoint, status: status,
            detail: "the response is not the JSON expected (\(what))")
    }

    static func retriesExhausted(after attempts: Int, last: HubSpotError) -> HubSpotError {
        .init(
            .retriesExhausted, endpoint: last.endpoint, status: last.status, category: last.category,
            correlationId: last.correlationId, requiredProperties: last.requiredProperties,
            detail: "gave up after \(attempts) attempts; last: \(last.detail)")
    }

    /// The account's daily limit or crmsync's own daily budget is spent: stop, do not retry.
    public var isDailyLimit: Bool { code == .dailyLimit || code == .dailyBudget }
    public var isNotFound: Bool { status == 404 }
    /// The CRM could not be reached or kept failing (5xx, timeouts, dropped connections).
    public var isUnavailable: Bool {
        code == .transport || (code == .retriesExhausted && (status == nil || (status ?? 0) >= 500))
    }

    /// HubSpot's category (or `HTTP`) and the status, or `no answer`.
    public var summary: String { "\(category ?? "HTTP") \(status.map(String.init) ?? "no answer")" }

    public var errorDescription: String? {
        var text = "HubSpot \(endpoint)"
        if let status { text += " answered \(status)" }
        text += ": \(detail)"
        if let correlationId { text += " (correlation id \(correlationId))" }
        return text
    }
}

/// HubSpot's error body (contract section 8) and 429 body (section 7).
struct ErrorBody: Decodable {
    var status: String?
    var message: String?
    var category: String?
    var correlationId: String?
    var policyName: String?
    var errorType: String?
    var errors: [ErrorDetail]?
    var context: ErrorContext?
}

/// One entry of an error body's `errors`: a code such as `MISSING_REQUIRED_PROPERTY`, and its context.
struct ErrorDetail: Decodable, Sendable {
    var code: String?
    var message: String?
    var context: ErrorContext?
}

/// The context of an error: ids of batch inputs, property names of a validation failure.
struct ErrorContext: Decodable, Sendable {
    var ids: [String]?
    var propertyName: [String]?
}

extension RequiredPropertyRefusal {
    static let codes: Set<String> = ["MISSING_REQUIRED_PROPERTY", "MISSING_CONDITIONAL_REQUIRED_PROPERTY"]

    /// The refusal an error body describes, if it is one (HubSpot 2026-09 on).
    init?(errors: [ErrorDetail]?, context: ErrorContext?) {
        let details = (errors ?? []).filter { $0.code.map(Self.codes.contains) ?? false }
        guard let first = details.first?.code else { return nil }
        var names = details.flatMap { $0.context?.propertyName ?? [] }
        if names.isEmpty { names = context?.propertyName ?? [] }
        self.init(code: first, properties: Array(Set(names)).sorted())
    }
}
