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
        discussion: "Personal data shows as readers see it (or [erased]); the golden dumps in Snapshots/ are made this way.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The read model.") var name: String
    @Flag(help: "Show personal data as stored (its ciphertext): the dump that content digests cover.") var stored = false

    func run() throws {
        try reporting {
            let (models, _, source) = try readModels(options.directory, caughtUp: true)
            let reveal: ((String) -> String)? =
                stored
                ? nil
                : { line in
                    guard let event = try? StoredEvent(storedLine: Array(line.utf8)) else { return line }
                    return String(decoding: source.present(event).line, as: UTF8.self)
                }
            var out = Data()
            try models.dump(name, reveal: reveal) { line in
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
