import ArgumentParser
import Foundation
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightLog
import HindsightLogWriter
import HindsightProjections

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompress everything appended so far into large, maximally compressed chunks.")

    @OptionGroup var options: DataOptions
    @Option(help: "LZ4 compression level, 3 to 12.") var level: Int32 = LZ4Frame.compactionLevel

    func validate() throws {
        if !(3...12).contains(level) { throw ValidationError("--level must be between 3 and 12") }
    }

    func run() throws {
        try reporting {
            let report = try ProgressMeter("compact").measuring { progress throws(LogError) in
                try Engine(directory: options.directory).compact(level: level, progress: progress)
            }
            printJSON([
                "segments": report.segmentsRewritten, "events": report.events,
                "bytesBefore": report.bytesBefore, "bytesAfter": report.bytesAfter,
            ])
        }
    }
}
