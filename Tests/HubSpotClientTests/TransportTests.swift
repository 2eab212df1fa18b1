import Foundation
import HubSpotClient
import Testing

/// How the transport reports what went wrong: the retry policy sends an unsafe request (a GDPR delete) again only
/// after `cannotConnect`, when nothing can have reached the CRM.
@Suite struct TransportTests {
    /// A loopback port with a listening socket: `answer` runs on its own thread for the first connection.
    final class LoopbackServer: @unchecked Sendable {
        let port: Int
        let socket: Int32

        init(accepting answer: (@Sendable (Int32) -> Void)? = nil) throws {
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.socket = socket
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    bind(socket, generic, length) == 0 && listen(socket, 4) == 0
                        && getsockname(socket, generic, &length) == 0
                }
            }
            port = Int(UInt16(bigEndian: address.sin_port))
            guard bound else { throw POSIXError(.EADDRINUSE) }
            if let answer {
                Thread {
                    let connection = accept(socket, nil, nil)
                    guard connection >= 0 else { return }
                    var buffer = [UInt8](repeating: 0, count: 65_536)
                    _ = recv(connection, &buffer, buffer.count, 0)
                    answer(connection)
                    close(connection)
                }.start()
            }
        }

        var url: URL { URL(string: "http://127.0.0.1:\(port)/crm/v3/objects/contacts")! }

        deinit { close(socket) }
    }

    func kind(of request: HTTPRequest) async -> TransportError.Kind? {
        do {
            _ = try await AsyncHTTPClientTransport(environment: [:]).send(request)
            return nil
        } catch let error as TransportError {
            return error.kind
        } catch {
            return .other
        }
    }

    @Test func aPortNobodyListensOnCannotConnect() async throws {
        let url = try LoopbackServer().url
        // Closed again when the server is let go of: connecting is refused.
        #expect(await kind(of: HTTPRequest(method: "DELETE", url: url)) == .cannotConnect)
    }

    @Test func aServerThatTakesTheRequestAndNeverAnswersTimesOut() async throws {
        let server = try LoopbackServer(accepting: { _ in Thread.sleep(forTimeInterval: 5) })
        #expect(await kind(of: HTTPRequest(method: "DELETE", url: server.url, timeout: .seconds(1))) == .timedOut)
    }

    @Test func anAnswerCutShortIsAConnectionLost() async throws {
        let server = try LoopbackServer(accepting: { connection in
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"results\":"
            _ = head.utf8CString.withUnsafeBufferPointer { send(connection, $0.baseAddress, $0.count - 1, 0) }
        })
        #expect(await kind(of: HTTPRequest(method: "GET", url: server.url)) == .connectionLost)
    }

    @Test func aWholeAnswerComesBackWithItsHeaders() async throws {
        let server = try LoopbackServer(accepting: { connection in
            let reply = "HTTP/1.1 207 Multi-Status\r\nX-HubSpot-RateLimit-Remaining: 9\r\nContent-Length: 2\r\n\r\n{}"
            _ = reply.utf8CString.withUnsafeBufferPointer { send(connection, $0.baseAddress, $0.count - 1, 0) }
        })
        let response = try await AsyncHTTPClientTransport(environment: [:]).send(
            HTTPRequest(
                method: "POST", url: server.url, headers: ["Content-Type": "application/json"], body: Data("{}".utf8)))
        #expect(response.status == 207)
        #expect(response.header("x-hubspot-ratelimit-remaining") == "9")
        #expect(response.body == Data("{}".utf8))
    }
}
