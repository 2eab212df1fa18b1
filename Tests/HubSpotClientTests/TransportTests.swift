import Foundation
import HubSpotClient
import SyncTesting
import Testing

/// How the transport reports what went wrong: the retry policy sends an unsafe request (a GDPR delete) again only
/// after `cannotConnect`, when nothing can have reached the CRM.
@Suite struct TransportTests {
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

    static func url(_ listener: LoopbackListener) -> URL {
        listener.baseURL.appendingPathComponent("crm/v3/objects/contacts")
    }

    @Test func aPortNobodyListensOnCannotConnect() async throws {
        let port = try LoopbackListener.refusing()
        #expect(await kind(of: HTTPRequest(method: "DELETE", url: Self.url(port))) == .cannotConnect)
    }

    @Test func aServerThatTakesTheRequestAndNeverAnswersTimesOut() async throws {
        let server = try LoopbackListener { _, _ in Thread.sleep(forTimeInterval: 5) }
        #expect(await kind(of: HTTPRequest(method: "DELETE", url: Self.url(server), timeout: .seconds(1))) == .timedOut)
    }

    /// AsyncHTTPClient's own deadline ends with the answer's head: a body trickling in under the idle timeout is cut off
    /// by the transport's.
    @Test func anAnswerTricklingInUnderTheIdleTimeoutStillTimesOutWhole() async throws {
        let server = try LoopbackListener { connection, _ in
            LoopbackListener.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", on: connection)
            for _ in 0..<20 {
                Thread.sleep(forTimeInterval: 0.25)
                LoopbackListener.send("x", on: connection)
            }
        }
        let transport = AsyncHTTPClientTransport(resourceTimeout: .seconds(2), environment: [:])
        await #expect {
            _ = try await transport.send(HTTPRequest(method: "GET", url: Self.url(server), timeout: .seconds(1)))
        } throws: { ($0 as? TransportError)?.kind == .timedOut }
    }

    /// A server that does not speak TLS: no session, nothing sent, safe to send again.
    @Test func aFailedTLSHandshakeCannotConnect() async throws {
        let server = try LoopbackListener { connection, _ in
            LoopbackListener.send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", on: connection)
        }
        let url = URL(string: "https://127.0.0.1:\(server.port)/crm/v3/objects/contacts")!
        #expect(await kind(of: HTTPRequest(method: "DELETE", url: url)) == .cannotConnect)
    }

    @Test func anAnswerCutShortIsAConnectionLost() async throws {
        let server = try LoopbackListener { connection, _ in
            LoopbackListener.send(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"results\":",
                on: connection)
        }
        #expect(await kind(of: HTTPRequest(method: "GET", url: Self.url(server))) == .connectionLost)
    }

    @Test func aWholeAnswerComesBackWithItsHeaders() async throws {
        let server = try LoopbackListener { connection, _ in
            LoopbackListener.send(
                "HTTP/1.1 207 Multi-Status\r\nX-HubSpot-RateLimit-Remaining: 9\r\nContent-Length: 2\r\n\r\n{}",
                on: connection)
        }
        let response = try await AsyncHTTPClientTransport(environment: [:]).send(
            HTTPRequest(
                method: "POST", url: Self.url(server), headers: ["Content-Type": "application/json"],
                body: Data("{}".utf8)))
        #expect(response.status == 207)
        #expect(response.header("x-hubspot-ratelimit-remaining") == "9")
        #expect(response.body == Data("{}".utf8))
    }
}

/// What every call carries on the wire: the token, JSON, and who is calling.
@Test func everyCallNamesCrmsyncAndCarriesTheToken() async throws {
    final class Received: @unchecked Sendable { var text = "" }
    let received = Received()
    let listener = try LoopbackListener { connection, bytes in
        received.text = String(decoding: bytes, as: UTF8.self).lowercased()
        LoopbackListener.send(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"results\":[]}",
            on: connection)
    }
    let client = HubSpotClient(
        configuration: HubSpotClientConfiguration(baseURL: listener.baseURL, token: "test-token", maxAttempts: 1),
        clock: ManualClock())
    #expect(try await client.contactProperties().isEmpty)
    #expect(received.text.contains("\r\nuser-agent: crmsync/"))
    #expect(received.text.contains("\r\nauthorization: bearer test-token\r\n"))
    #expect(received.text.contains("\r\naccept: application/json\r\n"))
}

/// The erasure guarantee through the real transport: a GDPR delete by address whose answer breaks off after the server
/// took it is reported, never sent again (a replay would blocklist the address, or delete a record a form made for
/// it since); one that could not connect is sent again. (A delete by id is retried like a read: an id is never given
/// again.)
@Test func aGDPRDeleteWhoseAnswerBreaksOffIsSentOnceAndOneThatCannotConnectAgain() async throws {
    let listener = try LoopbackListener { connection, _ in
        LoopbackListener.send("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", on: connection)
    }
    func client(_ url: URL) -> HubSpotClient {
        HubSpotClient(
            configuration: HubSpotClientConfiguration(
                baseURL: url, token: "t", requestTimeout: .seconds(1), maxAttempts: 3, baseDelay: .milliseconds(1),
                maxDelay: .milliseconds(1)),
            clock: ManualClock())
    }
    let broken = client(listener.baseURL)
    await #expect(throws: (any Error).self) { try await broken.gdprDelete(email: "gone@example.fi") }
    #expect(broken.metrics.requests == 1 && broken.metrics.retries == 0)
    let refused = client(try LoopbackListener.refusing().baseURL)
    await #expect(throws: (any Error).self) { try await refused.gdprDelete(email: "gone@example.fi") }
    #expect(refused.metrics.retries == 2)
}
