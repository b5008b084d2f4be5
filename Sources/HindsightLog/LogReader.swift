internal import CShim
import Dispatch
import Foundation
public import HindsightCore
import HindsightFiles

/// The outcome of a verification scan.
public struct VerifyReport: Sendable, Equatable {
    /// Events checked.
    public var checked: UInt64
    /// The verified tree head: its size (last seq) and root.
    public var size: UInt64
    public var root: TreeHash
    /// The first seq that failed and why; nil when everything verified.
    public var firstBad: VerifyFailure?
    /// Things worth knowing that are not damage (an unfinished batch awaiting recovery).
    public var notes: [String] = []
    /// The first tile of the tree's levels (`DIR/index/tree.L`) that does not match the leaves.
    public var badTile: String?

    public var ok: Bool { firstBad == nil }
}

/// The first seq that cannot be trusted, and why.
public struct VerifyFailure: Error, Sendable, Equatable {
    public let seq: UInt64
    public let reason: String
}

extension LogError {
    /// Damage found on the way to something else: the caller is pointed at `verify`.
    package init(corruption failure: VerifyFailure) {
        self.init(.logCorrupt, "\(failure.reason); run `hindsight verify`", location: "seq \(failure.seq)")
    }
}

/// Sizes and the tree head, as `hindsight stats` prints them.
public struct LogStats: Sendable {
    public var events: UInt64
    /// Bytes of stored NDJSON (what `lz4 -dc` prints).
    public var rawBytes: UInt64
    /// Bytes of the log's files: the segments and HEAD. (The keys of personal data beside them
    /// are not the log; see docs/privacy.md.)
    public var storedBytes: UInt64
    public var segments: Int
    public var head: (size: UInt64, root: TreeHash)
    public var ratio: Double { storedBytes == 0 ? 0 : Double(rawBytes) / Double(storedBytes) }
}

/// Reads a data directory: scans, filtered reads, verification and proofs. A reader never
/// writes; it sees the acknowledged batches as of the moment it was opened.
public final class LogReader: Sendable {
    let view: LogView
    /// The last chunks `read` decompressed: a long-lived reader (a server's) answers reads
    /// near each other without decompressing their chunk again.
    private let recentTexts = RecentChunks()

    /// Opens the log in `directory` for reading. An existing directory without segments reads
    /// as an empty log; a missing one is an error, so that a mistyped path is not taken for an
    /// empty history.
    public init(directory: String) throws(LogError) {
        guard FileIO.exists(directory) else {
            throw LogError(.noLog, "there is no data directory here; give --data DIR or set HINDSIGHT_DATA", location: directory)
        }
        view = try LogView(layout: LogLayout(root: directory), boundedByHead: true)
    }

    /// The number of readable events (the last seq).
    public var size: UInt64 { view.size }
    /// The tree head at `size`.
    public var root: TreeHash { view.root }

    /// Calls `body` with every stored line in `range` (seq order), each without its newline.
    /// Every chunk's checksums pass before any of its lines is handed out. `body` returns
    /// false to stop.
    public func scanLines(
        _ range: ClosedRange<UInt64> = 1...UInt64.max,
        _ body: (_ seq: UInt64, _ line: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        guard let first = view.chunkIndex(holding: max(range.lowerBound, 1)) else { return }
        for chunk in view.chunks[first...] {
            if chunk.header.firstSeq > range.upperBound { return }
            let text = try view.text(of: chunk).get()
            let done: Bool = try text.withUnsafeBytes { bytes in
                for (offset, line) in bytes.lineRanges(length: Int(chunk.header.rawLength)).enumerated() {
                    let seq = chunk.header.firstSeq + UInt64(offset)
                    if seq > range.upperBound { return true }
                    if seq >= range.lowerBound, try !body(seq, UnsafeRawBufferPointer(rebasing: bytes[line])) { return true }
                }
                return false
            }
            if done { return }
        }
    }

    /// Calls `body` with each event matching `query`, in seq order, until it returns false or
    /// `query.limit` events were handed out. Chunks whose time span misses the query's
    /// `occurredAt` bounds are skipped without decompressing them (the sparse time index);
    /// the lines of the others are parsed on all cores. A query whose `from` is after its
    /// `to` matches nothing.
    ///
    /// A query for one stream reads the events the writer's stream index lists (each checked
    /// to be of the stream, at the version the index says), then scans only the chunks after
    /// the seq the index covers: reading a stream costs its own events. Without a usable
    /// index, or once an event disagrees with it, the rest is scanned.
    public func read(_ query: ReadQuery, _ body: (StoredEvent) throws -> Bool) throws {
        guard query.limit > 0, query.from <= query.to else { return }
        var rest = query
        if let stream = query.stream, let index = StreamIndex(view: view), let listed = index.events(of: stream) {
            var handed = 0
            var agrees = true
            var stopped = false
            try readListed(listed.filter { query.from <= $0.seq && $0.seq <= query.to }) { event, version in
                guard event.stream == stream, event.streamVersion == version else {
                    agrees = false
                    return false
                }
                rest.from = event.seq + 1
                guard query.matches(event) else { return true }
                handed += 1
                if try !body(event) || handed >= query.limit {
                    stopped = true
                    return false
                }
                return true
            }
            if stopped { return }
            if agrees { rest.from = max(query.from, index.state.size + 1) }
            rest.limit -= handed
            guard rest.from <= rest.to else { return }
        }
        try scan(rest, body)
    }

    /// Reads the events at the listed seqs (ascending) with the version each should have,
    /// decompressing each chunk that holds some once, until `body` returns false.
    private func readListed(
        _ listed: [(seq: UInt64, version: UInt64)], _ body: (StoredEvent, UInt64) throws -> Bool
    ) throws {
        let parser = try StoredLineParser()
        var next = 0
        while next < listed.count {
            guard let index = view.chunkIndex(holding: listed[next].seq) else { return }
            let chunk = view.chunks[index]
            let (text, lines) = try linesOf(chunk)
            while next < listed.count, listed[next].seq <= chunk.header.lastSeq {
                let line = lines[Int(listed[next].seq - chunk.header.firstSeq)]
                var event = try parser.parse(text[line])
                event.contentOffset = view.contentStarts[index] + UInt64(line.lowerBound)
                if try !body(event, listed[next].version) { return }
                next += 1
            }
        }
    }

    /// A chunk's text and line ranges, from the recent ones when it was just read.
    func linesOf(_ chunk: ChunkRef) throws(LogError) -> RecentChunks.Lines {
        try recentTexts.lines(of: chunk) { () throws(LogError) in
            let text = try view.text(of: chunk).get()
            let lines = text.withUnsafeBytes { $0.lineRanges(length: Int(chunk.header.rawLength)) }
            guard lines.count == Int(chunk.header.count) else {
                throw view.corrupt(
                    chunk, "the chunk holds \(lines.count) lines where its header says \(chunk.header.count); run `hindsight verify`")
            }
            return (text, lines)
        }
    }

    /// `read` by scanning every chunk the query's seqs and times may fall in.
    private func scan(_ query: ReadQuery, _ body: (StoredEvent) throws -> Bool) throws {
        let selected = view.chunks.indices.filter { index in
            let chunk = view.chunks[index]
            return chunk.header.lastSeq >= query.from && chunk.header.firstSeq <= query.to
                && query.occurredFrom.map { chunk.header.maxOccurredAt >= $0 } ?? true
                && query.occurredTo.map { chunk.header.minOccurredAt <= $0 } ?? true
        }
        var handed = 0
        for index in selected {
            let chunk = view.chunks[index]
            let (text, all) = try linesOf(chunk)
            // The wanted lines, then parsed in windows: a read of a few events parses a few
            // lines; a long one soon parses whole chunks on all cores.
            let first = chunk.header.firstSeq
            let lines = all[Int(max(query.from, first) - first)..<Int(min(query.to, chunk.header.lastSeq) - first + 1)]
            var start = lines.startIndex
            // Without filters every line is handed out, so the first window is what the limit
            // asks for; with filters, enough lines that a sparse match does not mean many rounds.
            let unfiltered =
                query.types == nil && query.stream == nil && query.org == nil
                && query.occurredFrom == nil && query.occurredTo == nil
            var window = min(lines.count, max(unfiltered ? 1 : 256, min(query.limit - handed, lines.count)))
            while start < lines.endIndex {
                let part = Array(lines[start..<min(lines.endIndex, start + window)])
                start += part.count
                window *= 4
                for slice in Self.events(in: text, lines: part, matching: query, contentStart: view.contentStarts[index]) {
                    for event in try slice.get() {
                        handed += 1
                        if try !body(event) || handed >= query.limit { return }
                    }
                }
            }
        }
    }

    /// The events on `lines` of a decompressed chunk (starting at `contentStart` in the log's
    /// content) that match `query`, parsed on all cores, in consecutive slices.
    private static func events(
        in text: [UInt8], lines: [Range<Int>], matching query: ReadQuery, contentStart: UInt64
    ) -> [Result<[StoredEvent], LogError>] {
        // A few lines are parsed here: handing them to other threads would cost more.
        let slices = lines.count < 1024 ? 1 : 4 * ProcessInfo.processInfo.activeProcessorCount
        guard slices > 1 else { return [events(in: text, lines: lines[...], matching: query, contentStart: contentStart)] }
        var results = [Result<[StoredEvent], LogError>](repeating: .success([]), count: slices)
        results.withUnsafeMutableBufferPointer { out in
            let shared = UnsafeSendable(out)
            DispatchQueue.concurrentPerform(iterations: slices) { index in
                let share = (lines.count + slices - 1) / slices
                let mine = lines[min(lines.count, index * share)..<min(lines.count, (index + 1) * share)]
                shared.value[index] = Self.events(in: text, lines: mine, matching: query, contentStart: contentStart)
            }
        }
        return results
    }

    /// The events on `lines` of a decompressed chunk that match `query`.
    private static func events(
        in text: [UInt8], lines: ArraySlice<Range<Int>>, matching query: ReadQuery, contentStart: UInt64
    ) -> Result<[StoredEvent], LogError> {
        Result { () throws(LogError) -> [StoredEvent] in
            let parser = try StoredLineParser()
            var events: [StoredEvent] = []
            events.reserveCapacity(lines.count)
            let types = query.types.map { $0.map { Array($0.utf8) } }
            for line in lines {
                // A line of a type not asked for is passed over unparsed when its type reads plainly.
                if let types, let type = StoredLine.plainType(of: text[line]), !types.contains(where: { $0.elementsEqual(type) }) {
                    continue
                }
                var event = try parser.parse(text[line])
                event.contentOffset = contentStart + UInt64(line.lowerBound)
                if query.matches(event) { events.append(event) }
            }
            return events
        }
    }

    /// The seq range of events whose chunk may hold an `occurredAt` at or after `time`: the
    /// first seq of the first chunk whose latest event is not older than `time`.
    public func firstSeq(occurredAtOrAfter time: Int64) -> UInt64? {
        view.chunks.first(where: { $0.header.maxOccurredAt >= time })?.header.firstSeq
    }

    /// Checks everything on disk: segment numbering, chunk headers, LZ4 checksums, that every
    /// line carries the next seq, every chunk's Merkle root, the tail, and the HEAD anchor;
    /// also batches written after the last acknowledged one, which a reader does not show.
    /// `progress` hears of the events checked as each chunk is.
    public func verify(progress: ProgressReport? = nil) -> VerifyReport {
        var frontier = MerkleFrontier()
        var report = VerifyReport(checked: 0, size: 0, root: .emptyRoot)
        // The tiles the writer keeps, checked against the leaves on the way.
        var tiles = IndexLayout(root: view.layout.root).readState().map {
            TileCheck(layout: TileLayout(root: view.layout.root), size: $0.size)
        }
        // The body never throws.
        try? view.forEachChecked(view.committed[...]) { chunk, result in
            switch view.grow(&frontier, with: chunk, result) {
            case .failure(let bad):
                report.firstBad = bad
                return false
            case .success(let checked):
                report.checked += UInt64(chunk.header.count)
                tiles?.take(checked.leaves, tileRoots: checked.tileRoots)
                progress?(min(report.checked, size), size)
                return true
            }
        }
        if report.firstBad != nil { return report }
        tiles?.finish()
        report.badTile = tiles?.firstBad
        if let bad = tiles?.firstBad {
            report.notes.append(
                "the tiles do not match the log (\(bad)): proofs are computed from the leaves instead; the writer rebuilds the tiles with its index when DIR/index/state is removed"
            )
        }
        report.size = frontier.size
        report.root = frontier.root
        checkEnd(&report)
        return report
    }

    /// Checks what was appended after a tree head verified before (a signed checkpoint's), in
    /// time proportional to the new events: the tree at `size` is taken from the tiles and
    /// must have `root`; every chunk after it is checked as `verify` checks it, growing that
    /// tree; the consistency proof from the old head to the new one must hold; and the tail
    /// and HEAD are checked as by `verify`. When the tiles cannot give the old tree, everything
    /// is verified, and the report says so.
    public func verify(since size: UInt64, root: TreeHash) -> VerifyReport {
        guard size > 0, size <= self.size, var frontier = frontier(at: size), frontier.root == root else {
            var report = verify()
            if report.ok, size > report.size || (try? self.root(atSize: size)) != root {
                report.firstBad = VerifyFailure(
                    seq: 1,
                    reason: "the log's tree head at \(size) is not the checkpoint's: the log before it was rewritten, or is another log")
            } else {
                report.notes.append("the tree head at \(size) could not be taken from the tiles, so every event was verified")
            }
            return report
        }
        var report = VerifyReport(checked: 0, size: 0, root: .emptyRoot)
        let start = view.committed.firstIndex { $0.header.lastSeq > size } ?? view.committed.endIndex
        try? view.forEachChecked(view.committed[start...]) { chunk, result in
            let header = chunk.header
            if header.firstSeq > size {
                switch view.grow(&frontier, with: chunk, result) {
                case .failure(let bad):
                    report.firstBad = bad
                    return false
                case .success:
                    report.checked += UInt64(header.count)
                    return true
                }
            }
            // The chunk holding the old head (compaction merges batches): its later leaves.
            switch result {
            case .failure(let bad):
                report.firstBad = bad
                return false
            case .success(let checked):
                report.checked += header.lastSeq - size
                guard let grown = checked.grownToItsEnd(from: frontier) else {
                    report.firstBad = VerifyFailure(
                        seq: size + 1,
                        reason: "\(view.location(of: chunk)): Merkle root does not match: an event after seq \(size) was altered")
                    return false
                }
                frontier = grown
                return true
            }
        }
        if report.firstBad != nil { return report }
        report.size = frontier.size
        report.root = frontier.root
        checkEnd(&report)
        let newSize = min(report.size, self.size)
        if report.ok, newSize > size {
            let proof = try? consistencyProof(oldSize: size, newSize: newSize)
            if proof.map({ !$0.verify() || $0.oldRoot != root }) ?? true {
                report.firstBad = VerifyFailure(
                    seq: size + 1, reason: "the log at \(newSize) does not extend the tree head at \(size): the consistency proof fails")
            }
        }
        report.notes.append("verified from the tree head at \(size): \(report.checked) events after it")
        return report
    }

    /// The Merkle frontier at `size` taken from the tiles (and the leaves after them); nil
    /// when they cannot give it.
    private func frontier(at size: UInt64) -> MerkleFrontier? {
        guard let tree = try? tiledTree(through: size) else { return nil }
        return MerkleFrontier(size: size) { try? tree.root($0) }
    }

    /// The checks of the log's end that follow a scan: its structure, an unfinished batch, HEAD.
    private func checkEnd(_ report: inout VerifyReport) {
        if let problem = view.problem {
            report.firstBad = VerifyFailure(seq: problem.seq, reason: problem.reason)
            return
        }
        if let torn = view.tornTail {
            report.notes.append(
                "segment \(LogLayout.segmentName(view.segmentNumbers[torn.segment])) ends with \(torn.bytes) bytes of an unfinished, unacknowledged batch; the next writer removes them"
            )
        }
        switch view.head {
        case nil:
            if report.size > 0 { report.notes.append("no HEAD record: nothing anchors the end of the log") }
        case .failure(let error)?:
            report.firstBad = VerifyFailure(seq: report.size + 1, reason: "HEAD: \(error.message)")
        case .success(let head)?:
            if head.size > report.size {
                report.firstBad = VerifyFailure(
                    seq: report.size + 1,
                    reason:
                        "HEAD records \(head.size) events but the log holds \(report.size): events \(report.size + 1)…\(head.size) are missing"
                )
            } else if let chunk = view.committed.first(where: { $0.header.lastSeq == head.size }), chunk.header.root != head.root {
                report.firstBad = VerifyFailure(
                    seq: chunk.header.firstSeq, reason: "the tree head at \(head.size) differs from the one HEAD recorded")
            } else if head.size > 0 && !view.committed.contains(where: { $0.header.lastSeq == head.size }) {
                report.firstBad = VerifyFailure(seq: head.size, reason: "HEAD names size \(head.size), which is not the end of a batch")
            } else if head.size < report.size {
                report.notes.append(
                    "events \(head.size + 1)…\(report.size) were written whole but not acknowledged (an interrupted writer); readers show them once a writer reopens the log"
                )
            }
        }
    }

    /// Every leaf hash up to `size`, from a verified scan.
    public func leafHashes(upTo size: UInt64) throws(LogError) -> [TreeHash] {
        var all: [TreeHash] = []
        all.reserveCapacity(Int(size))
        var frontier = MerkleFrontier()
        try view.forEachChecked(view.chunks.prefix { $0.header.firstSeq <= size }) { (chunk, result) throws(LogError) in
            all.append(contentsOf: try view.grow(&frontier, with: chunk, result).mapError(LogError.init(corruption:)).get().leaves)
            return true
        }
        return Array(all.prefix(Int(size)))
    }

    /// The Merkle root of the log's first `size` events: the tree head the log had there.
    public func root(atSize size: UInt64) throws(LogError) -> TreeHash {
        let size = try resolvedTreeSize(size)
        if let tree = try tiledTree(through: size), let root = try trustedRoot(size, tree) { return root }
        return size == self.size ? root : MerkleProof.root(of: try leafHashes(upTo: size)[...])
    }

    /// The RFC 6962 audit path proving that event `seq` is in the tree of `treeSize` events.
    ///
    /// Read from the tiles the writer keeps (O(log n) hashes) and checked against the tree
    /// head a chunk header records before it is handed out; computed from every leaf when
    /// there are no tiles, or when they do not check.
    public func inclusionProof(seq: UInt64, treeSize: UInt64? = nil) throws(LogError) -> InclusionProof {
        let size = try resolvedTreeSize(treeSize)
        guard seq >= 1 && seq <= size else {
            throw LogError(.outOfRange, "seq \(seq) is not in a tree of \(size) events")
        }
        if let proof = try inclusionFromTiles(seq: seq, size: size) { return proof }
        let leaves = try leafHashes(upTo: size)
        return InclusionProof(
            seq: seq, treeSize: size, leafHash: leaves[Int(seq - 1)],
            path: MerkleProof.inclusion(index: Int(seq - 1), leaves: leaves[...]),
            root: MerkleProof.root(of: leaves[...]))
    }

    /// The RFC 6962 proof that the tree of `oldSize` events is a prefix of the tree of
    /// `newSize`: from the tiles and checked, as `inclusionProof`, or from every leaf.
    public func consistencyProof(oldSize: UInt64, newSize: UInt64? = nil) throws(LogError) -> ConsistencyProof {
        let size = try resolvedTreeSize(newSize)
        guard oldSize >= 1 && oldSize <= size else {
            throw LogError(.outOfRange, "old size must be between 1 and \(size)")
        }
        if let proof = try consistencyFromTiles(oldSize: oldSize, size: size) { return proof }
        let leaves = try leafHashes(upTo: size)
        return ConsistencyProof(
            oldSize: oldSize, newSize: size,
            oldRoot: MerkleProof.root(of: leaves[..<Int(oldSize)]), newRoot: MerkleProof.root(of: leaves[...]),
            path: MerkleProof.consistency(oldSize: Int(oldSize), leaves: leaves[...]))
    }

    /// The inclusion proof read from the tiles, once it checks against the tree head the log
    /// vouches for; nil without tiles, or when they do not check.
    func inclusionFromTiles(seq: UInt64, size: UInt64) throws(LogError) -> InclusionProof? {
        guard let tree = try tiledTree(through: size), let root = try trustedRoot(size, tree),
            let path = try? MerkleProof.inclusion(index: seq - 1, size: size, rootOf: tree.root),
            let leaf = try? tree.root((seq - 1)..<seq)
        else { return nil }
        let proof = InclusionProof(seq: seq, treeSize: size, leafHash: leaf, path: path, root: root)
        return proof.verify() ? proof : nil
    }

    /// The consistency proof read from the tiles, as `inclusionFromTiles`.
    func consistencyFromTiles(oldSize: UInt64, size: UInt64) throws(LogError) -> ConsistencyProof? {
        guard let tree = try tiledTree(through: size), let newRoot = try trustedRoot(size, tree),
            let oldRoot = try trustedRoot(oldSize, tree),
            let path = try? MerkleProof.consistency(oldSize: oldSize, size: size, rootOf: tree.root)
        else { return nil }
        let proof = ConsistencyProof(oldSize: oldSize, newSize: size, oldRoot: oldRoot, newRoot: newRoot, path: path)
        return proof.verify() ? proof : nil
    }

    /// The tree through the end of the chunk holding `size` (where a header records its tree
    /// head): its tiles as far as the writer's index covers, then the leaves of the chunks
    /// after, hashed from a checked read. Nil when there are no tiles.
    private func tiledTree(through size: UInt64) throws(LogError) -> TiledTree? {
        guard let state = IndexLayout(root: view.layout.root).readState(), state.size > 0, state.size <= view.size,
            let index = view.chunkIndex(holding: size)
        else { return nil }
        let end = view.chunks[index].header.lastSeq
        let tiled = min(state.size, end)
        var after: [TreeHash] = []
        if tiled < end, let first = view.chunkIndex(holding: tiled + 1) {
            try view.forEachChecked(view.chunks[first...index]) { (chunk, result) throws(LogError) in
                let checked = try result.mapError(LogError.init(corruption:)).get()
                after.append(contentsOf: checked.leaves[Int(max(tiled + 1, chunk.header.firstSeq) - chunk.header.firstSeq)...])
                return true
            }
        }
        return TiledTree(tiles: TileReader(layout: TileLayout(root: view.layout.root), size: state.size), tiled: tiled, after: after)
    }

    /// The tree head at `size` that the log vouches for: a chunk header's, or, inside a chunk,
    /// the one the tree gives there once a consistency proof from it to the chunk header's
    /// checks. Nil when the tree cannot give it.
    private func trustedRoot(_ size: UInt64, _ tree: TiledTree) throws(LogError) -> TreeHash? {
        guard let index = view.chunkIndex(holding: size) else { return nil }
        let header = view.chunks[index].header
        if header.lastSeq == size { return header.root }
        guard header.lastSeq <= tree.size, let root = try? tree.root(0..<size),
            let path = try? MerkleProof.consistency(oldSize: size, size: header.lastSeq, rootOf: tree.root)
        else { return nil }
        let check = ConsistencyProof(oldSize: size, newSize: header.lastSeq, oldRoot: root, newRoot: header.root, path: path)
        return check.verify() ? root : nil
    }

    /// A requested tree size, the whole log by default, refused beyond the log's end.
    private func resolvedTreeSize(_ requested: UInt64?) throws(LogError) -> UInt64 {
        let size = requested ?? self.size
        guard size <= self.size else {
            throw LogError(.outOfRange, "tree size \(size) is beyond the log's \(self.size) events")
        }
        return size
    }

    /// Sizes and the tree head now, or as the log stood at a moment: after event `seq`, or
    /// after the last batch appended by a time (its chunks' `recordedAt`). The log's files
    /// (`storedBytes`) are counted as they are now: compaction rewrites them, and no file
    /// records what it weighed before.
    public func stats(at moment: LogPosition? = nil) throws(LogError) -> LogStats {
        let head = view.layout.root + "/HEAD"
        let headBytes = FileIO.exists(head) ? UInt64(try FileIO.readFile(head).count) : 0
        let stored = try FileIO.totalSize(of: view.layout.segmentsDirectory) + headBytes
        let end: UInt64 =
            switch moment {
            case nil: size
            case .seq(let seq)?: min(seq, size)
            case .time(let ms)?: view.chunks.prefix { $0.header.recordedAt <= ms }.last?.header.lastSeq ?? 0
            }
        let whole = view.chunks.prefix { $0.header.lastSeq <= end }
        var rawBytes = whole.reduce(0) { $0 + UInt64($1.header.rawLength) }
        // The chunk `end` falls inside of: its lines up to `end`, each with its newline.
        if let partial = view.chunks.dropFirst(whole.count).first, partial.header.firstSeq <= end {
            let text = try view.text(of: partial).get()
            text.withUnsafeBytes { bytes in
                for line in bytes.lineRanges(length: Int(partial.header.rawLength)).prefix(Int(end - partial.header.firstSeq + 1)) {
                    rawBytes += UInt64(line.count + 1)
                }
            }
        }
        let segments = Set(whole.map(\.segment) + view.chunks.dropFirst(whole.count).prefix { $0.header.firstSeq <= end }.map(\.segment))
        return LogStats(
            events: end, rawBytes: rawBytes, storedBytes: stored, segments: moment == nil ? view.segments.count : segments.count,
            head: (end, end == size ? root : end == 0 ? .emptyRoot : try root(atSize: end)))
    }
}

/// Proof that one event is in the log.
public struct InclusionProof: Sendable, Codable {
    public let seq: UInt64
    public let treeSize: UInt64
    public let leafHash: TreeHash
    public let path: [TreeHash]
    public let root: TreeHash

    public func verify() -> Bool {
        MerkleProof.verifyInclusion(
            leafHash: leafHash.bytes, index: seq - 1, treeSize: treeSize,
            proof: path.map(\.bytes), root: root.bytes)
    }
}

/// Proof that a later tree extends an earlier one unchanged.
public struct ConsistencyProof: Sendable, Codable {
    public let oldSize: UInt64
    public let newSize: UInt64
    public let oldRoot: TreeHash
    public let newRoot: TreeHash
    public let path: [TreeHash]

    public func verify() -> Bool {
        MerkleProof.verifyConsistency(
            oldSize: oldSize, newSize: newSize, oldRoot: oldRoot.bytes,
            newRoot: newRoot.bytes, proof: path.map(\.bytes))
    }
}

/// The texts (and line ranges) of the last few chunks a reader decompressed, newest last.
final class RecentChunks: @unchecked Sendable {
    typealias Lines = (text: [UInt8], lines: [Range<Int>])
    private let lock = NSLock()
    private var recent: [(firstSeq: UInt64, lines: Lines)] = []
    private static let capacity = 4

    func lines(of chunk: ChunkRef, _ decompress: () throws(LogError) -> Lines) throws(LogError) -> Lines {
        lock.lock()
        if let index = recent.firstIndex(where: { $0.firstSeq == chunk.header.firstSeq }) {
            let found = recent[index].lines
            lock.unlock()
            return found
        }
        lock.unlock()
        let lines = try decompress()
        lock.lock()
        recent.append((chunk.header.firstSeq, lines))
        if recent.count > Self.capacity { recent.removeFirst() }
        lock.unlock()
        return lines
    }
}

extension LogReader {
    /// `read`, for a body whose only errors are the log's own: those come out as they are, and
    /// anything else reading threw as an I/O error.
    public func read(_ query: ReadQuery, each body: (StoredEvent) throws(LogError) -> Bool) throws(LogError) {
        do {
            try read(query) { event in try body(event) }
        } catch let error as LogError {
            throw error
        } catch {
            throw LogError(.io, "cannot read the log: \(error)")
        }
    }

    /// The `occurredAt` of event `seq` (before every event for seq 0): where a question `at` a
    /// seq stands in time.
    public func occurredAt(_ seq: UInt64) throws(LogError) -> Int64 {
        guard seq > 0 else { return Int64.min }
        var query = ReadQuery()
        query.from = seq
        query.to = seq
        var time = Int64.min
        try read(query) { (event: StoredEvent) throws(LogError) in
            time = event.occurredAtMs
            return false
        }
        return time
    }
}
