import Foundation
import HindsightCore
import HindsightFiles
import HindsightLog

/// What the writer knows of everything stored, kept on disk so that opening a log reads a
/// bounded amount whatever its length (`DIR/index`, see `IndexLayout`): each event id's seq
/// (appends are idempotent across the whole history), each stream's version and last seq
/// (expected versions, and reading a stream), and each event's previous seq in its stream.
///
/// The files hold the log up to `saved`; what this writer appended since is in memory until
/// the next `save`, which happens only when every batch written is durable, so the files never
/// hold an event that a crash could take back. Nothing in them is trusted: the state must be
/// this log's (`LogView.confirms`), each file must have been saved with that state, and each
/// page's checksum must pass when first read. Anything else, found at open or later, is
/// rebuilt from the segments.
final class WriterIndex: @unchecked Sendable {
    private let directory: String
    private let layout: IndexLayout
    /// `LogOptions.indexSaveEvents`.
    private let saveEvery: Int?
    private(set) var saved: IndexState
    private var ids: IndexFile
    private var streams: IndexFile
    private var previous: IndexFile
    private var tiles: TileWriter
    private var lastSave = Date()
    /// Set when a save failed part way: the files are left marked as being saved, and the
    /// index is rebuilt when the log is next opened.
    private var saveFailed = false
    /// Set when a rebuild failed part way: every lookup fails with it from then on.
    private var broken: LogError?

    /// Appended since `saved`: ids and their seqs, streams and their positions, and each
    /// event's previous seq in its stream, from seq `saved.size + 1`.
    private var newIDs = NumberTable<EventID>()
    private var newStreams = NumberTable<StreamKey>()
    private var newPositions: [StreamPosition] = []
    private var newPrevious: [UInt64] = []
    private var newLeaves: [TreeHash] = []

    /// Opens the index of the log in `view`, every committed chunk of which is durable, and
    /// brings it to the view's end, checking every chunk it reads; returns with the frontier
    /// there. A missing or untrustworthy index is rebuilt from the segments.
    init(view: LogView, directory: String, saveEvery: Int? = nil) throws(LogError) {
        self.directory = directory
        self.saveEvery = saveEvery
        layout = IndexLayout(root: directory)
        try FileIO.makeDirectory(layout.directory)
        if let found = Self.load(layout, view) {
            (saved, ids, streams, previous, tiles) = found
        } else {
            saved = IndexState(size: 0, root: .emptyRoot, peaks: [])
            (ids, streams, previous) = try Self.createFiles(layout)
            tiles = try TileWriter(emptyAt: TileLayout(root: directory))
        }
        let end = view.committed.last?.header.lastSeq ?? 0
        do {
            try catchUp(view, through: end)
        } catch is IndexFile.Damaged {
            try rebuild(view, through: end)
        } catch {
            throw error as! LogError
        }
    }

    /// The frontier at `saved`.
    var savedFrontier: MerkleFrontier { saved.frontier! }

    /// Events appended and not yet in the files.
    var unsaved: Int { newPrevious.count }

    // MARK: Lookups

    /// Records the id of an event about to be written at `seq` and returns nil, or returns
    /// the seq of the event that has it already (stored, or earlier in the same batch).
    func admitID(_ id: EventID, at seq: UInt64) throws(LogError) -> UInt64? {
        if let broken { throw broken }
        if let stored = try healing({ () throws(IndexFile.Damaged) in try savedSeq(of: id) }) { return stored }
        return newIDs.insert(id, seq) ? nil : newIDs[id]
    }

    /// Makes room for the ids of a batch of `count` events.
    func reserveIDs(_ count: Int) { newIDs.reserveCapacity(newIDs.count + count) }

    /// Forgets ids recorded at `seqs` for a batch that is not written after all.
    func forgetID(_ id: EventID, ifAt seq: UInt64) {
        if newIDs[id] == seq { newIDs.remove(id) }
    }

    /// A stream's version and last seq (zero for a stream with no events).
    func position(of stream: StreamKey) throws(LogError) -> StreamPosition {
        if let broken { throw broken }
        if let slot = newStreams[stream] { return newPositions[Int(slot)] }
        guard streams.header.entries > 0 else { return StreamPosition(version: 0, lastSeq: 0) }
        return try healing { () throws(IndexFile.Damaged) in try savedPosition(of: StreamDigest(stream.name)) }
    }

    /// Takes in a written batch: each stream's position after it, and each event's previous
    /// seq in its stream.
    func record(streams positions: [(stream: StreamKey, position: StreamPosition)], previous: [UInt64], leaves: [TreeHash]) {
        newLeaves.append(contentsOf: leaves)
        // Tiles of leaves not yet durable are harmless: a tree of the saved size reads none of
        // them, and a tile is written again when the tree grows through it.
        for leaf in leaves { tiles.append(leaf) }
        for (stream, position) in positions {
            if let slot = newStreams[stream] {
                newPositions[Int(slot)] = position
            } else {
                newStreams.insert(stream, UInt64(newPositions.count))
                newPositions.append(position)
            }
        }
        newPrevious.append(contentsOf: previous)
    }

    /// Whether a save is due: a large part of the history appended since the last, or a small
    /// one that has waited a second (so that readers scan little past the index), or as many
    /// events as `LogOptions.indexSaveEvents` says.
    var isSaveDue: Bool {
        if saveFailed { return false }
        if let saveEvery { return unsaved >= saveEvery }
        return unsaved >= max(1 << 20, Int(saved.size / 2))
            || (unsaved > 0 && unsaved <= 1 << 16 && Date().timeIntervalSince(lastSave) >= 1)
    }

    // MARK: Saving

    /// Writes what was appended since the last save into the files, durably, then the state
    /// naming `frontier` (which must be where the appended events end, all durable).
    func save(_ frontier: MerkleFrontier) throws(LogError) {
        if let broken { throw broken }
        guard unsaved > 0, !saveFailed else { return }
        do throws(LogError) {
            try saveAppended(frontier)
        } catch {
            saveFailed = true
            throw error
        }
    }

    private func saveAppended(_ frontier: MerkleFrontier) throws(LogError) {
        precondition(frontier.size == saved.size + UInt64(unsaved), "the index saves exactly the events appended since its last save")
        do {
            try beginSave(adding: newIDs.count, newPositions.count, upTo: frontier.size)
            for (id, seq) in newIDs.entries { try insert(id, seq) }
            for (stream, slot) in newStreams.entries { try setPosition(newPositions[Int(slot)], of: StreamDigest(stream.name)) }
            for (offset, before) in newPrevious.enumerated() { try setPrevious(before, at: saved.size + 1 + UInt64(offset)) }
        } catch is IndexFile.Damaged {
            let view = try LogView(layout: LogLayout(root: directory), boundedByHead: false)
            try rebuild(view, through: frontier.size)
            return
        } catch {
            throw error as! LogError
        }
        try finishSave(frontier)
    }

    // MARK: Opening, catching up, rebuilding

    private static func load(_ layout: IndexLayout, _ view: LogView) -> (IndexState, IndexFile, IndexFile, IndexFile, TileWriter)? {
        guard let state = layout.readState(), view.confirms(state),
            let ids = IndexFile.open(layout.path(.ids), .ids), let streams = IndexFile.open(layout.path(.streams), .streams),
            let previous = IndexFile.open(layout.path(.previous), .previous)
        else { return nil }
        for file in [ids, streams, previous] where file.header.isSaving || file.header.size != state.size || file.header.root != state.root
        {
            return nil
        }
        guard let tiles = TileWriter(layout: TileLayout(root: FileIO.parent(of: layout.directory)), size: state.size, peaks: state.peaks)
        else { return nil }
        return (state, ids, streams, previous, tiles)
    }

    private static func createFiles(_ layout: IndexLayout) throws(LogError) -> (IndexFile, IndexFile, IndexFile) {
        func make(_ kind: IndexFileKind, slots: Int) throws(LogError) -> IndexFile {
            try IndexFile.create(
                layout.path(kind),
                IndexFileHeader(kind: kind, slots: slots, entries: 0, multiplier: .random(in: 1...UInt64.max), size: 0, root: .emptyRoot))
        }
        return (try make(.ids, slots: 1024), try make(.streams, slots: 1024), try make(.previous, slots: IndexPage.words))
    }

    /// Starts the index again from nothing and replays the log through `end`.
    private func rebuild(_ view: LogView, through end: UInt64) throws(LogError) {
        newIDs = NumberTable()
        newStreams = NumberTable()
        newPositions = []
        newPrevious = []
        newLeaves = []
        saved = IndexState(size: 0, root: .emptyRoot, peaks: [])
        do throws(LogError) {
            (ids, streams, previous) = try Self.createFiles(layout)
            tiles = try TileWriter(emptyAt: TileLayout(root: directory))
            do {
                try catchUp(view, through: end)
            } catch is IndexFile.Damaged {
                // Files just made, and damaged already: the disk is failing.
                throw LogError(.io, "the index could not be rebuilt: its pages do not read back as written", location: layout.directory)
            } catch {
                throw error as! LogError
            }
        } catch {
            // What the writer knew is gone with the old files: it takes nothing more until the
            // log is opened again, which rebuilds the index from the segments.
            broken = LogError(
                error.code, "the writer's index could not be rebuilt (\(error.message)); open the log again", location: error.location)
            throw broken!
        }
        saveFailed = false
    }

    /// Replays the committed chunks after `saved` through `end` into the files, checking each
    /// chunk's checksums, seqs and tree head on the way, and saves.
    private func catchUp(_ view: LogView, through end: UInt64) throws {
        guard end > saved.size else { return }
        var frontier = savedFrontier
        let start = view.committed.firstIndex { $0.header.lastSeq > saved.size } ?? view.committed.endIndex
        let chunks = view.committed[start...].prefix { $0.header.firstSeq <= end }
        var failure: (any Error)?
        try view.forEachChecked(chunks, identities: true) { (chunk, result) throws(LogError) in
            do {
                let checked = try result.mapError(LogError.init(corruption:)).get()
                // The first chunk may hold the saved seq (compaction merges batches), the last
                // may go past `end`: the tree grows by the leaves in between, and the chunk's
                // other leaves are hashed into a copy to check the root its header records.
                let skip = Int(saved.size - min(saved.size, chunk.header.firstSeq - 1))
                let last = Int(min(end, chunk.header.lastSeq) - chunk.header.firstSeq)
                if chunk.header.firstSeq + UInt64(skip) != frontier.size + 1 {
                    throw view.corrupt(chunk, "events before seq \(chunk.header.firstSeq) are missing, or appear again")
                }
                if skip == 0 && last + 1 == checked.leaves.count {
                    for subtree in checked.subtrees { frontier.append(subtree) }
                    if frontier.root != chunk.header.root {
                        throw view.corrupt(chunk, "Merkle root does not match: an event in this chunk was altered")
                    }
                } else {
                    for leaf in checked.leaves[skip...last] { frontier.append(leaf) }
                    if checked.grownToItsEnd(from: frontier) == nil {
                        throw view.corrupt(chunk, "Merkle root does not match: an event in this chunk was altered")
                    }
                }
                try beginSave(adding: last + 1 - skip, last + 1 - skip, upTo: chunk.header.firstSeq + UInt64(last))
                for offset in skip...last {
                    try apply(checked.identities[offset], at: chunk.header.firstSeq + UInt64(offset))
                    tiles.append(checked.leaves[offset])
                }
                return true
            } catch {
                failure = error
                return false
            }
        }
        if let failure { throw failure }
        try finishSave(frontier)
    }

    /// Marks every file as being saved, and makes room for the entries to come.
    private func beginSave(adding idCount: Int, _ streamCount: Int, upTo size: UInt64) throws {
        for file in [ids, streams, previous] { try file.beginSave() }
        ids = try roomy(ids, for: idCount)
        streams = try roomy(streams, for: streamCount)
        if Int(size) > previous.header.slots { try previous.extend(toSlots: max(Int(size), previous.header.slots * 2)) }
    }

    private func finishSave(_ frontier: MerkleFrontier) throws(LogError) {
        precondition(tiles.size == frontier.size, "the tiles hold the tree the index saves")
        try tiles.flush()
        for file in [ids, streams, previous] { try file.sync(size: frontier.size, root: frontier.root) }
        let state = IndexState(size: frontier.size, root: frontier.root, peaks: frontier.peakHashes)
        try FileIO.replaceDurably(layout.statePath, with: [state.json])
        saved = state
        newIDs = NumberTable()
        newStreams = NumberTable()
        newPositions = []
        newPrevious = []
        newLeaves = []
        lastSave = Date()
    }

    /// The table itself when `adding` more entries keep it at most 70% full; otherwise a
    /// larger one holding its entries, which replaces it on disk.
    private func roomy(_ table: IndexFile, for adding: Int) throws -> IndexFile {
        let needed = table.header.entries + adding
        guard needed * 10 > table.header.slots * 7 else { return table }
        var header = table.header
        header.slots = max(table.header.slots * 2, needed * 2)
        header.entries = 0
        header.multiplier = .random(in: 1...UInt64.max) | 1
        header.isSaving = true
        let grown = try IndexFile.create(table.path + ".grown", header)
        let words = table.header.kind.wordsPerSlot
        for slot in 0..<table.header.slots {
            let entry = try table.slot(slot)
            guard entry.loadUnaligned(fromByteOffset: 16, as: UInt64.self) != 0 else { continue }
            let (target, _) = try grown.find(entry.loadUnaligned(as: UInt64.self), entry.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            {
                _ in false
            }
            (try grown.slot(target)).copyMemory(from: entry, byteCount: words * 8)
            grown.mark(target)
            grown.added(1)
        }
        guard rename(grown.path, table.path) == 0 else { throw LogError.system("rename", path: table.path, errno: errno) }
        grown.path = table.path
        return grown
    }

    /// One stored event into the files.
    private func apply(_ identity: StoredIdentity, at seq: UInt64) throws {
        if let id = identity.id { try insert(id, seq) }
        let before = try setPosition(StreamPosition(version: identity.version, lastSeq: seq), of: StreamDigest(identity.stream.name))
        try setPrevious(before.lastSeq, at: seq)
    }

    private func savedSeq(of id: EventID) throws(IndexFile.Damaged) -> UInt64? {
        guard ids.header.entries > 0 else { return nil }
        let (slot, found) = try find(id)
        guard found else { return nil }
        return try ids.slot(slot).loadUnaligned(fromByteOffset: 16, as: UInt64.self) & (1 << 56 - 1)
    }

    /// The slot of `id` in the ids' table, or the empty one where it would go.
    private func find(_ id: EventID) throws(IndexFile.Damaged) -> (slot: Int, found: Bool) {
        try ids.find(id.high, id.low) { entry in entry.loadUnaligned(fromByteOffset: 16, as: UInt64.self) >> 56 == UInt64(id.kind) }
    }

    private func insert(_ id: EventID, _ seq: UInt64) throws(IndexFile.Damaged) {
        let (slot, found) = try find(id)
        guard !found else { return }
        let entry = try ids.slot(slot)
        ids.mark(slot)
        entry.storeBytes(of: id.high, as: UInt64.self)
        entry.storeBytes(of: id.low, toByteOffset: 8, as: UInt64.self)
        entry.storeBytes(of: UInt64(id.kind) << 56 | seq, toByteOffset: 16, as: UInt64.self)
        ids.added(1)
    }

    private func savedPosition(of digest: StreamDigest) throws(IndexFile.Damaged) -> StreamPosition {
        let (slot, found) = try streams.find(digest.w0, digest.w1) { _ in true }
        guard found else { return StreamPosition(version: 0, lastSeq: 0) }
        let entry = try streams.slot(slot)
        return StreamPosition(
            version: entry.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
            lastSeq: entry.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Sets a stream's position, and returns the one it had.
    @discardableResult
    private func setPosition(_ position: StreamPosition, of digest: StreamDigest) throws(IndexFile.Damaged) -> StreamPosition {
        let (slot, found) = try streams.find(digest.w0, digest.w1) { _ in true }
        let entry = try streams.slot(slot)
        let before =
            found
            ? StreamPosition(
                version: entry.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                lastSeq: entry.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            : StreamPosition(version: 0, lastSeq: 0)
        streams.mark(slot)
        entry.storeBytes(of: digest.w0, as: UInt64.self)
        entry.storeBytes(of: digest.w1, toByteOffset: 8, as: UInt64.self)
        entry.storeBytes(of: position.version, toByteOffset: 16, as: UInt64.self)
        entry.storeBytes(of: position.lastSeq, toByteOffset: 24, as: UInt64.self)
        if !found { streams.added(1) }
        return before
    }

    private func setPrevious(_ before: UInt64, at seq: UInt64) throws(IndexFile.Damaged) {
        let slot = Int(seq - 1)
        let entry = try previous.slot(slot)
        previous.mark(slot)
        entry.storeBytes(of: before, as: UInt64.self)
        if seq > previous.header.entries { previous.added(Int(seq) - previous.header.entries) }
    }

    /// Runs a lookup in the files; when a page of them is damaged, rebuilds them from the
    /// segments through `saved` and runs it again.
    private func healing<T>(_ lookup: () throws(IndexFile.Damaged) -> T) throws(LogError) -> T {
        do {
            return try lookup()
        } catch {
            let view = try LogView(layout: LogLayout(root: directory), boundedByHead: false)
            let appended = (newIDs, newStreams, newPositions, newPrevious, newLeaves)
            try rebuild(view, through: saved.size)
            (newIDs, newStreams, newPositions, newPrevious, newLeaves) = appended
            for leaf in newLeaves { tiles.append(leaf) }
            do {
                return try lookup()
            } catch {
                throw LogError(.io, "the index could not be rebuilt: its pages do not read back as written", location: layout.directory)
            }
        }
    }
}

/// A stream's version and the seq of its last event.
struct StreamPosition: Equatable {
    var version: UInt64
    var lastSeq: UInt64
}
