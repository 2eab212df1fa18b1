import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The mock HubSpot served without a socket: each request goes straight to the same router, gate and
/// journal the listening server uses. The model checker's in-memory runs use it (no port, no loopback, no
/// connection pool), with an adapter in front that speaks the client's transport protocol.
///
/// Transport faults that break a connection (drops, truncation) surface as a thrown ``InProcessMockFault``.
public final class InProcessMockHubSpot: Sendable {
    public let token: String
    let crm: MockCRM
    private let clock: @Sendable () -> Date
    private let responder: RouterResponder<InProcessRequestContext>

    /// A mock with `options`' configuration and seed; its host and port are not used. `clock` is HubSpot's
    /// time (record stamps, subscription times, the search index, the `Date` header); the rate limits keep
    /// real time (moved by `POST /__mock/advance`).
    public init(_ options: MockHubSpotOptions = .init(), clock: @escaping @Sendable () -> Date = { Date() }) async {
        self.clock = clock
        crm = MockCRM(configuration: options.configuration, clock: clock)
        if options.seedContacts > 0 { _ = await crm.seed(Data("{\"generate\": \(options.seedContacts)}".utf8)) }
        token = options.token
        responder = MockRoutes.router(crm: crm, token: options.token, context: InProcessRequestContext.self)
            .buildResponder()
    }

    /// Answers one request. `target` is the path with its query (`/crm/v3/objects/contacts?limit=10`).
    public func respond(method: String, target: String, headers: [String: String], body: Data?) async throws
        -> InProcessMockReply
    {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        let request = Request(
            head: .init(
                method: HTTPRequest.Method(method) ?? .get, scheme: "http", authority: "localhost", path: target,
                headerFields: fields),
            body: RequestBody(buffer: ByteBuffer(bytes: body ?? Data())))
        let context = InProcessRequestContext(source: .init(logger: Self.quiet))
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch let error as HTTPError {
            response = MockRoutes.unrouted(method: method, path: request.uri.path, status: Int(error.status.code))
                .response()
        }
        let collector = BodyCollector()
        do {
            var body = response.body
            try await body.write(collector)
        } catch {
            throw InProcessMockFault()
        }
        var replyHeaders: [String: String] = [:]
        for field in response.headers { replyHeaders[field.name.rawName] = field.value }
        // The listening server adds `Date` (Hummingbird's date cache); the client reads HubSpot's clock from it.
        replyHeaders["Date"] = Self.httpDate(clock())
        return InProcessMockReply(
            status: Int(response.status.code), headers: replyHeaders, body: Data(collector.buffer.readableBytesView))
    }

    /// A client for this mock's control surface, with no socket either.
    public var control: MockControlClient {
        MockControlClient { [self] method, path, body in
            let reply = try await respond(method: method, target: path, headers: [:], body: body)
            return (reply.status, reply.body)
        }
    }

    private static let quiet: Logger = {
        var logger = Logger(label: "mock-hubspot")
        logger.logLevel = .critical
        return logger
    }()

    /// RFC 9110's IMF-fixdate (`Tue, 01 Dec 2026 20:42:11 GMT`), as servers send `Date`.
    static func httpDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "GMT")!
        let parts = calendar.dateComponents([.weekday, .day, .month, .year, .hour, .minute, .second], from: date)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(weekdays[(parts.weekday ?? 1) - 1]), \(two(parts.day)) \(months[(parts.month ?? 1) - 1]) "
            + "\(parts.year ?? 1970) \(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) GMT"
    }

    /// Collects a response body. A class, because `ResponseBody.write` consumes its writer; one task at a time.
    private final class BodyCollector: ResponseBodyWriter, @unchecked Sendable {
        var buffer = ByteBuffer()
        func write(_ part: ByteBuffer) async throws { buffer.writeImmutableBuffer(part) }
        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

/// One answer of the in-process mock.
public struct InProcessMockReply: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
}

/// The in-process mock broke the answer, as a dropped or truncated connection would.
public struct InProcessMockFault: Error, Sendable {}

/// The request context of the in-process router: a logger and route parameters, no channel.
struct InProcessRequestContext: RequestContext {
    struct Source: RequestContextSource {
        var logger: Logger
    }

    var coreContext: CoreRequestContextStorage

    init(source: Source) { coreContext = .init(source: source) }
}
