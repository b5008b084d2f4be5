public import HindsightCore

extension LogReader {
    /// The stored lines of events, each named by its seq and where its line starts in the
    /// log's content (`StoredEvent.contentOffset`, which a read model keeps in place of the
    /// line), in the order given.
    ///
    /// In a chunk written with independent blocks, a line costs the block that holds it (or
    /// the few it spans), decoded once per call however many lines it holds: a page of search
    /// results reads a few 256 KB blocks, not the chunks of up to 16 MB around them. Each line
    /// must begin with its own seq; one that does not (an offset from another log, a chunk
    /// written with linked blocks) is read from its whole chunk instead, so the answer is
    /// always the seq's line. Damage to a block is an error, as in any read.
    public func lines(at positions: [(seq: UInt64, contentOffset: UInt64)]) throws(LogError) -> [[UInt8]] {
        var decoded = DecodedBlocks()
        var lines: [[UInt8]] = []
        lines.reserveCapacity(positions.count)
        for (seq, offset) in positions {
            guard let index = view.chunkIndex(holding: seq) else {
                throw LogError(.logCorrupt, "seq \(seq) is past the log's last event, \(size)")
            }
            let chunk = view.chunks[index]
            let start = view.contentStarts[index]
            if offset >= start, offset - start < UInt64(chunk.header.rawLength),
                let line = try line(at: Int(offset - start), in: chunk, &decoded), Self.begins(line, withSeq: seq)
            {
                lines.append(line)
            } else {
                let (text, all) = try linesOf(chunk)
                lines.append(Array(text[all[Int(seq - chunk.header.firstSeq)]]))
            }
        }
        return lines
    }

    /// The line starting `offset` bytes into a chunk's content, read from the blocks that hold
    /// it; nil when the chunk's blocks are linked, or do not hold a whole line there. A block
    /// is decoded only up to a few KB past the line's start, and further when the line goes on.
    private func line(at offset: Int, in chunk: ChunkRef, _ decoded: inout DecodedBlocks) throws(LogError) -> [UInt8]? {
        let bytes = view.segments[chunk.segment].bytes
        let frame = UnsafeRawBufferPointer(rebasing: bytes[chunk.frameOffset..<chunk.endOffset])
        guard let blocks = LZ4Frame.Blocks(frame), blocks.independent, blocks.blockChecksums else { return nil }
        // The place must be where a line starts: at the chunk's start or after a newline.
        if offset > 0 {
            let before = offset - 1
            let key = DecodedBlocks.Key(segment: chunk.segment, frame: chunk.frameOffset, block: before / blocks.blockSize)
            guard let range = blocks.block(key.block, in: frame) else { return nil }
            let (content, _) = try decoded.content(of: key, atLeast: before % blocks.blockSize + 1, blockSize: blocks.blockSize) {
                (target: Int) throws(LogError) in try decode(range, of: frame, blocks, upTo: target, chunk)
            }
            guard before % blocks.blockSize < content.count, content[before % blocks.blockSize] == UInt8(ascii: "\n") else { return nil }
        }
        var block = offset / blocks.blockSize
        var at = offset % blocks.blockSize
        var needed = at + DecodedBlocks.lookAhead
        var line: [UInt8] = []
        while true {
            guard let range = blocks.block(block, in: frame) else { return nil }
            let key = DecodedBlocks.Key(segment: chunk.segment, frame: chunk.frameOffset, block: block)
            let (content, whole) = try decoded.content(of: key, atLeast: needed, blockSize: blocks.blockSize) {
                (target: Int) throws(LogError) in try decode(range, of: frame, blocks, upTo: target, chunk)
            }
            if at < content.count, let end = content[at...].firstIndex(of: UInt8(ascii: "\n")) {
                line += content[at..<end]
                return line
            }
            if !whole {
                needed = blocks.blockSize
                continue
            }
            // The line goes on in the next block, which starts where this one ends only when
            // this one is full.
            guard at < content.count, content.count == blocks.blockSize else { return nil }
            line += content[at...]
            block += 1
            at = 0
            needed = DecodedBlocks.lookAhead
        }
    }

    /// The first `target` bytes of a block, or the chunk's damage as an error.
    private func decode(
        _ block: Range<Int>, of frame: UnsafeRawBufferPointer, _ blocks: LZ4Frame.Blocks, upTo target: Int, _ chunk: ChunkRef
    ) throws(LogError) -> [UInt8] {
        switch LZ4Frame.decode(block: block, of: frame, blocks, upTo: target) {
        case .success(let content): return content
        case .failure(let damage): throw view.corrupt(chunk, damage.reason)
        }
    }

    /// Whether a stored line begins `{"seq":SEQ,`, as every stored line does.
    private static func begins(_ line: [UInt8], withSeq seq: UInt64) -> Bool {
        var expected = Array(#"{"seq":"#.utf8)
        expected.appendDecimal(seq)
        expected.append(UInt8(ascii: ","))
        return line.starts(with: expected)
    }
}

/// The blocks one `lines(at:)` call decoded (each as far as it was), so that lines sharing a
/// block decode it once.
private struct DecodedBlocks {
    struct Key: Hashable {
        let segment: Int
        let frame: Int
        let block: Int
    }

    /// How far past a line's start a block is first decoded: most lines are well under 1 KB.
    static let lookAhead = 8192

    private var contents: [Key: (bytes: [UInt8], whole: Bool)] = [:]

    /// At least the first `needed` bytes of a block (all of it when shorter), and whether
    /// they are the whole block. `decode` decodes the first `target` bytes.
    mutating func content(
        of key: Key, atLeast needed: Int, blockSize: Int, _ decode: (_ target: Int) throws(LogError) -> [UInt8]
    ) throws(LogError) -> (bytes: [UInt8], whole: Bool) {
        if let found = contents[key], found.whole || found.bytes.count >= needed { return found }
        let target = min(blockSize, max(needed, 2 * (contents[key]?.bytes.count ?? 0)))
        let bytes = try decode(target)
        let content = (bytes: bytes, whole: target == blockSize || bytes.count < target)
        contents[key] = content
        return content
    }
}
