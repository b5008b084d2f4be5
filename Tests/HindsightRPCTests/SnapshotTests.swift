import Foundation
import HindsightCore
import HindsightProjections
import HindsightRPC
import HindsightTestSupport
import Testing

/// The repository's folder of golden dumps.
private let goldenFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Snapshots").path

/// Runs the CLI and insists that it succeeds; its standard output.
private func succeed(_ arguments: [String]) throws -> String {
    let result = try run(hindsightExecutable, arguments)
    #expect(result.status == 0, "hindsight \(arguments.joined(separator: " ")): \(result.stderr)")
    return result.stdout
}

/// A generated history (`hindsight-generate`).
private func generate(_ arguments: [String]) throws -> String {
    let result = try run(generateExecutable, arguments)
    #expect(result.status == 0, "hindsight-generate \(arguments.joined(separator: " ")): \(result.stderr)")
    return result.stdout
}

@Suite("Snapshots of read models", .serialized)
struct SnapshotTests {
    @Test func theReadModelsOfTheSampleHistoryMatchTheirGoldenDumps() throws {
        let dir = try historyDirectory()
        for model in Projections.models() {
            let dump = try succeed(["dump", "--data", dir.path, model.name])
            let golden = try String(contentsOfFile: goldenFolder + "/\(model.name).ndjson", encoding: .utf8)
            #expect(
                dump == golden,
                "read model \(model.name) differs from Snapshots/\(model.name).ndjson; if the change is meant, run Tools/update_snapshots.sh and review the diff"
            )
        }
    }

    /// `snapshot` catches up every model first, so it builds them all in one pass over the log.
    @Test func theReadModelsBuiltTogetherMatchTheirGoldenDumps() throws {
        let dir = try historyDirectory()
        _ = try succeed(["snapshot", "--data", dir.path])
        for model in Projections.models() {
            let dump = try succeed(["dump", "--data", dir.path, model.name])
            let golden = try String(contentsOfFile: goldenFolder + "/\(model.name).ndjson", encoding: .utf8)
            #expect(dump == golden, "read model \(model.name), built with the others, differs from Snapshots/\(model.name).ndjson")
        }
    }

    @Test func aRebuildStartsFromTheNewestSnapshotAndEndsWhereAFoldFromTheStartEnds() throws {
        let dir = try historyDirectory()
        let first = try #require(JSONValue(parsing: Array(try succeed(["snapshot", "--data", dir.path, "audit"]).utf8)))
        #expect(first["position"] == .integer(372))
        #expect(first["treeHead"]?["size"] == .integer(372))
        let more = dir.path + "/more.ndjson"
        writeFile(more, Data(try generate(["--events", "300", "--seed", "9"]).utf8))
        _ = try succeed(["append", "--data", dir.path, more])
        _ = try succeed(["snapshot", "--data", dir.path])
        writeFile(more, Data(try generate(["--events", "100", "--seed", "10"]).utf8))
        _ = try succeed(["append", "--data", dir.path, more])

        let rebuilt = JSONValue(parsing: Array(try succeed(["rebuild", "--data", dir.path, "audit", "--json"]).utf8))
        #expect(rebuilt?["from"] == .integer(672), "the newest snapshot is at seq 672")
        let fromSnapshot = try succeed(["dump", "--data", dir.path, "audit"])

        try FileManager.default.removeItem(atPath: dir.path + "/snapshots")
        let fromStart = JSONValue(parsing: Array(try succeed(["rebuild", "--data", dir.path, "audit", "--json"]).utf8))
        #expect(fromStart?["from"] == .integer(0))
        #expect(try succeed(["dump", "--data", dir.path, "audit"]) == fromSnapshot)
    }

    @Test func aSnapshotOfAnotherHistoryOrADamagedOneIsPassedOver() throws {
        let dir = try historyDirectory()
        let other = TemporaryDirectory()
        let workload = other.path + "/workload.ndjson"
        writeFile(workload, Data(try generate(["--events", "500", "--seed", "3"]).utf8))
        _ = try succeed(["append", "--data", other.path + "/data", workload])
        _ = try succeed(["snapshot", "--data", other.path + "/data"])
        // The other history's snapshot, at seq 500, is beyond this log; at 372 and below, its
        // tree head would not be this log's either: copy it in under this log's length.
        _ = try succeed(["snapshot", "--data", dir.path])
        let ours = dir.path + "/snapshots/audit/"
        let theirs = other.path + "/data/snapshots/audit/"
        var manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: theirs + "00000000000000000500.json")))
            as! [String: Any]
        manifest["position"] = 300
        manifest["treeHead"] = ["size": 300, "root": (manifest["treeHead"] as! [String: Any])["root"]!]
        manifest["file"] = "00000000000000000300.sqlite"
        writeFile(ours + "00000000000000000300.json", try JSONSerialization.data(withJSONObject: manifest))
        try FileManager.default.copyItem(atPath: theirs + "00000000000000000500.sqlite", toPath: ours + "00000000000000000300.sqlite")
        // And this log's own snapshot, damaged.
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: ours + "00000000000000000372.sqlite"))
        try file.seek(toOffset: 5000)
        file.write(Data(repeating: 0xEE, count: 16))
        try file.close()

        let rebuilt = JSONValue(parsing: Array(try succeed(["rebuild", "--data", dir.path, "audit", "--json"]).utf8))
        #expect(rebuilt?["from"] == .integer(0))
        let verified = try run(hindsightExecutable, ["verify", "--projections", "--data", dir.path])
        #expect(verified.status == 2)
        #expect(verified.stdout.contains("FAILED: snapshot audit at seq 300: its tree head is not the log's"), "\(verified.stdout)")
        #expect(verified.stdout.contains("FAILED: snapshot audit at seq 372: its database file"), "\(verified.stdout)")
        #expect(verified.stdout.contains("ok: read model audit at seq 372 matches"), "\(verified.stdout)")
    }

    @Test func verifyingProjectionsFindsAReadModelOrSnapshotThatNoLongerMatchesTheLog() throws {
        let dir = try historyDirectory()
        _ = try succeed(["snapshot", "--data", dir.path])
        let clean = try run(hindsightExecutable, ["verify", "--projections", "--data", dir.path])
        #expect(clean.status == 0)
        #expect(clean.stdout.contains("ok: snapshot audit at seq 372 matches a fresh fold of the log"))
        #expect(clean.stdout.contains("ok: read model audit at seq 372 matches a fresh fold of the log"))

        // Someone edits the read model in use: where the first events' lines are.
        do {
            let db = try SQLiteDatabase(path: dir.path + "/projections/audit.sqlite")
            try db.execute("UPDATE audit_events SET places = X'0102030405' WHERE first_seq = 1")
        }
        let edited = try run(hindsightExecutable, ["verify", "--projections", "--json", "--data", dir.path])
        #expect(edited.status == 2)
        let report = try #require(JSONValue(parsing: Array(edited.stdout.utf8)))
        #expect(report["ok"] == .bool(false))
        guard case .array(let checks)? = report["projections"] else {
            Issue.record("no projections in \(edited.stdout)")
            return
        }
        let failed = checks.filter { $0["ok"] == .bool(false) }
        #expect(failed.count == 1)
        #expect(failed.first?["kind"] == .string("read model"))
        #expect(failed.first?["position"] == .integer(372))

        // Verification only reads: the edited row is still there, the snapshot untouched.
        let dump = try succeed(["dump", "--data", dir.path, "audit"])
        #expect(dump.contains(#"[1,"#) && dump.contains("0102030405"))
    }
}
