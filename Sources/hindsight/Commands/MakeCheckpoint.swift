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

struct MakeCheckpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Sign the log's tree head as a C2SP checkpoint, keep it in DIR/checkpoints/, and print it.")

    @OptionGroup var options: DataOptions
    @OptionGroup var key: SigningKeyOption

    func run() throws {
        try reporting {
            let signing = try SigningKey(path: key.path)
            let reader = try LogReader(directory: options.directory)
            guard reader.size > 0 else { throw LogError(.outOfRange, "the log is empty: there is no tree head to sign") }
            print(
                try CheckpointStore(dataDirectory: options.directory).write(size: reader.size, root: reader.root, key: signing),
                terminator: "")
        }
    }
}
