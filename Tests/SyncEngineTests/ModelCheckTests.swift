import Foundation
import SyncChecking
import Testing

/// The model-based checker in the test suite: fixed seeds, so a failure replays exactly
/// (`crmsync-bench check --seed S --sequences 1` prints the same history, shrunk).
@Suite struct ModelCheckTests {
    static let seeds: [UInt64] = Array(1...150)

    @Test(arguments: seeds) func everyPromiseHoldsForAGeneratedHistory(seed: UInt64) async throws {
        var generator = SeededGenerator(seed: seed)
        let checker = ModelChecker()
        let history = CheckOperation.history(
            length: Int.random(in: checker.lengthRange, using: &generator), using: &generator)
        let world = try await CheckWorld.inProcess()
        let failure = await checker.run(history, in: world)
        await world.close()
        guard let failure else { return }
        let shrunk = try await checker.shrink(history) { try await CheckWorld.inProcess() }
        Issue.record(
            """
            seed \(seed): \(failure)
            history: \(history.map(\.description).joined(separator: ", "))
            shrunk: \(shrunk.map { "\($0.history.map(\.description).joined(separator: ", ")) → \($0.failure)" } ?? "(did not fail again)")
            """)
    }
}
