import ArgumentParser
import Foundation
import HindsightCatalog
import HindsightEngine
import HindsightEvidence
import HindsightCore
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections
import HindsightRPC
import HindsightWorkload

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a seeded, realistic platform history as NDJSON.")

    @Option(help: "How many events.") var events = 1000
    @Option(help: "The seed; the same seed gives the same history.") var seed: UInt64 = 1

    func run() {
        var generator = WorkloadGenerator(seed: seed)
        let output = BufferedOutput()
        var remaining = events
        while remaining > 0 {
            let n = min(remaining, 10_000)
            output.write(generator.ndjson(count: n), newline: false)
            remaining -= n
        }
        output.flush()
    }
}
