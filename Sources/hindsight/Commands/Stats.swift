import ArgumentParser
import Foundation
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Events, raw and stored bytes, ratio, segments and the tree head.")

    @OptionGroup var options: DataOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reporting {
            let stats = try LogReader(directory: options.directory).stats()
            if json {
                printJSON([
                    "events": stats.events, "bytes": stats.rawBytes, "storedBytes": stats.storedBytes,
                    "ratio": (stats.ratio * 100).rounded() / 100, "segments": stats.segments,
                    "head": ["seq": stats.head.size, "hash": stats.head.root.hex],
                ])
            } else {
                print(
                    """
                    events        \(stats.events)
                    raw bytes     \(stats.rawBytes)
                    stored bytes  \(stats.storedBytes)
                    ratio         \(String(format: "%.2f", stats.ratio))
                    segments      \(stats.segments)
                    tree head     \(stats.head.size) \(stats.head.root.hex)
                    """)
            }
        }
    }
}
