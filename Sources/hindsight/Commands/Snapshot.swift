import ArgumentParser
import Foundation
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightLog
import HindsightLogWriter
import HindsightProjections
import HindsightRPC
import HindsightReadSide

struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Save read models' state at the position they have reached, with the log's tree head there and a digest of their content.",
        discussion: """
            Snapshots go to DIR/snapshots/NAME/ (Snapshots/README.md gives the format); a rebuild starts from the newest \
            one that stands for the log, and `hindsight verify --projections` checks each against a fresh fold of the log. \
            Prints each snapshot's manifest.
            """)

    @OptionGroup var options: DataOptions
    @Argument(help: "The read models (default: all).") var names: [String] = []

    func run() throws {
        try reporting {
            let (models, reader, _) = try readModels(options.directory, caughtUp: true)
            for manifest in try models.snapshot(names.isEmpty ? nil : names, reader: reader) { try printJSON(manifest) }
        }
    }
}

/// The read models of a data directory as they are; `caughtUp`, brought up to the log's end
/// first (building any that does not exist).
func readModels(_ directory: String, caughtUp: Bool) throws -> (models: Projections, reader: LogReader, source: EventSource) {
    let source = try EventSource(directory: directory)
    let reader = try source.reader()
    let models = try Projections(source: source)
    if caughtUp { try models.catchUp(reader) }
    return (models, reader, source)
}
