import Foundation
import HindsightCatalog
import HindsightTestSupport
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

/// Builds a log of several batches and small chunks, then damages it in one way.
struct DamagedLog {
    let dir = TemporaryDirectory()
    /// Chunks in log order: the path of their segment and the chunk.
    let chunks: [(path: String, chunk: ChunkRef)]

    init(segmentBytes: Int = 1 << 30) throws {
        var options = LogOptions()
        options.chunkBytes = 4 << 10
        options.segmentBytes = segmentBytes
        let log = try EventLog(directory: dir.path, options: options)
        for seed in 1...4 { _ = try log.append(Events.workload(100, seed: UInt64(seed))) }
        let view = try LogView(layout: LogLayout(root: dir.path), boundedByHead: false)
        chunks = view.chunks.map { (view.segments[$0.segment].path, $0) }
    }

    func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path)!) }
    func write(_ path: String, _ bytes: [UInt8]) { writeFile(path, bytes) }

    /// Flips the bits of `mask` in the byte at `offset` of a segment.
    func flip(_ path: String, at offset: Int, _ mask: UInt8) {
        var bytes = self.bytes(path)
        bytes[offset] ^= mask
        write(path, bytes)
    }

    func verify() throws -> VerifyReport { try LogReader(directory: dir.path).verify() }
}

@Suite("Verification finds damage and names the first bad seq")
struct CorruptionTests {
    @Test("an intact log verifies, and its tree head matches the writer's")
    func intact() throws {
        let log = try DamagedLog()
        let report = try log.verify()
        #expect(report.ok && report.checked == 400 && report.notes.isEmpty)
        #expect(report.root == log.chunks.last!.chunk.header.root)
    }

    @Test("a flipped byte inside a compressed chunk fails its checksum at that chunk's first seq")
    func flippedByte() throws {
        let log = try DamagedLog()
        let (path, chunk) = log.chunks[3]
        log.flip(path, at: chunk.frameOffset + Int(chunk.header.frameLength) / 2, 0x10)
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == chunk.header.firstSeq)
        #expect(bad.reason.contains("checksum"))
    }

    @Test("an edited event re-compressed with valid checksums is caught by the Merkle root")
    func rewrittenChunk() throws {
        let log = try DamagedLog()
        let (path, chunk) = log.chunks[2]
        try rewrite(log, path, chunk) { text in
            // Add a field to the first event's data; its seq stays where it was.
            let marker = Array(#""data":{"#.utf8)
            let at = (0...(text.count - marker.count)).first { Array(text[$0..<($0 + marker.count)]) == marker }!
            text.insert(contentsOf: Array(#""forged":1,"#.utf8), at: at + marker.count)
        }
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == chunk.header.firstSeq)
        #expect(bad.reason.contains("Merkle root"))
    }

    @Test("an event dropped from a re-compressed chunk is named by its seq")
    func droppedEvent() throws {
        let log = try DamagedLog()
        let (path, chunk) = log.chunks[2]
        try rewrite(log, path, chunk, count: chunk.header.count - 1) { text in
            let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            text = Array(lines.enumerated().filter { $0.offset != 5 }.map { Array($0.element) }.joined(separator: [UInt8(ascii: "\n")]))
        }
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == chunk.header.firstSeq + 5)
    }

    @Test("a chunk header whose time span was rewritten (with a valid checksum) is reported, since it would hide events from reads")
    func forgedTimeSpan() throws {
        let log = try DamagedLog()
        let (path, chunk) = log.chunks[3]
        var header = chunk.header
        header.minOccurredAt += 1
        var encoded: [UInt8] = []
        header.encode(into: &encoded)
        var bytes = log.bytes(path)
        bytes.replaceSubrange(chunk.offset..<chunk.frameOffset, with: encoded)
        log.write(path, bytes)
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == chunk.header.firstSeq)
        #expect(bad.reason.contains("time span"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/verify_log.py").path
        #expect(try run("/usr/bin/env", ["python3", script, log.dir.path]).stdout.hasPrefix("FAILED at seq \(chunk.header.firstSeq):"))
    }

    @Test("swapped chunks are reported at the first seq out of place")
    func swappedChunks() throws {
        let log = try DamagedLog()
        let (path, a) = log.chunks[1]
        let b = log.chunks[2].chunk
        var bytes = log.bytes(path)
        let first = Array(bytes[a.offset..<a.endOffset])
        let second = Array(bytes[b.offset..<b.endOffset])
        bytes.replaceSubrange(a.offset..<b.endOffset, with: second + first)
        log.write(path, bytes)
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == a.header.firstSeq)
    }

    @Test("trailing garbage after the last batch is reported after the last seq")
    func trailingGarbage() throws {
        let log = try DamagedLog()
        let path = log.chunks.last!.path
        log.write(path, log.bytes(path) + Array(repeating: 0xAB, count: 300))
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == 401)
        #expect(bad.reason.contains("not a chunk header"))
        // A writer refuses to open over it rather than destroying evidence.
        #expect(throws: LogError.self) { try EventLog(directory: log.dir.path) }
    }

    @Test("a damaged chunk header (the log's index) is reported at its chunk's first seq")
    func damagedHeader() throws {
        let log = try DamagedLog()
        let (path, chunk) = log.chunks[4]
        log.flip(path, at: chunk.offset + 20, 0x01)  // inside firstSeq
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == chunk.header.firstSeq)
        #expect(bad.reason.contains("checksum"))
    }

    @Test("a truncated segment that loses acknowledged events is reported against HEAD")
    func truncatedSegment() throws {
        let log = try DamagedLog()
        let (path, chunk) = log.chunks[log.chunks.count - 2]
        log.write(path, Array(log.bytes(path)[..<(chunk.offset + 50)]))
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == 301, "the last batch (301…400) lost its end")
        #expect(bad.reason.contains("events 301…400 are missing"))
    }

    @Test("a deleted segment in the middle is named, with the first missing seq")
    func deletedMiddleSegment() throws {
        let log = try DamagedLog(segmentBytes: 1)  // one batch per segment
        #expect(log.dir.segments.count == 4)
        let second = log.dir.segments[1]
        let firstSeqOfSecond = log.chunks.first { $0.path == second }!.chunk.header.firstSeq
        try FileManager.default.removeItem(atPath: second)
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == firstSeqOfSecond)
        #expect(bad.reason.contains("0000000002.lz4 is missing"))
    }

    @Test("a deleted last segment is caught by the HEAD anchor")
    func deletedLastSegment() throws {
        let log = try DamagedLog(segmentBytes: 1)
        let last = log.dir.segments.last!
        let firstSeqOfLast = log.chunks.first { $0.path == last }!.chunk.header.firstSeq
        try FileManager.default.removeItem(atPath: last)
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.seq == firstSeqOfLast)
        #expect(bad.reason.contains("HEAD records 400 events"))
    }

    @Test("a HEAD that names a different tree head is reported")
    func forgedHead() throws {
        let log = try DamagedLog()
        let head = HeadRecord(size: log.chunks[1].chunk.header.lastSeq == 100 ? 100 : 400, root: TreeHash.leaf([1]))
        writeFile(log.dir.path + "/HEAD", Array(head.json.utf8))
        let bad = try #require(try log.verify().firstBad)
        #expect(bad.reason.contains("differs from the one HEAD recorded"))
    }

    /// Replaces a chunk's text, re-compresses it, and writes a header whose checksum is valid.
    private func rewrite(_ log: DamagedLog, _ path: String, _ chunk: ChunkRef, count: UInt32? = nil, _ edit: (inout [UInt8]) -> Void) throws
    {
        let view = try LogView(layout: LogLayout(root: log.dir.path), boundedByHead: false)
        var text = Array(try view.text(of: chunk).get().prefix(Int(chunk.header.rawLength)))
        edit(&text)
        let frame = text.withUnsafeBytes { LZ4Frame.compress($0) }
        var header = chunk.header
        header.count = count ?? header.count
        header.rawLength = UInt32(text.count)
        header.frameLength = UInt32(frame.count)
        var encoded: [UInt8] = []
        header.encode(into: &encoded)
        var bytes = log.bytes(path)
        bytes.replaceSubrange(chunk.offset..<chunk.endOffset, with: encoded + frame)
        log.write(path, bytes)
    }
}

@Suite("Recovery from interrupted writes")
struct RecoveryTests {
    @Test("a batch torn at every byte offset is removed on open, leaving a clean, appendable prefix")
    func tornAtEveryOffset() throws {
        let dir = TemporaryDirectory()
        let kept: [UInt8]
        let full: [UInt8]
        let head: HeadRecord
        do {
            let log = try EventLog(directory: dir.path)
            _ = try log.append(Events.batch((0..<3).map { Events.event(stream: "build/b_\($0)") }))
            kept = [UInt8](FileManager.default.contents(atPath: dir.segments[0])!)
            head = try layoutHead(dir.path)
            _ = try log.append(Events.batch((0..<4).map { Events.event(stream: "build/b_\($0)") }))
            full = [UInt8](FileManager.default.contents(atPath: dir.segments[0])!)
        }
        let expected = Array(try storedLines(dir.path).prefix(3))
        for cut in kept.count..<full.count {
            writeFile(dir.segments[0], full[..<cut])
            writeFile(dir.path + "/HEAD", Array(head.json.utf8))
            let torn = try LogReader(directory: dir.path).verify()
            #expect(torn.ok, "cut at \(cut): \(torn.firstBad?.reason ?? "")")
            #expect(torn.notes.count == (cut == kept.count ? 0 : 1))

            let log = try EventLog(directory: dir.path)
            #expect(log.size == 3)
            #expect(try storedLines(dir.path) == expected)
            #expect([UInt8](FileManager.default.contents(atPath: dir.segments[0])!) == kept)
            #expect(try log.append(Events.batch([Events.event()])).firstSeq == 4)
        }
    }
}

extension RecoveryTests {
    @Test("a batch written whole but not acknowledged is hidden from readers, verified, and kept by the next writer")
    func writtenButNotAcknowledged() throws {
        let dir = TemporaryDirectory()
        let acknowledged: HeadRecord
        do {
            let log = try EventLog(directory: dir.path)
            _ = try log.append(Events.batch((0..<3).map { Events.event(stream: "build/b_\($0)") }))
            acknowledged = try layoutHead(dir.path)
            _ = try log.append(Events.batch((0..<4).map { Events.event(stream: "build/b_\($0)") }))
        }
        // The writer died after writing the second batch, before it recorded HEAD.
        writeFile(dir.path + "/HEAD", Array(acknowledged.json.utf8))

        let reader = try LogReader(directory: dir.path)
        #expect(reader.size == 3)
        let report = reader.verify()
        #expect(report.ok && report.size == 7)
        #expect(report.notes.first?.contains("events 4…7 were written whole but not acknowledged") == true)

        let log = try EventLog(directory: dir.path)
        #expect(log.size == 7)
        #expect(try LogReader(directory: dir.path).size == 7)
    }
}

private func layoutHead(_ path: String) throws -> HeadRecord {
    try LogLayout(root: path).readHead()!.get()
}

@Suite("An independent verifier written from docs/log-format.md")
struct IndependentVerifierTests {
    private let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tools/verify_log.py").path

    @Test("Tools/verify_log.py agrees with the engine on a good log, and finds the same first bad seq")
    func agreesWithTheEngine() throws {
        let log = try DamagedLog(segmentBytes: 64 << 10)
        let good = try run("/usr/bin/env", ["python3", script, log.dir.path])
        let report = try log.verify()
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout == "ok: tree head \(report.size) \(report.root.hex)\n")

        let (path, chunk) = log.chunks[5]
        log.flip(path, at: chunk.frameOffset + 40, 0x04)
        let bad = try run("/usr/bin/env", ["python3", script, log.dir.path])
        #expect(bad.status == 1)
        #expect(bad.stdout.hasPrefix("FAILED at seq \(try #require(try log.verify().firstBad).seq):"))
    }
}
