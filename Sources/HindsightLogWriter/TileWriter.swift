import Foundation
import HindsightCore
import HindsightFiles
import HindsightLog

/// Writes the tree's tiles (`TileLayout`) as leaves are added: a full tile as soon as it is
/// full, and at each `flush` the partial tiles of the right edge, replacing the previous
/// ones. Used by the writer's index, which feeds it each batch as it is written and flushes
/// it before saving its state.
///
/// Files are written on a queue of their own, so that making a file per 256 events (which
/// costs from tens of microseconds to a millisecond each, as the file system is busy) overlaps
/// the appends instead of adding to them; `flush` waits for them.
final class TileWriter {
    let layout: TileLayout
    /// Leaves taken in.
    private(set) var size: UInt64
    /// Per level, the hashes of its tile not yet full.
    private var edge: [[TreeHash]]
    /// Per level, the partial tile on disk, to remove when it is replaced.
    private var partialOnDisk: [(index: UInt64, width: Int)?]
    private let files = TileFiles()

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

    /// Adds a leaf; each tile it fills is written (on the files' queue).
    func append(_ leaf: TreeHash) {
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
            files.write(edge[level], to: layout.path(level: level, index: index, width: TileLayout.width))
            hash = MerkleProof.root(of: edge[level][...])
            edge[level].removeAll(keepingCapacity: true)
            level += 1
        }
        size += 1
    }

    /// Writes the partial tiles of the right edge and removes those they replace.
    ///
    /// Tiles are not fsynced: one per 256 events, a file each, that would cost more than the
    /// events' own append. A tile lost by a power failure is found where it is used (a proof
    /// from it does not check against the chunk headers, and is computed from the leaves
    /// instead; `verify` names it), and the writer rebuilds the tiles when the right edge it
    /// starts from is not on disk.
    func flush() throws(LogError) {
        for (level, hashes) in edge.enumerated() {
            let index = (size >> UInt64(8 * level)) / UInt64(TileLayout.width)
            let partial = hashes.isEmpty ? nil : (index: index, width: hashes.count)
            let old = partialOnDisk[level]
            if let partial, old.map({ $0 != partial }) ?? true {
                files.write(hashes, to: layout.path(level: level, index: index, width: hashes.count))
            }
            if let old, partial.map({ $0 != old }) ?? true {
                // The `N.p` folder goes too, once it holds no partial tile.
                files.remove(layout.path(level: level, index: old.index, width: old.width), folderToo: partial?.index != old.index)
            }
            partialOnDisk[level] = partial
        }
        try files.finish()
    }
}

/// The tile files being written, in order, on a queue of their own; the first failure is kept
/// for `finish`.
private final class TileFiles: @unchecked Sendable {
    private let queue = DispatchQueue(label: "hindsight.tiles")
    /// Touched only on the queue.
    private var directories = Set<String>()
    private var failure: LogError?

    func write(_ hashes: [TreeHash], to path: String) {
        queue.async {
            guard self.failure == nil else { return }
            do throws(LogError) {
                try self.writeNow(hashes, to: path)
            } catch {
                self.failure = error
            }
        }
    }

    func remove(_ path: String, folderToo: Bool) {
        queue.async {
            unlink(path)
            if folderToo { rmdir(FileIO.parent(of: path)) }
        }
    }

    /// Waits for every file asked for, and throws the first failure.
    func finish() throws(LogError) {
        let failure = queue.sync { () -> LogError? in
            defer { self.failure = nil }
            return self.failure
        }
        if let failure { throw failure }
    }

    private func writeNow(_ hashes: [TreeHash], to path: String) throws(LogError) {
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
    }
}
