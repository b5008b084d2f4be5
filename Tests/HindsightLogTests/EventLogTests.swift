import Foundation
import HindsightCatalog
import HindsightTestSupport
import HindsightWorkload
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

@Suite("Appending and reading")
struct EventLogTests {
    @Test("appended events read back as stored lines with seq, streamVersion and recordedAt first")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        let first = try log.append(
            Events.batch([Events.event(stream: "build/b_1"), Events.event(stream: "build/b_2"), Events.event(stream: "build/b_1")]))
        #expect(first == AppendResult(firstSeq: 1, lastSeq: 3, count: 3, isRetry: false))
        let second = try log.append(Events.batch([Events.event(stream: "build/b_2")]))
        #expect(second.firstSeq == 4 && second.lastSeq == 4)

        let lines = try storedLines(dir.path)
        #expect(lines.count == 4)
        let versions = lines.map { line in
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(object["recordedAt"] is String)
            return [object["seq"] as! Int, object["streamVersion"] as! Int]
        }
        #expect(versions == [[1, 1], [2, 1], [3, 2], [4, 2]])
        #expect(lines[0].hasPrefix(#"{"seq":1,"streamVersion":1,"recordedAt":"#))
    }

    @Test("a stream name sent with JSON escapes is the same stream, and is stored plainly")
    func escapedStreamName() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        let escaped = Events.event(stream: #"build\u002fb_1"#)
        _ = try log.append(Events.batch([escaped, Events.event(stream: "build/b_1")]))
        _ = try log.append(Events.batch([Events.event(stream: "build/b_1")]), expectedVersions: ["build/b_1": .exactly(2)])
        let lines = try storedLines(dir.path)
        #expect(lines.map { $0.contains(#""streamVersion":\#(lines.firstIndex(of: $0)! + 1),"#) } == [true, true, true])
        #expect(lines.allSatisfy { $0.contains(#""stream":"build/b_1""#) })
    }

    @Test("the stock lz4 tool prints exactly the stored lines, across segments")
    func readableWithStockLZ4() throws {
        let dir = TemporaryDirectory()
        var options = LogOptions()
        options.segmentBytes = 64 << 10
        options.chunkBytes = 16 << 10
        let log = try EventLog(directory: dir.path, options: options)
        for seed in 1...6 { _ = try log.append(Events.workload(400, seed: UInt64(seed))) }
        #expect(dir.segments.count > 2)

        let concatenated = dir.segments.map { FileManager.default.contents(atPath: $0)! }.reduce(Data(), +)
        let result = try run("/usr/bin/lz4", ["-dc"], stdin: concatenated)
        #expect(result.status == 0, "\(result.stderr)")
        let expected = try storedLines(dir.path).joined(separator: "\n") + "\n"
        #expect(result.stdout == expected)
        #expect(try LogReader(directory: dir.path).verify().ok)
    }

    @Test("a refused batch stores nothing, and the log is byte for byte unchanged")
    func refusedBatchStoresNothing() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        _ = try log.append(Events.batch([Events.event()]))
        let before = dir.segments.map { FileManager.default.contents(atPath: $0) }
        #expect(throws: LogError.self) { try log.append(Events.batch([Events.event(), "{}"])) }
        #expect(throws: LogError.self) {
            try log.append(Events.batch([Events.event(stream: "build/b_9")]), expectedVersions: ["build/b_1": .noStream])
        }
        #expect(dir.segments.map { FileManager.default.contents(atPath: $0) } == before)
        #expect(try LogReader(directory: dir.path).size == 1)
    }

    @Test("expectedVersions: a number, none and any, refused with wrong_expected_version")
    func expectedVersions() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        _ = try log.append(Events.batch([Events.event(stream: "build/b_1")]), expectedVersions: ["build/b_1": .noStream])
        _ = try log.append(Events.batch([Events.event(stream: "build/b_1")]), expectedVersions: ["build/b_1": .exactly(1)])
        _ = try log.append(Events.batch([Events.event(stream: "build/b_1")]), expectedVersions: ["build/b_1": .any])
        let stale = #expect(throws: LogError.self) {
            try log.append(Events.batch([Events.event(stream: "build/b_1")]), expectedVersions: ["build/b_1": .exactly(1)])
        }
        #expect(stale?.code == .wrongExpectedVersion)
        #expect(stale?.message.contains("is at version 3") == true)
        let exists = #expect(throws: LogError.self) {
            try log.append(Events.batch([Events.event(stream: "build/b_1")]), expectedVersions: ["build/b_1": .noStream])
        }
        #expect(exists?.code == .wrongExpectedVersion)
        #expect(log.size == 3)

        // A refused batch leaves its ids unrecorded: sent again without the expectation, it is new.
        let batch = try Events.batch([Events.event(stream: "build/b_1", id: Events.uuid(77))])
        #expect(throws: LogError.self) { try log.append(batch, expectedVersions: ["build/b_1": .noStream]) }
        #expect(try log.append(batch) == AppendResult(firstSeq: 4, lastSeq: 4, count: 1, isRetry: false))
        #expect(try log.append(batch).isRetry)
    }

    @Test("a retried batch returns the original positions, also after the log is reopened")
    func idempotentRetry() throws {
        let dir = TemporaryDirectory()
        let batch = try Events.batch((1...3).map { Events.event(id: Events.uuid($0)) })
        do {
            let log = try EventLog(directory: dir.path)
            _ = try log.append(Events.batch([Events.event()]))
            #expect(try log.append(batch) == AppendResult(firstSeq: 2, lastSeq: 4, count: 3, isRetry: false))
            #expect(try log.append(batch) == AppendResult(firstSeq: 2, lastSeq: 4, count: 3, isRetry: true))
        }
        let reopened = try EventLog(directory: dir.path)
        let upper = try Events.batch((1...3).map { Events.event(id: Events.uuid($0).uppercased()) })
        #expect(try reopened.append(upper) == AppendResult(firstSeq: 2, lastSeq: 4, count: 3, isRetry: true))
        #expect(reopened.size == 4)

        let mixed = #expect(throws: LogError.self) {
            try reopened.append(Events.batch([Events.event(id: Events.uuid(1)), Events.event(id: Events.uuid(99))]))
        }
        #expect(mixed?.code == .idempotencyConflict)
        let twice = #expect(throws: LogError.self) {
            try reopened.append(Events.batch([Events.event(id: Events.uuid(50)), Events.event(id: Events.uuid(50))]))
        }
        #expect(twice?.location == "line 2")
        #expect(reopened.size == 4)
    }

    @Test("many concurrent small appends all land, in distinct contiguous positions, sharing fsyncs")
    func concurrentAppends() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        let results = ResultsBox()
        let batches = try (0..<200).map { index in
            try Events.batch([
                Events.event(stream: "build/b_\(index % 7)", id: Events.uuid(index * 2)),
                Events.event(stream: "build/b_\(index % 7)", id: Events.uuid(index * 2 + 1)),
            ])
        }
        // 20 threads, more than the cores, so that appends wait on each other's fsyncs.
        let done = DispatchGroup()
        for thread in 0..<20 {
            done.enter()
            Thread {
                for index in stride(from: thread, to: 200, by: 20) { results.add(try! log.append(batches[index])) }
                done.leave()
            }.start()
        }
        done.wait()
        let ranges = results.all.sorted { $0.firstSeq < $1.firstSeq }
        #expect(ranges.count == 200)
        for (index, range) in ranges.enumerated() {
            #expect(range.firstSeq == UInt64(index * 2 + 1) && range.lastSeq == UInt64(index * 2 + 2))
        }
        #expect(log.commits < 200, "each append fsynced alone")
        let report = try LogReader(directory: dir.path).verify()
        #expect(report.ok && report.checked == 400)
    }

    @Test("a second writer on the same directory gets a clear error")
    func secondWriterIsRefused() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        _ = try log.append(Events.batch([Events.event()]))
        let second = #expect(throws: LogError.self) { try EventLog(directory: dir.path) }
        #expect(second?.code == .writerLocked)

        // Another process is refused too, with a non-zero exit and the reason on stderr.
        let result = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(Events.event().utf8))
        #expect(result.status != 0)
        #expect(result.stderr.contains("already open for writing"))
        #expect(log.size == 1)
    }

    @Test("reads filter by seq range, stream, type, org and time, and stop at the limit")
    func filteredReads() throws {
        let dir = TemporaryDirectory()
        var options = LogOptions()
        options.chunkBytes = 8 << 10
        let log = try EventLog(directory: dir.path, options: options)
        let ndjson = WorkloadGenerator.ndjson(count: 3000, seed: 3)
        _ = try log.append(EnvelopeParser.parse(ndjson: ndjson, catalog: nil))
        let all = String(decoding: ndjson, as: UTF8.self).split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let reader = try LogReader(directory: dir.path)

        func read(_ configure: (inout ReadQuery) -> Void) throws -> [StoredEvent] {
            var query = ReadQuery()
            configure(&query)
            var events: [StoredEvent] = []
            try reader.read(query) {
                events.append($0)
                return true
            }
            return events
        }
        #expect(
            try read {
                $0.from = 10
                $0.to = 19
            }.map(\.seq) == Array(10...19))
        let stream = all[100]["stream"] as! String
        #expect(try read { $0.stream = stream }.count == all.filter { $0["stream"] as! String == stream }.count)
        #expect(
            try read { $0.types = ["build.queued", "build.failed"] }.count
                == all.filter { ["build.queued", "build.failed"].contains($0["type"] as! String) }.count)
        #expect(
            try read {
                $0.types = ["function.invoked"]
                $0.limit = 5
            }.count == 5)
        let from = Timestamp.parse(all[1000]["occurredAt"] as! String)!
        let to = Timestamp.parse(all[1200]["occurredAt"] as! String)!
        let inTime = all.filter { (from...to).contains(Timestamp.parse($0["occurredAt"] as! String)!) }.count
        #expect(
            try read {
                $0.occurredFrom = from
                $0.occurredTo = to
            }.count == inTime)
        #expect(reader.firstSeq(occurredAtOrAfter: from)! <= 1001)
    }

    @Test("the workload generator is deterministic and every event it makes is valid")
    func workloadIsDeterministic() throws {
        let a = WorkloadGenerator.ndjson(count: 5000, seed: 42)
        #expect(a == WorkloadGenerator.ndjson(count: 5000, seed: 42))
        #expect(a != WorkloadGenerator.ndjson(count: 5000, seed: 43))
        #expect(try EnvelopeParser.parse(ndjson: a, catalog: nil).count == 5000)
    }
}

/// Collects results from concurrent workers.
final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [AppendResult] = []
    func add(_ result: AppendResult) { lock.withLock { results.append(result) } }
    var all: [AppendResult] { lock.withLock { results } }
}

@Suite("The command line")
struct CommandLineTests {
    @Test("a refused line exits non-zero, names the line and field, and leaves the log as it was")
    func refusedLine() throws {
        let dir = TemporaryDirectory()
        let good = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data((Events.event() + "\n").utf8))
        #expect(good.status == 0)
        #expect(good.stdout == #"{"count":1,"firstSeq":1,"lastSeq":1}"# + "\n")
        let before = dir.segments.map { FileManager.default.contents(atPath: $0) }

        let input = [Events.event(), Events.event(), Events.event(occurredAt: "yesterday")].joined(separator: "\n")
        let bad = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(input.utf8))
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("line 3"))
        #expect(bad.stderr.contains("/occurredAt"))
        #expect(bad.stdout.isEmpty)
        #expect(dir.segments.map { FileManager.default.contents(atPath: $0) } == before)
    }

    @Test("reading a data directory that does not exist is an error, not an empty log")
    func missingDirectory() throws {
        let dir = TemporaryDirectory()
        let result = try run(hindsightExecutable, ["verify", "--data", dir.path + "/typo"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no data directory here"))
        #expect(result.stdout.isEmpty)
    }

    @Test("verify exits 2 and names the seq when the log is damaged; stats and proofs answer on a good log")
    func verifyStatsAndProofs() throws {
        let dir = TemporaryDirectory()
        let input = WorkloadGenerator.ndjson(count: 500, seed: 9)
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(input)).status == 0)
        let stats = try run(hindsightExecutable, ["stats", "--data", dir.path, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as! [String: Any]
        #expect(object["events"] as? Int == 500)
        #expect((object["storedBytes"] as! Int) < input.count)

        let proof = try run(hindsightExecutable, ["proof", "--data", dir.path, "123", "--tree-size", "400"])
        let parsed = try JSONDecoder().decode(InclusionProof.self, from: Data(proof.stdout.utf8))
        #expect(parsed.verify() && parsed.seq == 123 && parsed.treeSize == 400)
        let consistency = try run(hindsightExecutable, ["consistency", "--data", dir.path, "77"])
        #expect(try JSONDecoder().decode(ConsistencyProof.self, from: Data(consistency.stdout.utf8)).verify())
        #expect(try run(hindsightExecutable, ["proof", "--data", dir.path, "501"]).status == 1)

        #expect(try run(hindsightExecutable, ["verify", "--data", dir.path]).status == 0)
        var bytes = [UInt8](FileManager.default.contents(atPath: dir.segments[0])!)
        bytes[bytes.count - 10] ^= 0xFF
        writeFile(dir.segments[0], bytes)
        let damaged = try run(hindsightExecutable, ["verify", "--data", dir.path])
        #expect(damaged.status == 2)
        #expect(damaged.stdout.contains("FAILED at seq 1:"))
    }
}
