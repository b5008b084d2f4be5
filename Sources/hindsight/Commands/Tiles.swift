import ArgumentParser
import Foundation
import HindsightCore
import HindsightEvidence

struct Tiles: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write the log's Merkle tree as C2SP tlog-tiles (OUT/tile/…, and OUT/checkpoint signed with --key) for a standard tile client.")

    @OptionGroup var options: DataOptions
    @Option(help: ArgumentHelp("A new directory outside the data directory.", valueName: "OUT")) var out: String
    @Option(
        name: .customLong("key"),
        help: ArgumentHelp("A signing key's file: also write OUT/checkpoint, the tree head signed with it.", valueName: "PATH"))
    var key: String?

    func run() throws {
        try reporting {
            let signing = try key.map { path throws(LogError) in try SigningKey(path: path) }
            let report = try TileExport.write(dataDirectory: options.directory, to: out, key: signing)
            printJSON(["treeSize": report.size, "root": report.root.hex, "tiles": report.tiles, "out": out])
        }
    }
}
