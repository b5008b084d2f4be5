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
        abstract: "Append NDJSON events as one all-or-nothing batch (or batches of --batch-lines); prints firstSeq and lastSeq.")

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
            "Append in batches of N lines, each read, validated and appended (all or nothing) before the next is read, so a file larger than memory loads in memory bounded by a batch; each batch's positions are printed once it is durable. A bad line stops the load at its batch, naming its line in the whole input; the batches before it stay. With event ids, rerunning resumes where it stopped.",
            valueName: "N"))
    var batchLines: Int?

    @Option(
        help: ArgumentHelp(
            "Save the writer's index (DIR/index, DIR/tile) every N events appended, instead of after a million events, half the log or a second, and at the end.",
            valueName: "N"))
    var indexEvery: Int?

    func validate() throws {
        if let indexEvery, indexEvery < 1 { throw ValidationError("--index-every must be at least 1") }
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
            var logOptions = LogOptions()
            logOptions.compressionLevel = compressionLevel
            logOptions.indexSaveEvents = indexEvery
            let print = { (result: AppendResult) in
                var output: [String: Any] = ["firstSeq": result.firstSeq, "lastSeq": result.lastSeq, "count": result.count]
                if result.isRetry { output["retry"] = true }
                printJSON(output)
            }
            guard let batchLines else {
                // One batch: everything is validated before the writer's lock is taken.
                let batch =
                    try file.map { try EnvelopeParser.parse(file: $0, catalog: .standard) }
                    ?? EnvelopeParser.parse(ndjson: [UInt8](FileHandle.standardInput.readDataToEndOfFile()), catalog: .standard)
                print(try Engine(directory: options.directory, options: logOptions).append(batch, expectedVersions: expected))
                return
            }
            // Batches of `batchLines`, each read, validated and appended before the next is read.
            let engine = try Engine(directory: options.directory, options: logOptions)
            let fd = try file.map { path throws(LogError) in try FileIO.open(path, O_RDONLY) } ?? STDIN_FILENO
            defer { if fd != STDIN_FILENO { close(fd) } }
            var first = true
            // How far through a file the load has read (a pipe has no size to measure against).
            let meter = ProgressMeter("append", unit: .bytes)
            var status = stat()
            let size = fstat(fd, &status) == 0 && status.st_mode & S_IFMT == S_IFREG ? UInt64(status.st_size) : nil
            try meter.measuring { report throws(LogError) in
                try EnvelopeParser.forEachPiece(of: fd, named: file ?? "standard input", lines: batchLines, catalog: .standard) {
                    (batch: consuming EnvelopeBatch) throws(LogError) in
                    // The expected versions are those of the streams before the load.
                    let appended = try engine.append(batch, expectedVersions: first ? expected : [:])
                    meter.finish()
                    print(appended)
                    first = false
                    if let report, let size { report(UInt64(max(0, lseek(fd, 0, SEEK_CUR))), size) }
                }
            }
        }
    }
}
