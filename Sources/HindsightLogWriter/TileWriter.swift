import Foundation
import HindsightCore
import HindsightFiles
import HindsightLog

/// Writes the tree's levels (`TileLayout`) as leaves are added: each level's new hashes are
/// kept in memory and appended to its file, durably, at `flush`, which the writer's index
/// calls before it saves its state. A level file may hold more hashes than the state's tree
/// (a save cut short): they are written over.
final class TileWriter {
    let layout: TileLayout
    /// Leaves taken in.
    private(set) var size: UInt64
    /// Per level, the hashes of its last tile not yet full: what the next parent is made of.
    private var edge: [[TreeHash]]
    /// Per level, the hashes not yet in its file, and how many the file holds before them.
    private var pending: [[TreeHash]]
    private var written: [UInt64]

    /// Levels for an empty tree; whatever level files were on disk are removed.
    init(emptyAt layout: TileLayout) throws(LogError) {
        self.layout = layout
        size = 0
        edge = [[]]
        pending = [[]]
        written = [0]
        var level = 0
        while FileIO.exists(layout.levelPath(level)) {
            guard unlink(layout.levelPath(level)) == 0 else { throw LogError.system("unlink", path: layout.levelPath(level), errno: errno) }
            level += 1
        }
    }

    /// The levels on disk for a tree of `size` leaves, when they hold its right edge and its
    /// peaks are `peaks` (the index state's frontier); nil otherwise.
    init?(layout: TileLayout, size: UInt64, peaks: [TreeHash]) {
        self.layout = layout
        self.size = size
        let reader = TileReader(layout: layout, size: size)
        var edge: [[TreeHash]] = []
        var written: [UInt64] = []
        var level = 0
        while level == 0 || size >> UInt64(8 * level) > 0 {
            let entries = size >> UInt64(8 * level)
            written.append(entries)
            if entries % UInt64(TileLayout.width) == 0 {
                edge.append([])
            } else {
                guard let hashes = reader.tile(level: level, index: entries / UInt64(TileLayout.width)) else { return nil }
                edge.append(hashes)
            }
            level += 1
        }
        self.edge = edge
        self.written = written
        pending = edge.map { _ in [] }
        // The peaks of the tree, from the levels, must be the state's.
        let found = MerkleFrontier(size: size) { range in
            reader.subtree(start: range.lowerBound, height: UInt64(range.count).trailingZeroBitCount)
        }
        guard found?.peakHashes == peaks else { return nil }
    }

    /// Adds a leaf, and the parent of each tile it fills.
    func append(_ leaf: TreeHash) {
        var hash = leaf
        var level = 0
        while true {
            if level == edge.count {
                edge.append([])
                pending.append([])
                written.append(0)
            }
            edge[level].append(hash)
            pending[level].append(hash)
            guard edge[level].count == TileLayout.width else { break }
            hash = MerkleProof.root(of: edge[level][...])
            edge[level].removeAll(keepingCapacity: true)
            level += 1
        }
        size += 1
    }

    /// Appends each level's new hashes to its file and makes them durable.
    func flush() throws(LogError) {
        for level in pending.indices where !pending[level].isEmpty {
            let path = layout.levelPath(level)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(pending[level].count * 32)
            for hash in pending[level] { bytes.append(contentsOf: hash.bytes) }
            let fd = try FileIO.open(path, O_WRONLY | O_CREAT)
            defer { close(fd) }
            var done = 0
            while done < bytes.count {
                let offset = off_t(written[level]) * 32 + off_t(done)
                let wrote = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, offset) }
                if wrote < 0 && errno == EINTR { continue }
                guard wrote > 0 else { throw LogError.system("pwrite", path: path, errno: wrote < 0 ? errno : EIO) }
                done += wrote
            }
            try FileIO.fsync(fd, path: path)
            written[level] += UInt64(pending[level].count)
            pending[level].removeAll(keepingCapacity: true)
        }
    }
}
