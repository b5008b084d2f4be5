import Foundation
import HindsightTestSupport
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

/// The writer's index (`DIR/index`) lets a log open without replaying its history, keeps
/// appends idempotent across all of it, and finds a stream's events without a scan; and it is
/// never trusted: whatever disagrees with the segments is rebuilt from them.
@Suite("The writer's index")
struct WriterIndexTests {
    /// Appends `batches` batches of `size` events of 40 streams, each event with its own id,
    /// reopening the log after every `reopenEvery` batches; returns the batches' lines.
    private func fill(_ path: String, batches: Int, size: Int, reopenEvery: Int = 3, options: LogOptions = LogOptions()) throws
        -> [[String]]
    {
        var sent: [[String]] = []
        var log: EventLog? = try EventLog(directory: path, options: options)
        for number in 0..<batches {
            let lines = (0..<size).map { offset in
                let n = number * size + offset
                return Events.event(stream: "build/b_\(n % 40)", id: Events.uuid(n + 1))
            }
            _ = try log!.append(try Events.batch(lines))
            sent.append(lines)
            if number % reopenEvery == reopenEvery - 1 {
                log = nil
                log = try EventLog(directory: path, options: options)
            }
        }
        return sent
    }

    /// Each stream's (seq, streamVersion) as a scan of the whole log finds them.
    private func streamsByScan(_ path: String) throws -> [String: [[UInt64]]] {
        var found: [String: [[UInt64]]] = [:]
        try LogReader(directory: path).read(ReadQuery()) { (event: StoredEvent) throws(LogError) in
            found[event.stream, default: []].append([event.seq, event.streamVersion])
            return true
        }
        return found
    }

    /// The stream's (seq, streamVersion) as a stream read finds them.
    private func streamRead(_ path: String, _ stream: String) throws -> [[UInt64]] {
        var query = ReadQuery()
        query.stream = stream
        var found: [[UInt64]] = []
        try LogReader(directory: path).read(query) { (event: StoredEvent) throws(LogError) in
            found.append([event.seq, event.streamVersion])
            return true
        }
        return found
    }

    private func indexState(_ path: String) throws -> IndexState? {
        IndexState(json: Array(try Data(contentsOf: URL(fileURLWithPath: IndexLayout(root: path).statePath))))
    }

    /// Flips a bit in every word in use of every data page of an index file (empty slots stay
    /// empty, so that only the pages' checksums tell).
    private func damagePages(_ path: String, _ kind: IndexFileKind) throws {
        let file = IndexLayout(root: path).path(kind)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        for offset in stride(from: IndexPage.size, to: bytes.count, by: 8) where bytes[offset..<(offset + 8)].contains(where: { $0 != 0 }) {
            bytes[offset] ^= 0x10
        }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }

    @Test func anIDFromTheFirstBatchIsRecognisedAfterManyMoreAndManyReopenings() throws {
        let dir = TemporaryDirectory()
        let sent = try fill(dir.path, batches: 30, size: 200)
        let log = try EventLog(directory: dir.path)
        #expect(try log.append(try Events.batch(sent[0])) == AppendResult(firstSeq: 1, lastSeq: 200, count: 200, isRetry: true))
        #expect(try log.append(try Events.batch(sent[17])) == AppendResult(firstSeq: 3401, lastSeq: 3600, count: 200, isRetry: true))
        // One stored id among new events is refused, naming it.
        let mixed = [Events.event(stream: "build/b_new", id: Events.uuid(999_999)), sent[4][7]]
        #expect(throws: LogError.self) { try log.append(try Events.batch(mixed)) }
        #expect(log.size == 6000)
    }

    @Test func aClosedWriterLeavesTheIndexCoveringTheWholeLog() throws {
        let dir = TemporaryDirectory()
        _ = try fill(dir.path, batches: 5, size: 100, reopenEvery: 100)
        // The last writer was let go after the loop: it saved what it appended.
        let state = try #require(try indexState(dir.path))
        #expect(state.size == 500)
        #expect(state.root == (try LogReader(directory: dir.path).root))
    }

    @Test func readingAStreamFollowsTheIndexAndFindsWhatAScanFinds() throws {
        let dir = TemporaryDirectory()
        var options = LogOptions()
        options.segmentBytes = 16 << 10
        _ = try fill(dir.path, batches: 12, size: 150, reopenEvery: 4, options: options)
        // Events after the index's state: appended by a writer still open.
        let log = try EventLog(directory: dir.path, options: options)
        _ = try log.append(try Events.batch([Events.event(stream: "build/b_3", id: Events.uuid(50_000))]))
        let view = try LogView(layout: LogLayout(root: dir.path), boundedByHead: true)
        let index = try #require(StreamIndex(view: view))
        #expect(index.state.size == 1800)
        #expect(try #require(index.events(of: "build/b_3")).count == 45)
        let scanned = try streamsByScan(dir.path)
        #expect(scanned.count == 40)
        for (stream, events) in scanned { #expect(try streamRead(dir.path, stream) == events, "\(stream)") }
        #expect(try streamRead(dir.path, "build/b_none").isEmpty)

        // Compaction merges batches into chunks the index's seq may fall inside.
        _ = try log.compact(chunkBytes: 64 << 10)
        for (stream, events) in try streamsByScan(dir.path) { #expect(try streamRead(dir.path, stream) == events, "\(stream)") }
    }

    @Test func aDeletedIndexIsRebuiltFromTheSegments() throws {
        let dir = TemporaryDirectory()
        let sent = try fill(dir.path, batches: 6, size: 100)
        try FileManager.default.removeItem(atPath: IndexLayout(root: dir.path).directory)
        let log = try EventLog(directory: dir.path)
        #expect(try indexState(dir.path)?.size == 600)
        #expect(try log.append(try Events.batch(sent[2])).isRetry)
        _ = try log.append(
            try Events.batch([Events.event(stream: "build/b_7", id: Events.uuid(70_000))]), expectedVersions: ["build/b_7": .exactly(15)])
    }

    @Test func aStateThatDisagreesWithTheSegmentsIsNotTrusted() throws {
        let dir = TemporaryDirectory()
        let sent = try fill(dir.path, batches: 4, size: 100)
        let statePath = IndexLayout(root: dir.path).statePath
        let good = try #require(try indexState(dir.path))
        let other = TemporaryDirectory()
        _ = try fill(other.path, batches: 4, size: 100)
        let strangers = [
            Array("not json".utf8),
            IndexState(size: good.size + 50, root: good.root, peaks: good.peaks).json,
            IndexState(size: 300, root: good.root, peaks: good.peaks).json,
            Array(try Data(contentsOf: URL(fileURLWithPath: IndexLayout(root: other.path).statePath))),
        ]
        for stranger in strangers {
            try Data(stranger).write(to: URL(fileURLWithPath: statePath))
            let log = try EventLog(directory: dir.path)
            #expect(try indexState(dir.path) == good)
            #expect(try log.append(try Events.batch(sent[1])).isRetry)
        }
    }

    @Test func damagedPagesOfTheIDsAreFoundWhereTheyAreReadAndRebuilt() throws {
        let dir = TemporaryDirectory()
        let sent = try fill(dir.path, batches: 8, size: 250)
        try damagePages(dir.path, .ids)
        let log = try EventLog(directory: dir.path)
        #expect(try log.append(try Events.batch(sent[5])) == AppendResult(firstSeq: 1251, lastSeq: 1500, count: 250, isRetry: true))
        let ids = try #require(IndexFile.open(IndexLayout(root: dir.path).path(.ids), .ids))
        for page in 1...ids.header.dataPages { try ids.check(page) }
    }

    @Test func damagedPagesOfTheStreamsAreRebuiltBeforeAVersionIsTrusted() throws {
        let dir = TemporaryDirectory()
        _ = try fill(dir.path, batches: 4, size: 200)
        try damagePages(dir.path, .streams)
        let log = try EventLog(directory: dir.path)
        let wrong = #expect(throws: LogError.self) {
            try log.append(try Events.batch([Events.event(stream: "build/b_9")]), expectedVersions: ["build/b_9": .noStream])
        }
        #expect(wrong?.code == .wrongExpectedVersion)
        let stored = try log.append(try Events.batch([Events.event(stream: "build/b_9")]), expectedVersions: ["build/b_9": .exactly(20)])
        #expect(try streamRead(dir.path, "build/b_9").last == [stored.firstSeq, 21])
    }

    @Test func aReaderGivenADamagedIndexScansInstead() throws {
        let dir = TemporaryDirectory()
        _ = try fill(dir.path, batches: 4, size: 200)
        let scanned = try streamsByScan(dir.path)
        for kind in [IndexFileKind.previous, .streams] {
            try damagePages(dir.path, kind)
            for (stream, events) in scanned { #expect(try streamRead(dir.path, stream) == events, "\(kind) \(stream)") }
        }
        // A previous seq that points at another stream's event: the chain is checked by reading it.
        try FileManager.default.removeItem(atPath: IndexLayout(root: dir.path).directory)
        _ = try EventLog(directory: dir.path)
        let file = try #require(IndexFile.open(IndexLayout(root: dir.path).path(.previous), .previous))
        let b5 = scanned["build/b_5"]!
        let slot = Int(b5[10][0] - 1)
        try file.slot(slot).storeBytes(of: b5[10][0] - 1, as: UInt64.self)
        file.mark(slot)
        try file.sync(size: file.header.size, root: file.header.root)
        #expect(try streamRead(dir.path, "build/b_5") == b5)
    }

    @Test func anIndexFileFromAnEarlierSaveIsNotTrusted() throws {
        let dir = TemporaryDirectory()
        let sent = try fill(dir.path, batches: 3, size: 100, reopenEvery: 100)
        let ids = IndexLayout(root: dir.path).path(.ids)
        let early = Array(try Data(contentsOf: URL(fileURLWithPath: ids)))
        let later = [Events.event(stream: "build/b_1", id: Events.uuid(80_000))]
        do {
            let log = try EventLog(directory: dir.path)
            _ = try log.append(try Events.batch(later))
        }
        try Data(early).write(to: URL(fileURLWithPath: ids))
        let reopened = try EventLog(directory: dir.path)
        #expect(try reopened.append(try Events.batch(later)) == AppendResult(firstSeq: 301, lastSeq: 301, count: 1, isRetry: true))
        #expect(try reopened.append(try Events.batch(sent[0])).isRetry)
    }

    @Test func aWriterOpensWhenItsIndexEndsInsideAChunkThatCompactionMerged() throws {
        let dir = TemporaryDirectory()
        var options = LogOptions()
        options.segmentBytes = 64 << 10
        _ = try fill(dir.path, batches: 4, size: 100, reopenEvery: 100, options: options)
        let index = IndexLayout(root: dir.path).directory
        let savedAt400 = dir.path + "/index-at-400"
        try FileManager.default.copyItem(atPath: index, toPath: savedAt400)
        let later = (0..<5).map { batch in
            (0..<100).map { Events.event(stream: "build/b_\($0 % 40)", id: Events.uuid(10_000 + batch * 100 + $0)) }
        }
        do {
            let log = try EventLog(directory: dir.path, options: options)
            for lines in later { _ = try log.append(try Events.batch(lines)) }
            _ = try log.compact(chunkBytes: 1 << 20)
        }
        // As if the writer had been killed before it saved: its index ends at seq 400, inside
        // one of the merged chunks.
        try FileManager.default.removeItem(atPath: index)
        try FileManager.default.copyItem(atPath: savedAt400, toPath: index)
        let view = try LogView(layout: LogLayout(root: dir.path), boundedByHead: true)
        #expect(view.chunks.contains { $0.header.firstSeq < 400 && $0.header.lastSeq > 400 }, "seq 400 ends a chunk still")
        let log = try EventLog(directory: dir.path, options: options)
        #expect(try log.append(try Events.batch(later[2])) == AppendResult(firstSeq: 601, lastSeq: 700, count: 100, isRetry: true))
        for (stream, events) in try streamsByScan(dir.path) { #expect(try streamRead(dir.path, stream) == events, "\(stream)") }
    }
}
