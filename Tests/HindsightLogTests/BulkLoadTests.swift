import Foundation
import HindsightTestSupport
import Testing

@testable import HindsightLog

/// `hindsight append --batch-lines N` reads, validates and appends a batch of N lines before it
/// reads the next, so a load larger than memory goes through in memory bounded by a batch.
@Suite("Bulk loads, a batch at a time")
struct BulkLoadTests {
    /// A generated history of `count` events, as NDJSON lines.
    private func history(_ count: Int) throws -> [Substring] {
        try run(generateExecutable, ["--events", String(count), "--seed", "5"]).stdout.split(separator: "\n")
    }

    private func stored(_ directory: String) throws -> UInt64 { try LogReader(directory: directory).size }

    @Test func aBadLineStopsTheLoadAtItsBatchNamingItsLineInTheWholeFileAndARerunResumes() throws {
        let dir = TemporaryDirectory()
        var lines = try history(1000).map(String.init)
        let good = lines[717]
        lines[717] = #"{"id":"x"}"#
        let file = dir.path + "/load.ndjson"
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try run(hindsightExecutable, ["append", "--data", dir.path + "/data", "--batch-lines", "300", file])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("line 718"), "\(refused.stderr)")
        // The two batches before the bad line's are durable, and said so; nothing of its own.
        #expect(refused.stdout.split(separator: "\n").count == 2, "\(refused.stdout)")
        #expect(try stored(dir.path + "/data") == 600)

        lines[717] = good
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let resumed = try run(hindsightExecutable, ["append", "--data", dir.path + "/data", "--batch-lines", "300", file])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let results = try resumed.stdout.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(results.count == 4)
        #expect(results.prefix(2).allSatisfy { $0["retry"] as? Bool == true }, "\(resumed.stdout)")
        #expect(results[3]["lastSeq"] as? Int == 1000)
        #expect(try stored(dir.path + "/data") == 1000)
    }

    @Test func standardInputIsLoadedInBatchesAsAFileIs() throws {
        let dir = TemporaryDirectory()
        let lines = try history(250)
        // No final newline: the last line still counts.
        let loaded = try run(
            hindsightExecutable, ["append", "--data", dir.path, "--batch-lines", "100"], stdin: Data(lines.joined(separator: "\n").utf8))
        #expect(loaded.status == 0, "\(loaded.stderr)")
        #expect(loaded.stdout.split(separator: "\n").count == 3)
        #expect(try stored(dir.path) == 250)
    }

    @Test func aLineThatNeverEndsIsRefusedOnceItPassesTheLimitNotReadWhole() throws {
        let dir = TemporaryDirectory()
        let lines = try history(10)
        let endless = Data((lines.joined(separator: "\n") + "\n" + #"{"id":""# + String(repeating: "a", count: 3 << 20)).utf8)
        let refused = try run(hindsightExecutable, ["append", "--data", dir.path, "--batch-lines", "5"], stdin: endless)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("line 11") && refused.stderr.contains("limit"), "\(refused.stderr)")
        #expect(try stored(dir.path) == 10)
    }
}
