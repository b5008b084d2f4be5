import ArgumentParser
import Foundation
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightLog
import HindsightLogWriter
import HindsightProjections

struct Proof: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print an RFC 6962 inclusion proof for one event.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The event's seq.") var seq: UInt64
    @Option(help: "The tree size to prove against (default: the whole log).") var treeSize: UInt64?

    func run() throws {
        try reporting {
            let proof = try LogReader(directory: options.directory).inclusionProof(seq: seq, treeSize: treeSize)
            precondition(proof.verify(), "the engine produced an inclusion proof that does not verify")
            try printJSON(proof)
        }
    }
}
