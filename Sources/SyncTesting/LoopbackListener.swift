import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A listening socket on a loopback port, for tests that need a server below HTTP: a stand-in proxy, a server that
/// never answers or cuts its answer short. `answer` runs on a thread of its own with the first connection and the
/// first bytes it sent (up to 64 KiB); the connection is closed after it. Without `answer` nothing is accepted: the
/// kernel completes connections into the backlog, where they wait.
public final class LoopbackListener: Sendable {
    public let port: Int
    private let socket: Int32

    public convenience init(answer: (@Sendable (_ connection: Int32, _ received: [UInt8]) -> Void)? = nil) throws {
        try self.init(listening: true, answer: answer)
    }

    /// A port bound and not listening, kept so while this lives: connecting to it is refused, and no other socket can
    /// take the port meanwhile (as one could a port closed again).
    public static func refusing() throws -> LoopbackListener { try LoopbackListener(listening: false, answer: nil) }

    private init(listening: Bool, answer: (@Sendable (_ connection: Int32, _ received: [UInt8]) -> Void)?) throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.socket = socket
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(socket, generic, length) == 0 && (!listening || listen(socket, 4) == 0)
                    && getsockname(socket, generic, &length) == 0
            }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        guard bound else {
            close(socket)
            throw POSIXError(.EADDRINUSE)
        }
        guard let answer else { return }
        Thread {
            let connection = accept(socket, nil, nil)
            guard connection >= 0 else {
                answer(-1, [])
                return
            }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = recv(connection, &buffer, buffer.count, 0)
            answer(connection, Array(buffer.prefix(max(0, count))))
            close(connection)
        }.start()
    }

    /// `http://127.0.0.1:PORT`.
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Writes `text` to `connection` as it is.
    public static func send(_ text: String, on connection: Int32) {
        let bytes = Array(text.utf8)
        _ = Glibc.send(connection, bytes, bytes.count, 0)
    }

    deinit { close(socket) }
}
