import Foundation
import SyncChecking
import Testing

/// The model-based checker in the test suite: fixed seeds, so a failure replays exactly
/// (`crmsync-bench check --seed S --sequences 1` prints the same history, shrunk). Most run on the in-memory
/// world (store in memory, mock without a socket); a few on a store file and a loopback mock, so the file's
/// bytes are searched for erased subjects too.
@Suite struct ModelCheckTests {
    static let seeds: [UInt64] = Array(1...200)
    static let fileSeeds: [UInt64] = Array(1001...1010)

    @Test(arguments: seeds) func everyPromiseHoldsForAGeneratedHistory(seed: UInt64) async throws {
        try await check(seed: seed) { try await CheckWorld.inMemory() }
    }

    @Test(arguments: fileSeeds) func everyPromiseHoldsWithAStoreFile(seed: UInt64) async throws {
        try await check(seed: seed) { try await CheckWorld.inProcess() }
    }

    private func check(seed: UInt64, makeWorld: () async throws -> CheckWorld) async throws {
        var generator = SeededGenerator(seed: seed)
        let checker = ModelChecker()
        let history = CheckOperation.history(
            length: Int.random(in: checker.lengthRange, using: &generator), using: &generator)
        let world = try await makeWorld()
        let failure = await checker.run(history, in: world)
        await world.close()
        guard let failure else { return }
        let shrunk = try await checker.shrink(history, makeWorld: makeWorld)
        Issue.record(
            """
            seed \(seed): \(failure)
            history: \(history.map(\.description).joined(separator: ", "))
            shrunk: \(shrunk.map { "\($0.history.map(\.description).joined(separator: ", ")) → \($0.failure)" } ?? "(did not fail again)")
            """)
    }
}
