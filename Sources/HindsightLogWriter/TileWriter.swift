internal import CShim
import Foundation
import HindsightCore
import HindsightFiles
import HindsightLog

/// Writes the tree's tiles (`TileLayout`) as leaves are added: a full tile as soon as it is
/// full, and at each `flush` the partial tiles of the right edge, replacing the previous
/// ones. Used by the writer's index, which saves them with its state.
final class TileWriter {
    let layout: TileLayout
    /// Leaves taken in.
    private(set) var size: UInt64
    /// Per level, the hashes of its tile not yet full.
    private var edge: [[TreeHash]]
    /// Per level, the partial tile on disk, to remove when it is replaced.
    private var partialOnDisk: [(index: UInt64, width: Int)?]
    private var written = false
    private var directories = Set<String>()

    /// Tiles for an empty tree; whatever tiles were on disk are removed.
    init(emptyAt layout: TileLayout) throws(LogError) {
        self.layout = layout
        size = 0
        edge = [[]]
        partialOnDisk = [nil]
        if FileIO.exists(layout.directory) {
            do {
                try FileManager.default.removeItem(atPath: layout.directory)
            } catch {
                throw LogError(.io, "cannot remove the tiles to rebuild them: \(error)", location: layout.directory)
            }
        }
    }

    /// The tiles on disk for a tree of `size` leaves, when they hold its right edge and its
    /// peaks are `peaks` (the index state's frontier); nil otherwise.
    init?(layout: TileLayout, size: UInt64, peaks: [TreeHash]) {
        self.layout = layout
        self.size = size
        let reader = TileReader(layout: layout, size: size)
        var edge: [[TreeHash]] = []
        var level = 0
        while level == 0 || size >> UInt64(8 * level) > 0 {
            let entries = size >> UInt64(8 * level)
            let index = entries / UInt64(TileLayout.width)
            if entries % UInt64(TileLayout.width) == 0 {
                edge.append([])
            } else {
                guard let hashes = reader.tile(level: level, index: index) else { return nil }
                edge.append(hashes)
            }
            level += 1
        }
        self.edge = edge
        partialOnDisk = edge.enumerated().map { level, hashes in
            hashes.isEmpty ? nil : ((size >> UInt64(8 * level)) / UInt64(TileLayout.width), hashes.count)
        }
        // The peaks of the tree, from the tiles, must be the state's.
        var start: UInt64 = 0
        var found: [TreeHash] = []
        for height in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(height)) != 0 {
            guard let peak = reader.subtree(start: start, height: height) else { return nil }
            found.append(peak)
            start += 1 << UInt64(height)
        }
        guard found == peaks else { return nil }
    }

    /// Adds a leaf; writes each tile it fills.
    func append(_ leaf: TreeHash) throws(LogError) {
        var hash = leaf
        var level = 0
        while true {
            if level == edge.count {
                edge.append([])
                partialOnDisk.append(nil)
            }
            edge[level].append(hash)
            guard edge[level].count == TileLayout.width else { break }
            let index = (size >> UInt64(8 * level)) / UInt64(TileLayout.width)
            try write(edge[level], level: level, index: index)
            hash = MerkleProof.root(of: edge[level][...])
            edge[level].removeAll(keepingCapacity: true)
            level += 1
        }
        size += 1
    }

    /// Writes the partial tiles of the right edge, removes those they replace, and makes every
    /// tile written since the last flush durable.
    func flush() throws(LogError) {
        for (level, hashes) in edge.enumerated() {
            let index = (size >> UInt64(8 * level)) / UInt64(TileLayout.width)
            let partial = hashes.isEmpty ? nil : (index: index, width: hashes.count)
            let old = partialOnDisk[level]
            if let partial, old.map({ $0 != partial }) ?? true { try write(hashes, level: level, index: index) }
            if let old, partial.map({ $0 != old }) ?? true {
                let path = layout.path(level: level, index: old.index, width: old.width)
                unlink(path)
                // The `N.p` folder, once it holds no partial tile.
                if partial?.index != old.index { rmdir(FileIO.parent(of: path)) }
            }
            partialOnDisk[level] = partial
        }
        guard written else { return }
        try FileIO.makeDirectory(layout.directory)
        let fd = try FileIO.open(layout.directory, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        guard hs_syncfs(fd) == 0 else { throw LogError.system("syncfs", path: layout.directory, errno: errno) }
        written = false
    }

    private func write(_ hashes: [TreeHash], level: Int, index: UInt64) throws(LogError) {
        let path = layout.path(level: level, index: index, width: hashes.count)
        let folder = FileIO.parent(of: path)
        if !directories.contains(folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw LogError(.io, "cannot make the tile folder: \(error)", location: folder)
            }
            directories.insert(folder)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hashes.count * 32)
        for hash in hashes { bytes.append(contentsOf: hash.bytes) }
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try FileIO.writeAll(fd, bytes, path: path)
        written = true
    }
}
