import ArgumentParser
import Foundation
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections

struct Append: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append NDJSON events as one all-or-nothing batch; prints firstSeq and lastSeq.")

    @OptionGroup var options: DataOptions

    @Argument(help: "An NDJSON file (default: standard input).")
    var file: String?

    @Option(
        name: .customLong("expect"),
        help: ArgumentHelp("A stream's expected version: STREAM=N, STREAM=none or STREAM=any (repeatable).", valueName: "STREAM=VERSION"))
    var expectations: [String] = []

    @Option(
        help: ArgumentHelp(
            "LZ4 compression level of the new chunks, 1 (fastest) to 12 (smallest); `compact` recompresses them later.", valueName: "LEVEL")
    )
    var compressionLevel: Int32 = LZ4Frame.defaultLevel

    @Option(
        help: ArgumentHelp(
            "Validate everything first, then append in batches of N events, printing each batch's positions once it is durable. With event ids, rerunning after an interruption resumes where it stopped.",
            valueName: "N"))
    var batchLines: Int?

    func validate() throws {
        if let batchLines, batchLines < 1 { throw ValidationError("--batch-lines must be at least 1") }
        if !(1...12).contains(compressionLevel) { throw ValidationError("--compression-level must be between 1 and 12") }
    }

    func run() throws {
        try reporting {
            var expected: [String: ExpectedVersion] = [:]
            for text in expectations {
                guard let equals = text.lastIndex(of: "="), let version = ExpectedVersion(text[text.index(after: equals)...]) else {
                    throw ValidationError("--expect takes STREAM=N, STREAM=none or STREAM=any, not \(text)")
                }
                expected[String(text[..<equals])] = version
            }
            // Everything is validated before the writer's lock is taken.
            let batch =
                try file.map { try EnvelopeParser.parse(file: $0, catalog: .standard) }
                ?? EnvelopeParser.parse(ndjson: [UInt8](FileHandle.standardInput.readDataToEndOfFile()), catalog: .standard)
            var logOptions = LogOptions()
            logOptions.compressionLevel = compressionLevel
            let engine = try Engine(directory: options.directory, options: logOptions)
            try engine.append(batch, expectedVersions: expected, every: batchLines) { result in
                var output: [String: Any] = ["firstSeq": result.firstSeq, "lastSeq": result.lastSeq, "count": result.count]
                if result.isRetry { output["retry"] = true }
                printJSON(output)
            }
        }
    }
}
