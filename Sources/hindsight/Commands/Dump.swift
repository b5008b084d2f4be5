import ArgumentParser
import Foundation
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections
import HindsightRPC

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a read model's content as canonical NDJSON: each table and its columns, then its rows ordered by every column.",
        discussion: "The golden dumps in Snapshots/ are made this way, and content digests cover it.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The read model.") var name: String

    func run() throws {
        try reporting {
            let (models, _, _) = try readModels(options.directory, caughtUp: true)
            var out = Data()
            try models.dump(name) { line in
                out.append(contentsOf: line.utf8)
                out.append(0x0A)
                if out.count >= 1 << 20 {
                    FileHandle.standardOutput.write(out)
                    out.removeAll(keepingCapacity: true)
                }
            }
            FileHandle.standardOutput.write(out)
        }
    }
}
