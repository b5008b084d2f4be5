import ArgumentParser
import Foundation
import HindsightEngine
import HindsightEvidence
import HindsightLog
import HindsightLogWriter
import HindsightProjections

struct Consistency: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print an RFC 6962 consistency proof between two tree sizes.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The earlier tree size.") var oldSize: UInt64
    @Option(help: "The later tree size (default: the whole log).") var newSize: UInt64?

    func run() throws {
        try reporting {
            let proof = try LogReader(directory: options.directory).consistencyProof(oldSize: oldSize, newSize: newSize)
            precondition(proof.verify(), "the engine produced a consistency proof that does not verify")
            try printJSON(proof)
        }
    }
}
