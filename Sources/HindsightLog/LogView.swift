import Foundation
package import HindsightCore
package import HindsightFiles

/// A chunk found on disk: where its header starts and what it says.
package struct ChunkRef: Sendable {
    /// Index into `LogView.segments`.
    package let segment: Int
    /// Byte offset of the chunk header in its segment.
    let offset: Int
    package let header: ChunkHeader

    var frameOffset: Int { offset + ChunkHeader.encodedSize }
    var endOffset: Int { frameOffset + Int(header.frameLength) }
}

/// What walking the chunk headers of one segment found, without decompressing anything.
struct SegmentWalk {
    /// Complete chunks, in file order, up to the last batch end (the committed ones).
    var committed: [ChunkRef] = []
    /// Byte offset just after the last committed chunk.
    var committedEnd = 0
    /// What follows `committedEnd`.
    var tail: Tail = .none
    /// The last seq of the last complete chunk, committed or not: damage starts after it.
    var lastCompleteSeq: UInt64?

    enum Tail: Equatable {
        case none
        /// The start of a batch whose write never finished: a crash or a torn write. The next
        /// writer removes it; it was never acknowledged.
        case torn(offset: Int, bytes: Int)
        /// Bytes that cannot be the start of a chunk: damage, not an interrupted write.
        case garbage(offset: Int, reason: String)
    }

    static let lz4FrameMagic: [UInt8] = [0x04, 0x22, 0x4D, 0x18]

    /// Walks a segment of `size` bytes, reading the bytes at an offset with `read` (up to the
    /// count asked, fewer at the end of the file): a header and the start of its frame per
    /// chunk, so that listing a log touches no other page of it.
    init(size: Int, segment: Int, read: (_ offset: Int, _ count: Int) -> [UInt8]) {
        var pending: [ChunkRef] = []
        var offset = 0
        var stop: Tail = .none
        while offset < size {
            let head = read(offset, ChunkHeader.encodedSize + 4)
            let decoded = head.withUnsafeBytes { ChunkHeader.decode($0) }
            switch decoded {
            case .failure(.truncated):
                stop = .torn(offset: offset, bytes: size - offset)
            case .failure(.notAHeader):
                stop = .garbage(offset: offset, reason: "bytes that are not a chunk header")
            case .failure(.damaged(let reason)):
                stop = .garbage(offset: offset, reason: reason)
            case .success(let header):
                let chunk = ChunkRef(segment: segment, offset: offset, header: header)
                if chunk.endOffset > size {
                    stop = .torn(offset: offset, bytes: size - offset)
                } else if Array(head.dropFirst(ChunkHeader.encodedSize)) != Self.lz4FrameMagic {
                    stop = .garbage(offset: chunk.frameOffset, reason: "the chunk's LZ4 data frame is missing")
                } else {
                    pending.append(chunk)
                    lastCompleteSeq = header.lastSeq
                    if header.isBatchEnd {
                        committed.append(contentsOf: pending)
                        pending.removeAll()
                        committedEnd = chunk.endOffset
                    }
                    offset = chunk.endOffset
                    continue
                }
            }
            break
        }
        switch stop {
        case .garbage: tail = stop
        case .none, .torn:
            tail = size > committedEnd ? .torn(offset: committedEnd, bytes: size - committedEnd) : .none
        }
    }
}

extension SegmentWalk {
    /// Walks the segment open as `fd` by reading its chunk headers with `pread`: a mapping
    /// would bring the pages around each header into memory as well.
    init(descriptor fd: Int32, size: Int, segment: Int) {
        self.init(size: size, segment: segment) { offset, count in
            var buffer = [UInt8](repeating: 0, count: min(count, size - offset))
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            return Array(buffer.prefix(max(0, got)))
        }
    }
}

/// A read-only view of a data directory at one moment: every segment mapped, the committed
/// chunks listed from their headers, and whatever structural problem the walk met.
package final class LogView: @unchecked Sendable {
    let layout: LogLayout
    package let segmentNumbers: [Int]
    package let segments: [MappedFile]
    /// Committed chunks in log order: every complete batch on disk.
    package let committed: [ChunkRef]
    /// The chunks a reader shows: the committed ones, up to HEAD when bounded by it.
    package let chunks: [ChunkRef]
    /// Where each of `chunks` starts in the log's content (the NDJSON of every chunk in seq
    /// order): the sum of the raw lengths before it.
    let contentStarts: [UInt64]
    /// The first structural problem found while listing chunks, if any.
    package let problem: Problem?
    /// An unfinished batch at the end of the last segment.
    package let tornTail: (segment: Int, offset: Int, bytes: Int)?
    package let head: Result<HeadRecord, LogError>?

    package struct Problem {
        /// The first seq that cannot be trusted.
        package let seq: UInt64
        package let reason: String
    }

    /// Lists the log. With `boundedByHead`, chunks past the acknowledged HEAD are left out, so
    /// a reader never shows a batch that its writer has not acknowledged yet.
    package init(layout: LogLayout, boundedByHead: Bool) throws(LogError) {
        self.layout = layout
        // HEAD first: a writer makes a batch durable in its segment before HEAD names it, so the
        // segments listed and mapped after reading HEAD hold every event it records, even while
        // a writer appends. (Read after them, HEAD could name a batch the listing missed.)
        head = layout.readHead()
        segmentNumbers = try layout.segmentNumbers()
        // Each segment is mapped and walked through one descriptor, so that both are the same
        // file even while compaction renames a rewritten segment over its path.
        var mapped: [MappedFile] = []
        var walks: [SegmentWalk] = []
        for (index, number) in segmentNumbers.enumerated() {
            let path = layout.segmentPath(number)
            let fd = try FileIO.open(path, O_RDONLY)
            defer { close(fd) }
            let file = try MappedFile(descriptor: fd, path: path)
            mapped.append(file)
            walks.append(SegmentWalk(descriptor: fd, size: file.count, segment: index))
        }
        segments = mapped

        var chunks: [ChunkRef] = []
        var problem: Problem?
        var tornTail: (Int, Int, Int)?
        for (index, number) in segmentNumbers.enumerated() {
            let nextSeq = (chunks.last?.header.lastSeq ?? 0) + 1
            let name = LogLayout.segmentName(number)
            if number != index + 1 {
                problem = Problem(seq: nextSeq, reason: "segment \(LogLayout.segmentName(index + 1)) is missing (found \(name) next)")
                break
            }
            let walk = walks[index]
            chunks.append(contentsOf: walk.committed)
            let lastSeq = chunks.last?.header.lastSeq ?? 0
            switch walk.tail {
            case .none: break
            case .garbage(let offset, let reason):
                problem = Problem(seq: (walk.lastCompleteSeq ?? lastSeq) + 1, reason: "segment \(name) at byte \(offset): \(reason)")
            case .torn(let offset, let bytes):
                if index == segmentNumbers.count - 1 {
                    tornTail = (index, offset, bytes)
                } else {
                    problem = Problem(
                        seq: lastSeq + 1,
                        reason:
                            "segment \(name) ends with \(bytes) bytes of an unfinished batch at byte \(offset), but later segments follow")
                }
            }
            if problem != nil { break }
        }
        committed = chunks
        if boundedByHead, case .success(let record)? = head {
            chunks.removeAll { $0.header.lastSeq > record.size }
        }
        self.chunks = chunks
        var start: UInt64 = 0
        contentStarts = chunks.map { chunk in
            defer { start += UInt64(chunk.header.rawLength) }
            return start
        }
        self.problem = problem
        self.tornTail = tornTail
    }

    var size: UInt64 { chunks.last?.header.lastSeq ?? 0 }
    var root: TreeHash { chunks.last?.header.root ?? .emptyRoot }

    /// The NDJSON text of a chunk, after every LZ4 checksum has passed. `rawLength` bytes of
    /// text are followed by the JSON parser's padding.
    func text(of chunk: ChunkRef) -> Result<[UInt8], LogError> {
        let bytes = segments[chunk.segment].bytes
        let frame = UnsafeRawBufferPointer(rebasing: bytes[chunk.frameOffset..<chunk.endOffset])
        switch LZ4Frame.decompress(frame, expectedSize: Int(chunk.header.rawLength), padding: StoredLine.padding) {
        case .success(let text): return .success(text)
        case .failure(let damage): return .failure(corrupt(chunk, damage.reason))
        }
    }

    /// Whether a line of the chunk can be read from the block that holds it: its frame's
    /// blocks are independent and checksummed (`LogReader.lines(at:)`).
    package func readsByBlock(_ chunk: ChunkRef) -> Bool {
        let bytes = segments[chunk.segment].bytes
        let frame = UnsafeRawBufferPointer(rebasing: bytes[chunk.frameOffset..<chunk.endOffset])
        return LZ4Frame.Blocks(frame).map { $0.independent && $0.blockChecksums } ?? false
    }

    package func corrupt(_ chunk: ChunkRef, _ reason: String) -> LogError {
        LogError(.logCorrupt, reason, location: location(of: chunk))
    }

    package func location(of chunk: ChunkRef) -> String {
        "segment \(LogLayout.segmentName(segmentNumbers[chunk.segment])) byte \(chunk.offset), seq \(chunk.header.firstSeq)…\(chunk.header.lastSeq)"
    }

    /// The index of the chunk holding `seq` among those a reader shows.
    func chunkIndex(holding seq: UInt64) -> Int? {
        chunkIndex(holding: seq, in: chunks)
    }

    /// The index of the chunk holding `seq` in a list of chunks in log order.
    func chunkIndex(holding seq: UInt64, in chunks: [ChunkRef]) -> Int? {
        var low = 0
        var high = chunks.count - 1
        while low <= high {
            let mid = (low + high) / 2
            let header = chunks[mid].header
            if seq < header.firstSeq { high = mid - 1 } else if seq > header.lastSeq { low = mid + 1 } else { return mid }
        }
        return nil
    }
}
