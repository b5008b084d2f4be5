import Foundation
public import HindsightCore
import HindsightFiles
import HindsightLog

/// The log's Merkle tree written out as C2SP tlog-tiles, for a standard tile client (served
/// by any static file server): `OUT/tile/<L>/<N>[.p/<W>]` for the tree the writer's index
/// covers, and `OUT/checkpoint`, that tree head signed, when a key is given. The hashes come
/// from the writer's level files (`TileLayout`), checked against every leaf of the log (a
/// verification of the whole log) before anything is written.
public enum TileExport {
    public struct Report: Sendable {
        public let size: UInt64
        public let root: TreeHash
        public let tiles: Int
    }

    /// Writes the tiles into the new directory `out`, outside the data directory.
    public static func write(dataDirectory: String, to out: String, key: SigningKey?) throws(LogError) -> Report {
        let destination = try ExportDestination.resolve(out, policy: .asNamed, dataDirectory: dataDirectory)
        let reader = try LogReader(directory: dataDirectory)
        guard let state = IndexLayout(root: dataDirectory).readState(), state.size > 0, state.size <= reader.size
        else {
            throw LogError(
                .outOfRange, "the log has no saved index to take the tiles from; append (or open the log with a writer) first",
                location: dataDirectory)
        }
        // Every tile is checked against the log's leaves before any is published: a tile client
        // may keep a full tile for good.
        let report = reader.verify()
        guard report.ok, report.badTile == nil, try reader.root(atSize: state.size) == state.root else {
            throw LogError(
                .logCorrupt,
                "the tree's levels do not match the log (\(report.badTile ?? report.firstBad?.reason ?? "another tree head")); run `hindsight verify`",
                location: dataDirectory)
        }
        let tiles = TileReader(layout: TileLayout(root: dataDirectory), size: state.size)
        var written = 0
        var level = 0
        while state.size >> UInt64(8 * level) > 0 {
            let entries = state.size >> UInt64(8 * level)
            for index in 0..<((entries + UInt64(TileLayout.width) - 1) / UInt64(TileLayout.width)) {
                guard let hashes = tiles.read(level: level, index: index) else {
                    throw LogError(
                        .logCorrupt, "tile \(index) of level \(level) cannot be read; run `hindsight verify`", location: dataDirectory)
                }
                try put(hashes.flatMap(\.bytes), at: TileLayout.path(in: destination.path, level: level, index: index, width: hashes.count))
                written += 1
            }
            level += 1
        }
        if let key {
            try put(Array(try Checkpoint.signed(size: state.size, root: state.root, by: key).utf8), at: destination.path + "/checkpoint")
        }
        return Report(size: state.size, root: state.root, tiles: written)
    }

    private static func put(_ bytes: [UInt8], at path: String) throws(LogError) {
        do {
            try FileManager.default.createDirectory(atPath: FileIO.parent(of: path), withIntermediateDirectories: true)
        } catch {
            throw LogError(.io, "cannot make a tile folder: \(error)", location: path)
        }
        try FileIO.replaceDurably(path, with: [bytes])
    }
}
