import ArgumentParser
import Foundation

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crmsync-bench",
        abstract: "Benchmarks, run on purpose (not part of the tests): each prints its figures.",
        subcommands: [
            ImportBenchmark.self, PullBenchmark.self, PushBenchmark.self, SyncBenchmark.self, CheckCommand.self,
        ])
}
