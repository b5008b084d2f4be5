import Foundation
import HindsightCatalog
import HindsightTestSupport
import HindsightWorkload
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

/// Runs `hindsight append --batch-lines` on `file` and kills it with SIGKILL after `delay`
/// seconds (or lets it finish); returns the lastSeq of every batch it acknowledged.
private func appendUntilKilled(
    data: String, file: String, batch: Int, delay: Double?, options: [String] = []
) throws -> (acknowledged: [UInt64], finished: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: hindsightExecutable)
    process.arguments = ["append", "--data", data, "--batch-lines", String(batch), file] + options
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    if let delay {
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { kill(process.processIdentifier, SIGKILL) }
    }
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let acknowledged = String(decoding: output, as: UTF8.self).split(separator: "\n").map { line in
        let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        return (object["lastSeq"] as! NSNumber).uint64Value
    }
    return (acknowledged, process.terminationReason == .exit && process.terminationStatus == 0)
}

/// For some of the log's streams, the seqs a stream read finds (through the writer's stream
/// index) and those a scan of the whole log finds.
private func streamReadsAndScans(_ directory: String, streams: Int) throws -> [(stream: String, read: [UInt64], scanned: [UInt64])] {
    var byStream: [String: [UInt64]] = [:]
    try LogReader(directory: directory).read(ReadQuery()) { (event: StoredEvent) throws(LogError) in
        byStream[event.stream, default: []].append(event.seq)
        return true
    }
    return try byStream.prefix(streams).map { stream, scanned in
        var query = ReadQuery()
        query.stream = stream
        var read: [UInt64] = []
        try LogReader(directory: directory).read(query) { (event: StoredEvent) throws(LogError) in
            read.append(event.seq)
            return true
        }
        return (stream, read, scanned)
    }
}

/// The `id` of every stored event, in seq order.
private func storedIDs(_ directory: String) throws -> [String] {
    var ids: [String] = []
    try LogReader(directory: directory).read(ReadQuery()) {
        ids.append($0.id ?? "")
        return true
    }
    return ids
}

@Suite("Crash safety", .serialized)
struct CrashTests {
    @Test("a writer killed with SIGKILL at random moments loses nothing it acknowledged and leaves no partial batch")
    func killedWriter() throws {
        let dir = TemporaryDirectory()
        let data = dir.path + "/data"
        let file = dir.path + "/history.ndjson"
        let events = 30_000
        let batch = 100
        let ndjson = WorkloadGenerator.ndjson(count: events, seed: 11)
        writeFile(file, ndjson)
        let inputIDs = String(decoding: ndjson, as: UTF8.self).split(separator: "\n").map { line in
            (try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["id"] as! String
        }

        var random = SystemRandomNumberGenerator()
        var acknowledged: UInt64 = 0
        var kills = 0
        var completions = 0
        for round in 0..<80 where kills < 25 {
            let delay = Double.random(in: 0.005...0.4, using: &random)
            let run = try appendUntilKilled(data: data, file: file, batch: batch, delay: delay)
            acknowledged = max(acknowledged, run.acknowledged.max() ?? 0)
            if run.finished {
                // Everything is in; start again from an empty log so that later kills land mid-load.
                completions += 1
                #expect(try storedIDs(data) == inputIDs)
                try FileManager.default.removeItem(atPath: data)
                acknowledged = 0
                continue
            }
            kills += 1

            // Recovery: the next open removes any unfinished batch; nothing acknowledged is gone.
            _ = try EventLog(directory: data)
            let report = try LogReader(directory: data).verify()
            #expect(report.ok, "round \(round): \(report.firstBad?.reason ?? "")")
            #expect(report.notes.isEmpty, "round \(round): recovery left \(report.notes)")
            let ids = try storedIDs(data)
            #expect(ids.count >= Int(acknowledged), "round \(round): acknowledged \(acknowledged), found \(ids.count)")
            #expect(ids.count % batch == 0 || ids.count == events, "round \(round): a partial batch is visible (\(ids.count) events)")
            #expect(ids == Array(inputIDs.prefix(ids.count)), "round \(round): stored events differ from what was sent")
            // The key of every stored e-mail was durable before its event: all of them read.
            let invitations = try HindsightTestSupport.run(hindsightExecutable, ["read", "--data", data, "--type", "member.invited"]).stdout
            #expect(!invitations.contains("[erased]"), "round \(round): a stored e-mail lost its key")
            #expect(invitations.components(separatedBy: "@example.com").count - 1 == invitations.split(separator: "\n").count)
        }
        #expect(kills >= 10, "only \(kills) runs were killed before they finished (\(completions) completed)")
        let last = try appendUntilKilled(data: data, file: file, batch: batch, delay: nil)
        #expect(last.finished)
        #expect(try storedIDs(data) == inputIDs)
        #expect(try LogReader(directory: data).verify().ok)
    }

    @Test("a writer killed at random while it appends and saves its index after every batch loses nothing and appends no event twice")
    func killedWhileSavingTheIndex() throws {
        let dir = TemporaryDirectory()
        let data = dir.path + "/data"
        let file = dir.path + "/history.ndjson"
        let events = 40_000
        let ndjson = WorkloadGenerator.ndjson(count: events, seed: 12)
        writeFile(file, ndjson)
        let inputIDs = String(decoding: ndjson, as: UTF8.self).split(separator: "\n").map { line in
            (try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["id"] as! String
        }
        var random = SystemRandomNumberGenerator()
        var kills = 0
        for round in 0..<80 where kills < 20 {
            // The index is saved after every batch, so that kills land in saves.
            let run = try appendUntilKilled(
                data: data, file: file, batch: 200, delay: Double.random(in: 0.02...0.8, using: &random), options: ["--index-every", "200"])
            if run.finished {
                // The last run resumed by event id: nothing is stored twice. Start again.
                #expect(try storedIDs(data) == inputIDs)
                try FileManager.default.removeItem(atPath: data)
                continue
            }
            kills += 1
            // The next writer takes the index as it is, or rebuilds it; either way it is right.
            _ = try EventLog(directory: data)
            for (stream, read, scanned) in try streamReadsAndScans(data, streams: 40) {
                #expect(read == scanned, "round \(round): stream \(stream)")
            }
            #expect(try storedIDs(data) == Array(inputIDs.prefix(try storedIDs(data).count)), "round \(round)")
        }
        #expect(kills >= 10, "only \(kills) runs were killed before they finished")
        // The last run resumes by event id: nothing is stored twice.
        #expect(try appendUntilKilled(data: data, file: file, batch: 200, delay: nil).finished)
        #expect(try storedIDs(data) == inputIDs)
        #expect(try LogReader(directory: data).verify().ok)
    }

    /// Each step of an index save where a writer can be killed: the n-th call of a system
    /// call only a save makes (`msync` of the index's pages, `rename` of its state), or the
    /// `fsync` of a level of the tree.
    @Test(
        "a writer killed at each step of an index save leaves a log the next writer opens with an index that is right",
        arguments: [("msync", 1), ("msync", 2), ("msync", 3), ("msync", 4), ("msync", 6), ("fsync", 3), ("rename", 1), ("rename", 2)])
    func killedAtAStepOfAnIndexSave(call: String, occurrence: Int) throws {
        let dir = TemporaryDirectory()
        let data = dir.path + "/data"
        let first = dir.path + "/first.ndjson"
        let more = dir.path + "/more.ndjson"
        let ndjson = WorkloadGenerator.ndjson(count: 6_000, seed: 13)
        let lines = ndjson.split(separator: UInt8(ascii: "\n"))
        writeFile(first, Array(lines.prefix(3_000).joined(separator: [UInt8(ascii: "\n")])) + [UInt8(ascii: "\n")])
        writeFile(more, Array(lines.dropFirst(3_000).joined(separator: [UInt8(ascii: "\n")])) + [UInt8(ascii: "\n")])
        #expect(try HindsightTestSupport.run(hindsightExecutable, ["append", "--data", data, first]).status == 0)
        let killed = try HindsightTestSupport.run(
            "/usr/bin/strace",
            [
                "-f", "-o", "/dev/null", "-e", "trace=\(call)", "-e", "inject=\(call):signal=KILL:when=\(occurrence)", hindsightExecutable,
                "append", "--data", data, "--batch-lines", "500", "--index-every", "500", more,
            ])
        #expect(killed.status != 0, "the writer was not killed at \(call) \(occurrence)")

        // The next writer recovers; retrying the whole load stores nothing twice.
        #expect(try HindsightTestSupport.run(hindsightExecutable, ["append", "--data", data, "--batch-lines", "500", more]).status == 0)
        let inputIDs = String(decoding: ndjson, as: UTF8.self).split(separator: "\n").map { line in
            (try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["id"] as! String
        }
        #expect(try storedIDs(data) == inputIDs)
        let report = try LogReader(directory: data).verify()
        #expect(report.ok && report.notes.isEmpty, "\(report.firstBad?.reason ?? "") \(report.notes)")
        for (stream, read, scanned) in try streamReadsAndScans(data, streams: 60) {
            #expect(read == scanned, "\(call) \(occurrence): stream \(stream)")
        }
        let state = try #require(IndexState(json: Array(try Data(contentsOf: URL(fileURLWithPath: IndexLayout(root: data).statePath)))))
        #expect(state.size == 6_000)
    }

    @Test("a write that fails after part of a large batch is on disk removes that part and stores nothing")
    func writeFailingMidBatch() throws {
        let dir = TemporaryDirectory()
        let data = dir.path + "/data"
        let first = dir.path + "/first.ndjson"
        let large = dir.path + "/large.ndjson"
        writeFile(first, WorkloadGenerator.ndjson(count: 1_000, seed: 3))
        // About 12 MB of NDJSON: several chunks, each written as soon as it is compressed.
        writeFile(large, WorkloadGenerator.ndjson(count: 40_000, seed: 4))
        #expect(try HindsightTestSupport.run(hindsightExecutable, ["append", "--data", data, first]).status == 0)
        let before = try contents(of: data)

        // The file-size limit lets the first chunks of the large batch through, then the
        // kernel refuses the rest (EFBIG; SIGXFSZ ignored, as the shell passes it on).
        let segment = data + "/segments/" + (try FileManager.default.contentsOfDirectory(atPath: data + "/segments").sorted().last!)
        let limitBlocks = (try FileManager.default.attributesOfItem(atPath: segment)[.size] as! Int) / 512 + 4096
        let limited = try HindsightTestSupport.run(
            "/bin/sh",
            ["-c", "trap '' XFSZ; ulimit -f \(limitBlocks); exec \"$0\" append --data \"$1\" \"$2\"", hindsightExecutable, data, large])
        #expect(limited.status != 0)
        #expect(limited.stderr.contains("write"), "the error names the call that failed: \(limited.stderr)")
        // The keys sealed for the batch's invitees stay (they were made durable before the
        // first chunk); they name nobody in clear, and the log holds nothing they open.
        let log = { (files: [String: Data]) in files.filter { !$0.key.hasPrefix("keys/") } }
        #expect(log(try contents(of: data)) == log(before), "the part of the batch already written is gone")

        // The log goes on: the same batch appends in full once there is room.
        #expect(try HindsightTestSupport.run(hindsightExecutable, ["append", "--data", data, large]).status == 0)
        let report = try LogReader(directory: data).verify()
        #expect(report.ok && report.size == 41_000)
    }

    @Test("a reader running beside a writer process sees only whole, verified batches")
    func readerDuringWrites() throws {
        let dir = TemporaryDirectory()
        let data = dir.path + "/data"
        let file = dir.path + "/history.ndjson"
        let batch = 100
        writeFile(file, WorkloadGenerator.ndjson(count: 40_000, seed: 5))
        _ = try EventLog(directory: data)  // create the directory, then let the writer process take it

        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: hindsightExecutable)
        writer.arguments = ["append", "--data", data, "--batch-lines", String(batch), file]
        writer.standardOutput = FileHandle.nullDevice
        try writer.run()
        var sizes: Set<UInt64> = []
        while writer.isRunning {
            let reader = try LogReader(directory: data)
            let report = reader.verify()
            #expect(report.ok, "\(report.firstBad?.reason ?? "")")
            #expect(report.size % UInt64(batch) == 0, "a reader saw part of a batch: \(report.size) events")
            sizes.insert(report.size)
        }
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        #expect(sizes.count > 2, "the reader never ran while the writer appended")
        #expect(try LogReader(directory: data).size == 40_000)
    }
}
