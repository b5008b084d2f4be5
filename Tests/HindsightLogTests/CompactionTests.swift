import Foundation
import HindsightCatalog
import HindsightTestSupport
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

@Suite("Compaction")
struct CompactionTests {
    /// A log of several segments of small, fast-compressed chunks.
    private func makeLog(_ dir: TemporaryDirectory) throws -> EventLog {
        var options = LogOptions()
        options.segmentBytes = 256 << 10
        options.chunkBytes = 32 << 10
        let log = try EventLog(directory: dir.path, options: options)
        for seed in 1...5 { _ = try log.append(Events.workload(1500, seed: UInt64(seed))) }
        return log
    }

    @Test("compaction shrinks the log, keeps every stored line, tree head and proof, and appends go on")
    func compactionKeepsEverything() throws {
        let dir = TemporaryDirectory()
        let log = try makeLog(dir)
        let before = try LogReader(directory: dir.path)
        let lines = try storedLines(dir.path)
        let report = before.verify()
        let proof = try before.inclusionProof(seq: 4321)
        let storedBefore = try before.stats().storedBytes

        let compaction = try log.compact(chunkBytes: 1 << 20)
        #expect(compaction.segmentsRewritten == dir.segments.count)
        #expect(compaction.events == 7500)
        #expect(compaction.bytesAfter < compaction.bytesBefore)

        let after = try LogReader(directory: dir.path)
        #expect(try after.stats().storedBytes < storedBefore)
        #expect(after.view.chunks.allSatisfy { $0.header.isCompacted })
        #expect(after.view.chunks.count < before.view.chunks.count)
        #expect(try storedLines(dir.path) == lines)
        #expect(after.verify() == report)
        #expect(try after.inclusionProof(seq: 4321).path == proof.path)
        // A reader opened before compaction still reads the segments it mapped.
        #expect(before.verify() == report)

        let concatenated = dir.segments.map { FileManager.default.contents(atPath: $0)! }.reduce(Data(), +)
        #expect(try run("/usr/bin/lz4", ["-dc"], stdin: concatenated).stdout == lines.joined(separator: "\n") + "\n")

        #expect(try log.compact() == CompactionReport())  // nothing left to rewrite
        let next = try log.append(Events.batch([Events.event()]))
        #expect(next.firstSeq == 7501)
        #expect(try LogReader(directory: dir.path).verify().ok)
    }

    @Test("compaction refuses a damaged log and rewrites nothing")
    func refusesDamage() throws {
        let dir = TemporaryDirectory()
        let log = try makeLog(dir)
        let path = dir.segments[1]
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        bytes[bytes.count / 2] ^= 0x40
        writeFile(path, bytes)
        let snapshot = dir.segments.map { FileManager.default.contents(atPath: $0) }
        let error = #expect(throws: LogError.self) { try log.compact() }
        #expect(error?.code == .logCorrupt)
        #expect(dir.segments.map { FileManager.default.contents(atPath: $0) } == snapshot)
    }

    @Test("a compaction cut short leaves a stray partial file that readers ignore and the next compaction replaces")
    func interruptedCompaction() throws {
        let dir = TemporaryDirectory()
        let log = try makeLog(dir)
        writeFile(dir.segments[0] + ".partial", [UInt8](repeating: 0xEE, count: 1000))
        let report = try LogReader(directory: dir.path).verify()
        #expect(report.ok && report.size == 7500)
        _ = try log.compact()
        #expect(try LogReader(directory: dir.path).verify().ok)
        #expect(!FileManager.default.fileExists(atPath: dir.segments[0] + ".partial"))
    }

    @Test("appends go on while the same writer compacts, and nothing is lost or changed")
    func appendsDuringCompaction() throws {
        let dir = TemporaryDirectory()
        let log = try makeLog(dir)
        let done = DispatchGroup()
        let failures = ResultsBox()
        done.enter()
        Thread {
            for round in 0..<40 {
                do {
                    let result = try log.append(
                        Events.batch((0..<25).map { Events.event(stream: "build/c_\($0)", id: Events.uuid(round * 100 + $0)) }))
                    failures.add(result)
                } catch {
                    Issue.record("append failed during compaction: \(error)")
                }
            }
            done.leave()
        }.start()
        for _ in 0..<3 { _ = try log.compact(chunkBytes: 1 << 20) }
        done.wait()
        #expect(failures.all.count == 40)
        let report = try LogReader(directory: dir.path).verify()
        #expect(report.ok, "\(report.firstBad?.reason ?? "")")
        #expect(report.size == 7500 + 40 * 25)
        _ = try log.compact()
        #expect(try LogReader(directory: dir.path).verify() == report)
    }
}
