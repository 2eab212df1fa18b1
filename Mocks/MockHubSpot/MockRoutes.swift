import Foundation
import HTTPTypes
import Hummingbird

/// The routes of the HubSpot API the mock serves (contract sections 2–6) and its control surface.
enum MockRoutes {
    static func router(crm: MockCRM, token: String) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: GateMiddleware(crm: crm, token: token))

        let contacts = "/crm/v3/objects/contacts"
        router.get(RouterPath(contacts)) { request, _ in await crm.listContacts(query(request)).response() }
        router.post(RouterPath(contacts)) { request, _ in await crm.createContact(try await body(request)).response() }
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
            case "create": reply = await crm.batchCreate(data)
            case "update": reply = await crm.batchUpdate(data)
            case "upsert": reply = await crm.batchUpsert(data)
            case "archive": reply = await crm.batchArchive(data)
            default: reply = .notFound("Unknown batch operation")
            }
            return reply.response()
        }
        router.get(RouterPath("\(contacts)/:id")) { request, context in
            await crm.getContact(parameter("id", context), query(request)).response()
        }
        router.patch(RouterPath("\(contacts)/:id")) { request, context in
            await crm.patchContact(parameter("id", context), query(request), try await body(request)).response()
        }
        router.delete(RouterPath("\(contacts)/:id")) { _, context in
            await crm.archiveContact(parameter("id", context)).response()
        }

        let v3 = "/communication-preferences/v3"
        router.get(RouterPath("\(v3)/definitions")) { _, _ in await crm.definitionsReply().response() }
        router.get(RouterPath("\(v3)/status/email/:email")) { _, context in
            await crm.v3Status(parameter("email", context)).response()
        }
        router.post(RouterPath("\(v3)/subscribe")) { request, _ in
            await crm.v3Change(try await body(request), subscribe: true).response()
        }
        router.post(RouterPath("\(v3)/unsubscribe")) { request, _ in
            await crm.v3Change(try await body(request), subscribe: false).response()
        }

        let v4 = "/communication-preferences/v4/statuses"
        router.post(RouterPath("\(v4)/batch/read")) { request, _ in
            await crm.v4BatchRead(try await body(request)).response()
        }
        router.post(RouterPath("\(v4)/batch/write")) { request, _ in
            await crm.v4BatchWrite(try await body(request)).response()
        }
        router.post(RouterPath("\(v4)/batch/unsubscribe-all/read")) { request, _ in
            await crm.v4UnsubscribeAllRead(try await body(request)).response()
        }
        router.post(RouterPath("\(v4)/batch/unsubscribe-all")) { request, _ in
            await crm.v4UnsubscribeAllBatch(try await body(request)).response()
        }
        router.post(RouterPath("\(v4)/:subscriber/unsubscribe-all")) { _, context in
            await crm.v4UnsubscribeAll(emails: [parameter("subscriber", context)]).response()
        }

        router.post("/__mock/reset") { _, _ in await crm.reset().response() }
        router.post("/__mock/seed") { request, _ in await crm.seed(try await body(request)).response() }
        router.post("/__mock/advance") { request, _ in await crm.advance(try await body(request)).response() }
        router.post("/__mock/tamper") { request, _ in await crm.tamper(try await body(request)).response() }
        router.put("/__mock/config") { request, _ in await crm.configure(try await body(request)).response() }
        router.get("/__mock/journal") { request, _ in await crm.journalReply(query(request)).response() }
        router.get("/__mock/stats") { _, _ in await crm.statsReply().response() }
        return router
    }

    static func body(_ request: Request) async throws -> Data {
        var request = request
        let buffer = try await request.collectBody(upTo: 16 * 1024 * 1024)
        return Data(buffer.readableBytesView)
    }

    static func query(_ request: Request) -> Query {
        var query: Query = [:]
        for (key, value) in request.uri.queryParameters {
            query[String(key)] = String(value).removingPercentEncoding ?? String(value)
        }
        return query
    }

    static func parameter(_ name: String, _ context: BasicRequestContext) -> String {
        let raw = context.parameters.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }
}

/// Applies the gate (auth, limits, faults) to every API request, journals it, and breaks responses
/// when a drop or truncation fault strikes. The control surface under `/__mock/` passes untouched.
struct GateMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
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
                let category = error.status.code == 404 ? "OBJECT_NOT_FOUND" : "VALIDATION_ERROR"
                response = MockReply.error(Int(error.status.code), category, "No route for \(method) \(path)")
                    .response()
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
