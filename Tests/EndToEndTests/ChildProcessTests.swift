import Foundation
import MockHubSpot
import Testing

/// The children the end-to-end tests start hold none of the test process's descriptors. A child holding a copy of an
/// in-process mock's connection kept it open after the mock closed it (its client waited out a 30 s timeout), and
/// children of a killed run kept the mocks' ports accepting: the suite's intermittent stall.
@Test func aSpawnedChildHoldsNoDescriptorOfTheTestProcess() async throws {
    let server = try await MockHubSpotServer.start(.init())
    defer { Task { await server.stop() } }
    // A socket of the test process that is not close-on-exec, as some of the mocks' are.
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #expect(socket > 2)
    defer { close(socket) }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fds-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let child = try ChildProcess.spawn(
        URL(fileURLWithPath: "/bin/ls"), ["-l", "/proc/self/fd"], folder: folder, environment: [:])
    let result = try await CommandLineRunner.wait(for: child)
    #expect(result.status == 0)
    // Standard input, output and error, and the directory `ls` reads.
    let descriptors = result.output.split(separator: "\n").filter { $0.contains(" -> ") }
    #expect(descriptors.count == 4, "\(descriptors.joined(separator: "\n"))")
    #expect(!descriptors.contains { $0.contains("socket:") }, "\(descriptors.joined(separator: "\n"))")
}
