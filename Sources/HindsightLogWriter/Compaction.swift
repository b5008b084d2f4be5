import Dispatch
public import HindsightCore
import HindsightFiles
public import HindsightLog

#if canImport(Glibc)
    import Glibc
#endif

/// What a compaction did.
public struct CompactionReport: Sendable, Equatable {
    /// Segments recompressed; segments compacted before are only verified.
    public var segmentsRewritten = 0
    /// Events in the rewritten segments.
    public var events: UInt64 = 0
    public var bytesBefore: UInt64 = 0
    public var bytesAfter: UInt64 = 0
}

extension EventLog {
    /// The most NDJSON one compacted chunk holds. Larger chunks compress a little better (LZ4
    /// links the blocks of a frame); smaller ones keep reading a single event cheap.
    public static let compactedChunkBytes = 16 << 20

    /// Recompresses every sealed segment into large chunks at `level`, so that the log takes
    /// the least room LZ4 allows while appends stay fast. The current segment is sealed
    /// first, so everything appended so far is compacted; appends may go on meanwhile, into
    /// a new segment.
    ///
    /// Every event is verified on the way (checksums, seqs and the Merkle tree from seq 1),
    /// and each segment is replaced atomically: written beside the old one, fsynced, then
    /// renamed over it. The stored lines do not change, so neither do the tree heads, the
    /// proofs, or what `lz4 -dc` prints. `progress` hears of the events done of twice the
    /// events sealed: verified, then rewritten.
    public func compact(
        level: Int32 = LZ4Frame.compactionLevel, chunkBytes: Int = compactedChunkBytes, progress: ProgressReport? = nil
    ) throws(LogError) -> CompactionReport {
        compactionLock.lock()
        defer { compactionLock.unlock() }
        let lastSealed = try sealSegment()
        let view = try LogView(layout: layout, boundedByHead: false)
        let sealed = view.committed.filter { view.segmentNumbers[$0.segment] <= lastSealed }
        // Verify everything first, so that damage anywhere leaves every file as it was.
        var frontier = MerkleFrontier()
        let events = sealed.reduce(UInt64(0)) { $0 + UInt64($1.header.count) }
        try view.forEachChecked(sealed[...]) { (chunk, result) throws(LogError) in
            _ = try view.grow(&frontier, with: chunk, result).mapError(LogError.init(corruption:)).get()
            progress?(frontier.size, 2 * events)
            return true
        }
        frontier = MerkleFrontier()
        var report = CompactionReport()
        for (index, number) in view.segmentNumbers.enumerated() where number <= lastSealed {
            let chunks = sealed.filter { $0.segment == index }
            // Compacted chunks from before independent blocks are written again, so that a
            // line of them can be read by its block.
            let rewrite = chunks.contains { !$0.header.isCompacted || !view.readsByBlock($0) }
            var texts: [ArraySlice<UInt8>] = []
            try view.forEachChecked(chunks[...], keepText: rewrite) { (chunk, result) throws(LogError) in
                let checked = try view.grow(&frontier, with: chunk, result).mapError(LogError.init(corruption:)).get()
                if rewrite { texts.append(checked.text!) }
                progress?(events + frontier.size, 2 * events)
                return true
            }
            guard rewrite, let last = chunks.last else { continue }
            let path = layout.segmentPath(number)
            let bytes = Self.compacted(chunks, texts: texts, level: level, chunkBytes: chunkBytes)
            try FileIO.replaceDurably(path, with: bytes)
            report.segmentsRewritten += 1
            report.events += last.header.lastSeq - chunks[0].header.firstSeq + 1
            report.bytesBefore += UInt64(view.segments[index].count)
            report.bytesAfter += UInt64(bytes.reduce(0) { $0 + $1.count })
        }
        return report
    }

    /// The chunks of one segment merged into runs of at most `chunkBytes` of NDJSON and
    /// recompressed on all cores; each new header carries the tree head of its last event.
    private static func compacted(_ chunks: [ChunkRef], texts: [ArraySlice<UInt8>], level: Int32, chunkBytes: Int) -> [[UInt8]] {
        var cuts: [Range<Int>] = []
        var start = 0
        var bytes = 0
        for (index, chunk) in chunks.enumerated() {
            if bytes > 0 && bytes + Int(chunk.header.rawLength) > chunkBytes {
                cuts.append(start..<index)
                start = index
                bytes = 0
            }
            bytes += Int(chunk.header.rawLength)
        }
        cuts.append(start..<chunks.count)
        let runs = cuts

        var parts = [[UInt8]](repeating: [], count: 2 * runs.count)
        parts.withUnsafeMutableBufferPointer { out in
            let shared = UnsafeSendable(out)
            DispatchQueue.concurrentPerform(iterations: runs.count) { index in
                let run = runs[index]
                let members = chunks[run]
                let text = Array(texts[run].joined())
                let frame = text.withUnsafeBytes { LZ4Frame.compress($0, level: level) }
                let last = members.last!.header
                var header: [UInt8] = []
                ChunkHeader(
                    isBatchEnd: last.isBatchEnd, isCompacted: true, firstSeq: members.first!.header.firstSeq,
                    count: UInt32(last.lastSeq - members.first!.header.firstSeq + 1),
                    frameLength: UInt32(frame.count), rawLength: UInt32(text.count),
                    minOccurredAt: members.map(\.header.minOccurredAt).min()!,
                    maxOccurredAt: members.map(\.header.maxOccurredAt).max()!,
                    recordedAt: last.recordedAt, root: last.root
                ).encode(into: &header)
                shared.value[2 * index] = header
                shared.value[2 * index + 1] = frame
            }
        }
        return parts
    }
}
