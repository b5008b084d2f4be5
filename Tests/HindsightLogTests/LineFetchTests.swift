import Foundation
import HindsightTestSupport
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

/// A stored line is read again by itself from where it starts in the log's content, decoding
/// only the blocks that hold it, and that place stays valid when compaction rewrites the log.
@Suite("Reading a line by its place in the log")
struct LineFetchTests {
    /// Every event's seq, place and line, as a read of the whole log hands them out.
    private func placesAndLines(_ path: String) throws -> [(seq: UInt64, contentOffset: UInt64, line: [UInt8])] {
        var found: [(seq: UInt64, contentOffset: UInt64, line: [UInt8])] = []
        try LogReader(directory: path).read(ReadQuery()) { (event: StoredEvent) throws(LogError) in
            found.append((event.seq, event.contentOffset!, Array(event.line)))
            return true
        }
        return found
    }

    /// Batches big enough that a chunk spans several 256 KB blocks, so that lines start in
    /// every block and some run from one block into the next.
    private func makeLog(_ dir: TemporaryDirectory) throws -> EventLog {
        let log = try EventLog(directory: dir.path)
        for seed in 1...3 { _ = try log.append(Events.workload(2500, seed: UInt64(seed))) }
        return log
    }

    @Test func everyLineReadByItsPlaceIsTheLineAScanReads() throws {
        let dir = TemporaryDirectory()
        _ = try makeLog(dir)
        let reader = try LogReader(directory: dir.path)
        let frame = reader.view.chunks.first!
        let bytes = reader.view.segments[frame.segment].bytes
        let blocks = try #require(LZ4Frame.Blocks(UnsafeRawBufferPointer(rebasing: bytes[frame.frameOffset..<frame.endOffset])))
        #expect(blocks.independent && blocks.blockSize == 256 << 10)
        #expect(reader.view.chunks.contains { $0.header.rawLength > 2 * 256 << 10 })

        let all = try placesAndLines(dir.path)
        let shuffled = all.shuffled()
        let lines = try reader.lines(at: shuffled.map { ($0.seq, $0.contentOffset) })
        #expect(lines == shuffled.map(\.line))
        // Lines that cross from one block of their chunk into the next are among them.
        let crossing = all.filter { event in
            let index = reader.view.chunkIndex(holding: event.seq)!
            let start = event.contentOffset - reader.view.contentStarts[index]
            return start / (256 << 10) != (start + UInt64(event.line.count)) / (256 << 10)
        }
        #expect(!crossing.isEmpty)
    }

    @Test func placesTakenBeforeCompactionStillReadTheirLinesAfterIt() throws {
        let dir = TemporaryDirectory()
        let log = try makeLog(dir)
        let before = try placesAndLines(dir.path)
        _ = try log.compact()
        let reader = try LogReader(directory: dir.path)
        #expect(reader.view.chunks.allSatisfy { $0.header.isCompacted })
        #expect(reader.view.chunks.count < 3)
        #expect(try reader.lines(at: before.map { ($0.seq, $0.contentOffset) }) == before.map(\.line))
        #expect(try placesAndLines(dir.path).map(\.contentOffset) == before.map(\.contentOffset))
    }

    @Test func aPlaceThatIsNotTheSeqsLineStillReadsTheSeqsLine() throws {
        let dir = TemporaryDirectory()
        _ = try makeLog(dir)
        let all = try placesAndLines(dir.path)
        let reader = try LogReader(directory: dir.path)
        // Each seq given the place of another event's line, or a place past the log's content.
        let wrong = all.indices.map { (all[$0].seq, $0 % 2 == 0 ? all[(($0 + 17) % all.count)].contentOffset : UInt64.max) }
        #expect(try reader.lines(at: wrong) == all.map(\.line))
        let error = #expect(throws: LogError.self) { try reader.lines(at: [(all.last!.seq + 1, 0)]) }
        #expect(error?.code == .logCorrupt)
    }

    /// Damage to a chunk's first block: a line there is reported, and every line that does
    /// not touch it (lines running from the second block into the third and the last, partial
    /// block among them) is still read, each from its own blocks alone, since the whole chunk
    /// no longer decodes.
    @Test func aDamagedBlockIsReportedAndTheOtherBlocksStillRead() throws {
        let dir = TemporaryDirectory()
        _ = try makeLog(dir)
        let all = try placesAndLines(dir.path)
        let reader = try LogReader(directory: dir.path)
        let chunk = reader.view.chunks[0]
        #expect(chunk.header.rawLength > 2 * 256 << 10)
        let bytes = reader.view.segments[chunk.segment].bytes
        let frame = UnsafeRawBufferPointer(rebasing: bytes[chunk.frameOffset..<chunk.endOffset])
        let block = try #require(LZ4Frame.Blocks(frame)?.block(0, in: frame))
        let segment = dir.segments[chunk.segment]
        var data = try Data(contentsOf: URL(fileURLWithPath: segment))
        data[chunk.frameOffset + block.lowerBound + 100] ^= 0x40
        try data.write(to: URL(fileURLWithPath: segment))

        let damaged = try LogReader(directory: dir.path)
        #expect(throws: LogError.self) { try damaged.view.text(of: chunk).get() }
        let error = #expect(throws: LogError.self) { try damaged.lines(at: [(all[3].seq, all[3].contentOffset)]) }
        #expect(error?.code == .logCorrupt)
        #expect(error?.message.contains("block checksum") == true)
        // A line is read at its place when the byte before it (a newline) and the line itself
        // lie outside the first block.
        let readable = all.filter { $0.seq <= chunk.header.lastSeq && $0.contentOffset > 256 << 10 }
        #expect(readable.count > 500)
        #expect(try damaged.lines(at: readable.map { ($0.seq, $0.contentOffset) }) == readable.map(\.line))
    }
}
