import Foundation
import HindsightTestSupport
import Testing

/// `hindsight tiles --out DIR` writes the tree as C2SP tlog-tiles: read back by a client that
/// knows only the specification (Tools/check_tiles.py), they give the log's tree head.
@Suite("Tiles for a tile client")
struct TileExportTests {
    @Test func aTileClientReadsTheTreeHeadTheLogRecords() throws {
        let scratch = TemporaryDirectory()
        let data = scratch.path + "/data"
        let history = scratch.path + "/history.ndjson"
        try run(generateExecutable, ["--events", "70000", "--seed", "6"]).stdout.write(toFile: history, atomically: true, encoding: .utf8)
        #expect(try run(hindsightExecutable, ["append", "--data", data, "--batch-lines", "30000", history]).status == 0)
        #expect(try run(hindsightExecutable, ["keys", "init", "--name", "example.com/log", "--key", scratch.path + "/k"]).status == 0)

        let out = scratch.path + "/tiles"
        let exported = try run(hindsightExecutable, ["tiles", "--data", data, "--out", out, "--key", scratch.path + "/k"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(exported.stdout.utf8)) as! [String: Any]
        #expect(report["treeSize"] as? Int == 70_000)
        #expect(report["tiles"] as? Int == 274 + 2 + 1)
        #expect(FileManager.default.fileExists(atPath: out + "/tile/0/273.p/112"))
        #expect(FileManager.default.fileExists(atPath: out + "/tile/2/000.p/1"))

        let stored = scratch.path + "/stored.ndjson"
        #expect(try run("/bin/sh", ["-c", "cat \"$0\"/segments/*.lz4 | lz4 -dc > \"$1\"", data, stored]).status == 0)
        let client = try run(
            "/usr/bin/env", ["python3", repository.appendingPathComponent("Tools/check_tiles.py").path, out, "70000", stored])
        #expect(client.status == 0, "\(client.stderr)")
        let verified = try run(hindsightExecutable, ["verify", "--data", data, "--json"])
        let head = (try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as! [String: Any])["head"] as! [String: Any]
        #expect(client.stdout == "70000 \(head["hash"] as! String)\n")
        let checkpoint = try String(contentsOfFile: out + "/checkpoint", encoding: .utf8)
        #expect(checkpoint.hasPrefix("example.com/log\n70000\n"))

        // Never into the data directory, never over an existing directory.
        #expect(try run(hindsightExecutable, ["tiles", "--data", data, "--out", data + "/tiles"]).status != 0)
        #expect(try run(hindsightExecutable, ["tiles", "--data", data, "--out", out]).status != 0)
    }
}
