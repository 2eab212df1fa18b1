import Foundation

/// What the gate decided for one API request, before its handler runs.
enum GateDecision: Sendable {
    /// Answer at once (401, 429, an injected 5xx).
    case answer(MockReply)
    /// Run the handler; add these headers; wait this long first; then maybe break the response.
    case proceed(headers: [String: String], latencyMs: Int, breakage: Breakage?)

    enum Breakage: Sendable {
        case drop
        case truncate
    }
}

extension MockCRM {
    /// Auth, limits and faults, in that order, as HubSpot's edge would apply them.
    func admit(method: String, path: String, authorization: String?, token: String) -> GateDecision {
        guard authorization == "Bearer \(token)" else {
            return .answer(
                .json(
                    401,
                    HubSpotWire.error(
                        category: "INVALID_AUTHENTICATION",
                        message:
                            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
                    )))
        }
        if let scopes = configuration.scopes, let needed = Self.requiredScopes(method: method, path: path),
            !needed.contains(where: scopes.contains)
        {
            return .answer(.missingScopes(needed))
        }
        let isSearch = path.hasSuffix("/search")
        let drawn = faults.draw(path: path, faults: configuration.faults)
        let latency = configuration.latencyMs + drawn.extraLatencyMs
        if drawn.fault == .storm {
            stats.faults["storm", default: 0] += 1
            return .answer(
                rateLimited(
                    policy: "TEN_SECONDLY_ROLLING",
                    headers: isSearch
                        ? [:]
                        : RateLimitWindows.stormHeaders(configuration: configuration, dailyUsed: limits.dailyUsed),
                    retryAfter: 1))
        }
        switch limits.admit(
            isSearch: isSearch, now: Date().timeIntervalSince1970 + limitClockOffset, configuration: configuration)
        {
        case .limited(let policy, let headers, let retryAfter):
            return .answer(rateLimited(policy: policy, headers: headers, retryAfter: retryAfter))
        case .admitted(let headers):
            switch drawn.fault {
            case .serverError(let status):
                stats.faults["serverError", default: 0] += 1
                return .answer(
                    MockReply(
                        status: status, body: HubSpotWire.serverErrorPage, contentType: "text/html", headers: headers))
            case .drop:
                stats.faults["drop", default: 0] += 1
                return .proceed(headers: headers, latencyMs: latency, breakage: .drop)
            case .truncate:
                stats.faults["truncate", default: 0] += 1
                return .proceed(headers: headers, latencyMs: latency, breakage: .truncate)
            case .storm, nil:
                return .proceed(headers: headers, latencyMs: latency, breakage: nil)
            }
        }
    }

    private func rateLimited(policy: String, headers: [String: String], retryAfter: Int) -> MockReply {
        var reply = MockReply.json(429, HubSpotWire.rateLimited(policy: policy))
        reply.headers = headers
        if configuration.retryAfter { reply.headers["Retry-After"] = String(retryAfter) }
        return reply
    }

    /// Records one finished API request in the journal and the statistics.
    func record(method: String, path: String, query: String, status: Int) {
        let now = self.now
        journal.append(
            MockJournalEntry(
                method: method, path: path, query: query, status: status, at: now,
                isMutating: Self.isMutating(method: method, path: path)))
        stats.count(endpoint: "\(method) \(Self.endpointName(path))", at: now)
        if status == 429 { stats.tooManyRequests += 1 }
    }

    /// The scopes of which a token needs one for this call (nil: the mock checks none for it).
    static func requiredScopes(method: String, path: String) -> [String]? {
        let legacy = MockAPIGeneration.legacyForm(of: path)
        let writes = isMutating(method: method, path: path)
        if legacy.hasPrefix("/crm/v3/objects/contacts") {
            return [writes ? "crm.objects.contacts.write" : "crm.objects.contacts.read"]
        }
        if legacy.hasPrefix("/crm/v3/properties/contacts") || legacy.hasPrefix("/crm/v3/properties/0-1") {
            return ["crm.schemas.contacts.read"]
        }
        if legacy.hasPrefix("/communication-preferences/v4/statuses/batch/") {
            return [
                writes
                    ? "communication_preferences.statuses.batch.write" : "communication_preferences.statuses.batch.read"
            ]
        }
        if legacy.hasPrefix("/communication-preferences/") {
            return writes
                ? ["communication_preferences.write", "communication_preferences.read_write"]
                : ["communication_preferences.read", "communication_preferences.read_write"]
        }
        return nil
    }

    /// Whether a call changes CRM state (reads that travel as POST are not writes).
    static func isMutating(method: String, path: String) -> Bool {
        switch method {
        case "GET", "HEAD": return false
        case "POST":
            let reads = ["/batch/read", "/search", "/unsubscribe-all/read"]
            return !reads.contains { path.hasSuffix($0) }
        default: return true
        }
    }

    /// The path with ids and addresses replaced by `{id}`, for per-endpoint counts.
    static func endpointName(_ path: String) -> String {
        path.split(separator: "/").map { segment -> String in
            segment.allSatisfy(\.isNumber) || segment.contains("@") ? "{id}" : String(segment)
        }.joined(separator: "/").prepending("/")
    }
}

extension String {
    fileprivate func prepending(_ prefix: String) -> String { prefix + self }
}
