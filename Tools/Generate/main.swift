import ArgumentParser
import Foundation
import HindsightWorkload

/// `hindsight-generate`: a seeded, realistic platform history as NDJSON, for tests, benchmarks
/// and trying Hindsight out. A tool beside the engine, not part of the shipped `hindsight`.
@main
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hindsight-generate",
        abstract: "Print a seeded, realistic platform history as NDJSON (the workload tests and benchmarks use).")

    @Option(help: "How many events.") var events = 1000
    @Option(help: "The seed; the same seed gives the same history.") var seed: UInt64 = 1

    func run() {
        var generator = WorkloadGenerator(seed: seed)
        var remaining = events
        while remaining > 0 {
            let n = min(remaining, 10_000)
            FileHandle.standardOutput.write(Data(generator.ndjson(count: n)))
            remaining -= n
        }
    }
}
