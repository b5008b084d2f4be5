import Foundation
package import HindsightCore
import HindsightFiles

/// The log's Merkle tree by levels of tiles, as C2SP tlog-tiles numbers them: level `L` holds
/// the tree's nodes of height 8·L in order (level 0: the leaf hashes), cut into tiles of 256
/// hashes, the last one partial. The writer keeps each level as one file of 32-byte hashes,
/// appended at each save of its index and made durable with it:
///
/// ```
/// DIR/index/tree.<L>     the hashes of level L, in order (tile N: bytes 8192·N …)
/// ```
///
/// so that a proof reads O(log n) hashes. `hindsight tiles --out DIR` writes them in the
/// C2SP layout (`path(level:index:width:)`) that a standard tile client reads.
package struct TileLayout: Sendable {
    package static let width = 256
    let root: String

    package init(root: String) {
        self.root = root
    }

    /// The file of level `level`'s hashes.
    package func levelPath(_ level: Int) -> String { root + "/index/tree.\(level)" }

    /// Where C2SP tlog-tiles puts tile `index` of `level` holding `width` hashes (256 for a
    /// full tile) under `directory`: `tile/<L>/<N>[.p/<W>]`.
    package static func path(in directory: String, level: Int, index: UInt64, width: Int) -> String {
        let full = directory + "/tile/\(level)/" + indexPath(index)
        return width == Self.width ? full : full + ".p/\(width)"
    }

    /// `<N>` of a tile path: groups of three digits, all but the last prefixed with `x`
    /// (1234067 → `x001/x234/067`).
    package static func indexPath(_ index: UInt64) -> String {
        var groups: [String] = []
        var rest = index
        repeat {
            let group = String(rest % 1000)
            groups.append(String(repeating: "0", count: 3 - group.count) + group)
            rest /= 1000
        } while rest > 0
        return groups.reversed().enumerated().map { $0.offset == groups.count - 1 ? $0.element : "x" + $0.element }.joined(separator: "/")
    }

    /// How many hashes tile `index` of `level` holds in a tree of `size` leaves (0: none).
    package static func width(level: Int, index: UInt64, size: UInt64) -> Int {
        let entries = size >> UInt64(8 * level)
        let first = index * UInt64(width)
        return entries <= first ? 0 : Int(min(UInt64(width), entries - first))
    }
}

/// The hashes of a tree of `size` leaves read from the level files, a tile at a time, each
/// tile read once.
package final class TileReader {
    package let layout: TileLayout
    package let size: UInt64
    private var cache: [Int: [UInt64: [TreeHash]]] = [:]

    package init(layout: TileLayout, size: UInt64) {
        self.layout = layout
        self.size = size
    }

    /// The hashes of tile `index` of `level` in the tree of `size`; nil when its level's file
    /// is missing or too short.
    package func tile(level: Int, index: UInt64) -> [TreeHash]? {
        if let known = cache[level]?[index] { return known }
        let hashes = read(level: level, index: index)
        cache[level, default: [:]][index] = hashes
        return hashes
    }

    /// The tile, read from its level's file without keeping it.
    package func read(level: Int, index: UInt64) -> [TreeHash]? {
        let width = TileLayout.width(level: level, index: index, size: size)
        guard width > 0 else { return nil }
        let path = layout.levelPath(level)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: width * 32)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(index) * off_t(TileLayout.width * 32)) }
        guard got == bytes.count else { return nil }
        return (0..<width).map { TreeHash(bytes: bytes[($0 * 32)..<($0 * 32 + 32)])! }
    }

    /// The root of the perfect subtree of 2^height leaves from `start` (a multiple of its
    /// width, and within `size`), from the tile of the level just below it.
    package func subtree(start: UInt64, height: Int) -> TreeHash? {
        let level = height / 8
        let entry = start >> UInt64(8 * level)
        let count = 1 << (height - 8 * level)
        guard let hashes = tile(level: level, index: entry / UInt64(TileLayout.width)) else { return nil }
        let first = Int(entry % UInt64(TileLayout.width))
        guard first + count <= hashes.count else { return nil }
        return MerkleProof.root(of: hashes[first..<(first + count)])
    }
}

/// A tree's subtree hashes from its tiles up to the size they cover, and from its leaves
/// after that: what RFC 6962's proofs ask for (`MerkleProof.inclusion(index:size:rootOf:)`).
package struct TiledTree {
    package let tiles: TileReader
    /// Leaves up to here are read from the tiles (at most `tiles.size`).
    package let tiled: UInt64
    /// The leaf hashes after `tiled`.
    package let after: [TreeHash]

    package struct Missing: Error {}

    package init(tiles: TileReader, tiled: UInt64, after: [TreeHash]) {
        self.tiles = tiles
        self.tiled = min(tiled, tiles.size)
        self.after = after
    }

    package var size: UInt64 { tiled + UInt64(after.count) }

    /// MTH(D[range]).
    package func root(_ range: Range<UInt64>) throws(Missing) -> TreeHash {
        let count = UInt64(range.count)
        if count == 0 { return .emptyRoot }
        if count & (count - 1) == 0, range.lowerBound % count == 0 {
            return try perfect(start: range.lowerBound, height: count.trailingZeroBitCount)
        }
        let k = UInt64(1) << UInt64(63 - (count - 1).leadingZeroBitCount)
        return TreeHash.node(try root(range.lowerBound..<(range.lowerBound + k)), try root((range.lowerBound + k)..<range.upperBound))
    }

    private func perfect(start: UInt64, height: Int) throws(Missing) -> TreeHash {
        let end = start + (1 << UInt64(height))
        if end <= tiled {
            guard let hash = tiles.subtree(start: start, height: height) else { throw Missing() }
            return hash
        }
        if start >= tiled {
            let offset = Int(start - tiled)
            guard offset + (1 << height) <= after.count else { throw Missing() }
            return MerkleProof.root(of: after[offset..<(offset + (1 << height))])
        }
        let half = start + (1 << UInt64(height - 1))
        return TreeHash.node(try perfect(start: start, height: height - 1), try perfect(start: half, height: height - 1))
    }
}

/// Checks the tiles of a tree of `size` leaves against the leaves of a verified scan, tile by
/// tile, as `hindsight verify` reads the log.
struct TileCheck {
    let layout: TileLayout
    let size: UInt64
    private let reader: TileReader
    private var edge: [[TreeHash]] = [[]]
    private var taken: UInt64 = 0
    /// The first tile that is missing or holds other hashes than the leaves give.
    private(set) var firstBad: String?

    init(layout: TileLayout, size: UInt64) {
        self.layout = layout
        self.size = size
        reader = TileReader(layout: layout, size: size)
    }

    /// Takes the next leaves of the scan (those past `size` are not tiled), with the roots of
    /// the whole tiles of 256 leaves among them that the scan hashed already.
    mutating func take(_ leaves: [TreeHash], tileRoots: [UInt64: TreeHash] = [:]) {
        for leaf in leaves.prefix(Int(min(UInt64(leaves.count), size - min(size, taken)))) {
            var hash = leaf
            var level = 0
            while true {
                if level == edge.count { edge.append([]) }
                edge[level].append(hash)
                guard edge[level].count == TileLayout.width else { break }
                let index = (taken >> UInt64(8 * level)) / UInt64(TileLayout.width)
                compare(level: level, index: index)
                hash = level == 0 ? tileRoots[index] ?? MerkleProof.root(of: edge[0][...]) : MerkleProof.root(of: edge[level][...])
                edge[level].removeAll(keepingCapacity: true)
                level += 1
            }
            taken += 1
        }
    }

    /// Checks the partial tiles of the right edge, once every leaf up to `size` was taken. An
    /// index beyond the log is not this log's (the writer rebuilds it when it opens the log):
    /// its tiles are not judged.
    mutating func finish() {
        guard taken == size else {
            firstBad = nil
            return
        }
        for level in edge.indices where !edge[level].isEmpty {
            compare(level: level, index: (size >> UInt64(8 * level)) / UInt64(TileLayout.width))
        }
    }

    private mutating func compare(level: Int, index: UInt64) {
        guard firstBad == nil else { return }
        if reader.read(level: level, index: index) != edge[level] {
            firstBad = "tile \(index) of level \(level), in \(layout.levelPath(level))"
        }
    }
}
