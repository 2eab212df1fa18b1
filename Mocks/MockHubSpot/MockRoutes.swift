import Foundation
import HTTPTypes
import Hummingbird

/// The routes of the HubSpot API the mock serves (contract sections 2–6) and its control surface.
enum MockRoutes {
    static func router<Context: RequestContext>(
        crm: MockCRM, token: String, context: Context.Type = BasicRequestContext.self
    )
        -> Router<Context>
    {
        let router = Router(context: Context.self)
        router.add(middleware: GateMiddleware<Context>(crm: crm, token: token))

        for generation in MockAPIGeneration.served { addAPI(generation, to: router, crm: crm) }
        addLegacyDiscovery(to: router, crm: crm)

        // v3 single-address subscription calls exist only on the legacy generation.
        let v3 = "/communication-preferences/v3"
        router.get(RouterPath("\(v3)/status/email/:email")) { _, context in
            await crm.v3Status(parameter("email", context)).response()
        }
        router.post(RouterPath("\(v3)/subscribe")) { request, _ in
            await crm.v3Change(try await body(request), subscribe: true).response()
        }
        router.post(RouterPath("\(v3)/unsubscribe")) { request, _ in
            await crm.v3Change(try await body(request), subscribe: false).response()
        }

        router.post("/__mock/reset") { _, _ in await crm.reset().response() }
        router.post("/__mock/seed") { request, _ in await crm.seed(try await body(request)).response() }
        router.post("/__mock/advance") { request, _ in await crm.advance(try await body(request)).response() }
        router.post("/__mock/tamper") { request, _ in await crm.tamper(try await body(request)).response() }
        router.get("/__mock/config") { _, _ in await crm.configurationReply().response() }
        router.put("/__mock/config") { request, _ in await crm.configure(try await body(request)).response() }
        router.get("/__mock/journal") { request, _ in await crm.journalReply(query(request)).response() }
        router.get("/__mock/stats") { _, _ in await crm.statsReply().response() }
        return router
    }

    /// The contacts, properties and subscription endpoints of one API generation.
    static func addAPI<Context: RequestContext>(
        _ generation: MockAPIGeneration, to router: Router<Context>, crm: MockCRM
    ) {
        // HubSpot takes an object type's name in the singular too (`/crm/v3/objects/contact`), as some extractors
        // call it while they discover a portal.
        for contacts in [generation.contacts, String(generation.contacts.dropLast())] {
            addContacts(at: contacts, generation, to: router, crm: crm)
        }
        for path in generation.properties {
            router.get(RouterPath(path)) { _, _ in await crm.propertiesReply().response() }
            router.get(RouterPath("\(path)/:name")) { _, context in
                await crm.propertyReply(parameter("name", context)).response()
            }
        }
        addSubscriptions(generation, to: router, crm: crm)
    }

    /// The older property endpoints extractors call while they discover a portal: `/properties/v1/{object}/properties`
    /// and `/properties/v2/{object}/properties` in HubSpot's legacy shape (a bare array) for contacts, `403
    /// MISSING_SCOPES` for any other object, as for a token that holds contact scopes only.
    static func addLegacyDiscovery<Context: RequestContext>(to router: Router<Context>, crm: MockCRM) {
        for version in ["v1", "v2"] {
            router.get(RouterPath("/properties/\(version)/:object/properties")) { _, context in
                let object = parameter("object", context)
                guard object == "contacts" else {
                    return MockReply.missingScopes(["crm.objects.\(object).read"]).response()
                }
                return await crm.legacyPropertiesReply().response()
            }
        }
    }

    /// The contact object's endpoints under `contacts` (its plural or singular path).
    static func addContacts<Context: RequestContext>(
        at contacts: String, _ generation: MockAPIGeneration, to router: Router<Context>, crm: MockCRM
    ) {
        router.get(RouterPath(contacts)) { request, _ in await crm.listContacts(query(request)).response() }
        router.post(RouterPath(contacts)) { request, _ in
            await crm.createContact(try await body(request), generation: generation).response()
        }
        router.post(RouterPath("\(contacts)/search")) { request, _ in
            await crm.search(try await body(request)).response()
        }
        router.post(RouterPath("\(contacts)/merge")) { request, _ in await crm.merge(try await body(request)).response()
        }
        router.post(RouterPath("\(contacts)/gdpr-delete")) { request, _ in
            await crm.gdprDelete(try await body(request)).response()
        }
        router.post(RouterPath("\(contacts)/batch/:operation")) { request, context in
            let data = try await body(request)
            let reply: MockReply
            switch context.parameters.get("operation") {
            case "read": reply = await crm.batchRead(data)
            case "create": reply = await crm.batchCreate(data, generation: generation)
            case "update": reply = await crm.batchUpdate(data, generation: generation)
            case "upsert": reply = await crm.batchUpsert(data, generation: generation)
            case "archive": reply = await crm.batchArchive(data)
            default: reply = .notFound("Unknown batch operation")
            }
            return reply.response()
        }
        router.get(RouterPath("\(contacts)/:id")) { request, context in
            await crm.getContact(parameter("id", context), query(request)).response()
        }
        router.patch(RouterPath("\(contacts)/:id")) { request, context in
            await crm.patchContact(
                parameter("id", context), query(request), try await body(request), generation: generation
            ).response()
        }
        router.delete(RouterPath("\(contacts)/:id")) { _, context in
            await crm.archiveContact(parameter("id", context)).response()
        }
    }

    /// The subscription definitions and statuses of one API generation.
    static func addSubscriptions<Context: RequestContext>(
        _ generation: MockAPIGeneration, to router: Router<Context>, crm: MockCRM
    ) {
        router.get(RouterPath(generation.definitions)) { _, _ in
            await crm.definitionsReply(v4Shaped: generation != .legacy).response()
        }
        let statuses = generation.statuses
        router.post(RouterPath("\(statuses)/batch/read")) { request, _ in
            await crm.v4BatchRead(try await body(request)).response()
        }
        router.post(RouterPath("\(statuses)/batch/write")) { request, _ in
            await crm.v4BatchWrite(try await body(request)).response()
        }
        router.post(RouterPath("\(statuses)/batch/unsubscribe-all/read")) { request, _ in
            await crm.v4UnsubscribeAllRead(try await body(request)).response()
        }
        router.post(RouterPath("\(statuses)/batch/unsubscribe-all")) { request, _ in
            await crm.v4UnsubscribeAllBatch(try await body(request)).response()
        }
        router.post(RouterPath("\(statuses)/:subscriber/unsubscribe-all")) { _, context in
            await crm.v4UnsubscribeAll(emails: [parameter("subscriber", context)]).response()
        }
    }

    static func body(_ request: Request) async throws -> Data {
        var request = request
        let buffer = try await request.collectBody(upTo: 16 * 1024 * 1024)
        return Data(buffer.readableBytesView)
    }

    /// Query parameters; a repeated one (`properties=email&properties=firstname`, as HubSpot's SDKs send
    /// lists) is joined with commas, so it means the same as one comma-separated value.
    static func query(_ request: Request) -> Query {
        var query: Query = [:]
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            let decoded = String(value).removingPercentEncoding ?? String(value)
            if let earlier = query[name], !earlier.isEmpty {
                query[name] = decoded.isEmpty ? earlier : "\(earlier),\(decoded)"
            } else {
                query[name] = decoded
            }
        }
        return query
    }

    static func parameter(_ name: String, _ context: some RequestContext) -> String {
        let raw = context.parameters.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }
}

/// Applies the gate (auth, limits, faults) to every API request, journals it, and breaks responses
/// when a drop or truncation fault strikes. The control surface under `/__mock/` passes untouched.
struct GateMiddleware<Context: RequestContext>: RouterMiddleware {
    let crm: MockCRM
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let path = request.uri.path
        if path.hasPrefix("/__mock/") { return try await next(request, context) }
        let method = request.method.rawValue
        let decision = await crm.admit(
            method: method, path: path, authorization: request.headers[.authorization], token: token)
        var response: Response
        switch decision {
        case .answer(let reply):
            response = reply.response()
        case .proceed(let headers, let latencyMs, let breakage):
            if latencyMs > 0 { try await Task.sleep(for: .milliseconds(latencyMs)) }
            do {
                response = try await next(request, context)
            } catch let error as HTTPError {
                response = MockRoutes.unrouted(method: method, path: path, status: Int(error.status.code)).response()
            }
            for (name, value) in headers { response.headers[HTTPField.Name(name)!] = value }
            if let breakage { response = Self.broken(response, breakage) }
        }
        await crm.record(method: method, path: path, query: request.uri.query ?? "", status: response.status.code)
        return response
    }

    struct InjectedConnectionFault: Error {}

    /// The same head, then half the body (or none) and a closed connection.
    static func broken(_ response: Response, _ breakage: GateDecision.Breakage) -> Response {
        var response = response
        let length = max(response.body.contentLength ?? 64, 2)
        let original = response.body
        response.body = ResponseBody(contentLength: length) { writer in
            if breakage == .truncate {
                let sink = HalfCollector(limit: length / 2)
                try await original.write(sink)
                try await writer.write(sink.buffer)
            }
            throw InjectedConnectionFault()
        }
        return response
    }

    /// Keeps the first `limit` bytes of a body. A class, because `ResponseBody.write` consumes its writer;
    /// used by one task at a time.
    final class HalfCollector: ResponseBodyWriter, @unchecked Sendable {
        let limit: Int
        var buffer = ByteBuffer()
        init(limit: Int) { self.limit = limit }
        func write(_ part: ByteBuffer) async throws {
            var part = part
            let take = min(part.readableBytes, limit - buffer.readableBytes)
            if take > 0, let slice = part.readSlice(length: take) { buffer.writeImmutableBuffer(slice) }
        }
        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

extension MockRoutes {
    /// What HubSpot answers a call the mock has no route for: other CRM objects and schemas need scopes a
    /// contacts-only token lacks (`403 MISSING_SCOPES`); anything else is a JSON `404`.
    static func unrouted(method: String, path: String, status: Int) -> MockReply {
        if status == 404, let object = otherCRMObject(in: path) {
            return .missingScopes(["crm.objects.\(object).read"])
        }
        let category = status == 404 ? "OBJECT_NOT_FOUND" : "VALIDATION_ERROR"
        return .error(status, category, "No route for \(method) \(path)")
    }

    /// `companies` for `/crm/v3/objects/companies/1` or `/crm/objects/2026-09/deals`, `schemas` for the
    /// schemas API, a property definitions path of another object; nil for contacts and non-CRM paths.
    static func otherCRMObject(in path: String) -> String? {
        let parts = MockAPIGeneration.legacyForm(of: path).split(separator: "/").map(String.init)
        // The legacy object APIs of other objects (`/companies/v2/properties`, `/deals/v1/deal/paged`,
        // `/owners/v2/owners`).
        if parts.count >= 2, parts[1].hasPrefix("v"), let object = Self.legacyObjects[parts[0]] { return object }
        guard parts.count >= 3, parts[0] == "crm" else { return nil }
        if parts[2] == "schemas" || parts[1] == "schemas" { return "schemas" }
        guard parts.count >= 4, ["objects", "properties"].contains(parts[2]) else { return nil }
        return ["contacts", "contact", "0-1"].contains(parts[3]) ? nil : parts[3]
    }

    /// The first segment of another object's legacy API → the object its scope names.
    static let legacyObjects = ["companies": "companies", "deals": "deals", "owners": "owners", "tickets": "tickets"]
}

extension MockReply {
    func response() -> Response {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        fields[HTTPField.Name("X-HubSpot-Correlation-Id")!] = UUID().uuidString.lowercased()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        return Response(
            status: HTTPResponse.Status(code: status), headers: fields,
            body: status == 204 ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
