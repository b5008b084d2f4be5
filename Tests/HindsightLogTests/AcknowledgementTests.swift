import Foundation
import HindsightCatalog
import HindsightTestSupport
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

/// Runs a shell command line (for `ulimit`, which only a shell sets).
private func shell(_ script: String) throws -> (status: Int32, stdout: String, stderr: String) {
    try run("/bin/bash", ["-c", script])
}

/// What an acknowledgement promises: the batch is durable, HEAD names it so that every reader
/// sees it, and it is in the files of the data directory. A writer that cannot keep the
/// promise says so instead, and never opens a log that broke it.
@Suite("An acknowledged batch is durable, visible and in place", .serialized)
struct AcknowledgementTests {
    /// A log of 20 batches of 1,000 events, as `hindsight append` would make it.
    private func twentyBatches() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        for seed in 1...20 { _ = try log.append(Events.workload(1_000, seed: UInt64(seed))) }
        return dir
    }

    @Test(
        "a writer refuses a log whose segments hold fewer events than HEAD acknowledged, naming the first missing seq, and changes nothing")
    func writerRefusesALogThatLostAcknowledgedEvents() throws {
        let dir = try twentyBatches()
        let segment = try #require(dir.segments.last)
        let bytes = try #require(FileManager.default.contents(atPath: segment))
        writeFile(segment, bytes.prefix(bytes.count - 5_000))

        let report = try LogReader(directory: dir.path).verify()
        let missing = try #require(report.firstBad).seq
        #expect(missing < 20_000)
        let before = try contents(of: dir.path)

        #expect {
            _ = try EventLog(directory: dir.path)
        } throws: { error in
            let error = error as! LogError
            return error.code == .logCorrupt && error.location == "seq \(missing)"
                && error.message.contains("HEAD records 20000 events")
        }
        let cli = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data((Events.event() + "\n").utf8))
        #expect(cli.status == 2, "\(cli.stderr)")
        #expect(cli.stderr.contains("seq \(missing)") && cli.stderr.contains("are missing"), "\(cli.stderr)")
        #expect(try contents(of: dir.path) == before)
        #expect(try LogReader(directory: dir.path).verify().firstBad?.seq == missing)
    }

    @Test("a writer refuses a log whose tree head differs from HEAD's, or whose HEAD cannot be read")
    func writerRefusesAHeadItCannotTrust() throws {
        let dir = try twentyBatches()
        let head = dir.path + "/HEAD"
        let record = String(decoding: try #require(FileManager.default.contents(atPath: head)), as: UTF8.self)
        // Another root at the same size: the history was rewritten.
        let root = String(try #require(record.firstMatch(of: /"root":"([0-9a-f]{64})"/)?.1))
        let other = (root.hasPrefix("0") ? "1" : "0") + root.dropFirst()
        writeFile(head, Array(record.replacingOccurrences(of: root, with: other).utf8))
        #expect {
            _ = try EventLog(directory: dir.path)
        } throws: { error in
            let error = error as! LogError
            return error.code == .logCorrupt && error.message.contains("differs from the one HEAD recorded")
        }
        writeFile(head, Array("{\"size\":".utf8))
        #expect {
            _ = try EventLog(directory: dir.path)
        } throws: { error in
            let error = error as! LogError
            return error.code == .logCorrupt && error.message.contains("not a tree head record")
        }
        writeFile(head, Array(record.utf8))
        _ = try EventLog(directory: dir.path)
    }

    @Test("batches written whole after HEAD (a writer stopped before naming them) are kept and acknowledged by the next writer")
    func batchesBeyondHeadAreKept() throws {
        let dir = try twentyBatches()
        writeFile(dir.path + "/HEAD", Array(HeadRecord(size: 0, root: .emptyRoot).json.utf8))
        #expect(try LogReader(directory: dir.path).size == 0)
        #expect(try EventLog(directory: dir.path).size == 20_000)
        #expect(try LogReader(directory: dir.path).size == 20_000)
    }

    @Test(
        "a batch whose HEAD cannot be written is not acknowledged; the writer takes nothing new until HEAD is written, then acknowledges a retry once"
    )
    func failedHeadWriteIsNotAnAcknowledgement() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        _ = try log.append(try Events.batch([Events.event(id: Events.uuid(1))]))
        // HEAD is replaced through HEAD.tmp; a directory in its place makes that fail.
        try FileManager.default.createDirectory(atPath: dir.path + "/HEAD.tmp", withIntermediateDirectories: false)
        let batch = try Events.batch([Events.event(stream: "build/b_2", id: Events.uuid(2))])
        #expect(throws: LogError.self) { _ = try log.append(batch) }
        #expect(log.size == 1)
        #expect(!log.isSettled)
        #expect(try LogReader(directory: dir.path).size == 1)

        // Stalled: a new batch is refused before anything of it is written.
        let segmentBytes = try FileManager.default.attributesOfItem(atPath: dir.segments[0])[.size] as? Int
        #expect {
            _ = try log.append(try Events.batch([Events.event(stream: "build/b_3", id: Events.uuid(3))]))
        } throws: { error in
            (error as! LogError).message.contains("HEAD could not be written")
        }
        #expect(try FileManager.default.attributesOfItem(atPath: dir.segments[0])[.size] as? Int == segmentBytes)

        // Once HEAD can be written, the batch sent again is acknowledged where it was stored.
        try FileManager.default.removeItem(atPath: dir.path + "/HEAD.tmp")
        let retry = try log.append(batch)
        #expect(retry.isRetry && retry.lastSeq == 2)
        #expect(log.isSettled)
        #expect(try LogReader(directory: dir.path).size == 2)
        #expect(try log.append(try Events.batch([Events.event(stream: "build/b_3", id: Events.uuid(3))])).lastSeq == 3)
        #expect(try LogReader(directory: dir.path).verify().ok)
    }

    @Test("a writer whose data directory was deleted, or replaced by another, acknowledges nothing more")
    func deletedOrReplacedDirectoryIsNoticed() throws {
        let root = TemporaryDirectory()
        for replaced in [false, true] {
            let path = root.path + "/data-\(replaced)"
            // A segment a batch: each append starts a new one.
            var options = LogOptions()
            options.segmentBytes = 1
            let log = try EventLog(directory: path, options: options)
            _ = try log.append(try Events.batch([Events.event()]))
            try FileManager.default.removeItem(atPath: path)
            var theirs: [String: Data] = [:]
            if replaced {
                // Another writer's directory now stands where this one was.
                _ = try EventLog(directory: path).append(try Events.batch([Events.event(stream: "build/b_9")]))
                theirs = try contents(of: path)
            }
            #expect(throws: LogError.self, "replaced: \(replaced)") {
                _ = try log.append(try Events.batch([Events.event(stream: "build/b_2")]))
            }
            #expect(throws: LogError.self, "replaced: \(replaced)") {
                _ = try log.append(try Events.batch([Events.event(stream: "build/b_3")]))
            }
            // Nothing of this writer's reaches the directory that took its place.
            if replaced { #expect(try contents(of: path) == theirs) }
        }
    }

    @Test("a file-size limit (ulimit -f) is a clean refusal of the batch, not a signal that ends append or serve")
    func fileSizeLimitIsAnIOError() throws {
        let dir = TemporaryDirectory()
        let data = dir.path + "/data"
        let file = dir.path + "/events.ndjson"
        _ = try run(hindsightExecutable, ["append", "--data", data], stdin: Data((Events.event() + "\n").utf8))
        // The log's files: keys of people in the refused batch may be kept (they are made
        // durable before any event sealed with them), but no event is.
        let log = { try contents(of: data).filter { !$0.key.hasPrefix("keys") } }
        let before = try log()
        // 300 KB of events against a limit of 8 KiB.
        _ = try shell("'\(generateExecutable)' --events 1000 > '\(file)'")
        let append = try shell("ulimit -f 16; '\(hindsightExecutable)' append --data '\(data)' '\(file)'")
        #expect(append.status == 1, "\(append.status) \(append.stderr)")
        #expect(append.stderr.contains("File too large"), "\(append.stderr)")
        #expect(try log() == before)

        let events = String(decoding: try #require(FileManager.default.contents(atPath: file)), as: UTF8.self).split(separator: "\n")
        let request = #"{"jsonrpc":"2.0","id":1,"method":"log.append","params":{"events":["# + events.joined(separator: ",") + "]}}"
        let requests = dir.path + "/requests.ndjson"
        writeFile(requests, Array((request + "\n" + #"{"jsonrpc":"2.0","id":2,"method":"log.stats"}"# + "\n").utf8))
        let serve = try shell("ulimit -f 16; '\(hindsightExecutable)' serve --data '\(data)' < '\(requests)'")
        #expect(serve.status == 0, "\(serve.status) \(serve.stderr)")
        let lines = serve.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.contains(#""error""#) == true && lines.first?.contains("File too large") == true, "\(serve.stdout)")
        #expect(lines.last?.contains(#""events":1"#) == true, "\(serve.stdout)")
        #expect(try LogReader(directory: data).verify().ok)
    }
}
