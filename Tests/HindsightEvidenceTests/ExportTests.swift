import Foundation
import HindsightTestSupport
import Testing

/// The repository's root, for the sample history and the Python verifier.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let sampleHistory = repository.appendingPathComponent("EventSchemas/examples/history.ndjson").path
let pythonVerifier = repository.appendingPathComponent("Tools/verify_export.py").path

/// A data directory holding the sample history, and a signing key beside it.
final class Evidence {
    let scratch = TemporaryDirectory()
    var data: String { scratch.path + "/data" }
    var key: String { scratch.path + "/keys/signing.key" }
    private(set) var publicKey = ""

    init(history: String = sampleHistory, keyName: String = "example.com/audit") throws {
        #expect(try cli("append", history).status == 0)
        let created = try cli("keys", "init", "--name", keyName)
        #expect(created.status == 0, "\(created.stderr)")
        publicKey = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs the CLI on this directory (and key, for the commands that sign).
    @discardableResult
    func cli(_ arguments: String..., stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        var full = Array(arguments)
        if ["append", "checkpoint", "erase", "stats"].contains(arguments[0]) || arguments.starts(with: ["keys", "init"]) {
            full += ["--data", data]
        }
        if ["checkpoint", "keys"].contains(arguments[0]) { full += ["--key", key] }
        return try run(hindsightExecutable, full, stdin: stdin.map { Data($0.utf8) })
    }

    /// Exports into a new directory; returns its path.
    func export(_ options: String...) throws -> String {
        let out = scratch.path + "/bundle-\(UUID().uuidString)"
        let result = try run(hindsightExecutable, ["export", "audit", "--data", data, "--key", key, "--out", out] + options)
        #expect(result.status == 0, "\(result.stderr)\(result.stdout)")
        return out
    }

    /// Both verifiers' verdicts on a bundle: (exit status, stdout) of `hindsight verify-export`
    /// and of Tools/verify_export.py.
    func verdicts(_ bundle: String, olderCheckpoint: String? = nil) throws -> [(verifier: String, status: Int32, output: String)] {
        let older = olderCheckpoint.map { ["--older-checkpoint", $0] } ?? []
        let swift = try run(hindsightExecutable, ["verify-export", bundle, "--key", publicKey] + older)
        let python = try run("/usr/bin/env", ["python3", pythonVerifier, bundle, "--key", publicKey] + older)
        return [
            ("hindsight verify-export", swift.status, swift.stdout + swift.stderr),
            ("verify_export.py", python.status, python.stdout + python.stderr),
        ]
    }
}

/// A file's lines, split at "\n" alone (a CSV row keeps its "\r").
private func lines(of path: String) -> [String] {
    (FileManager.default.contents(atPath: path) ?? Data()).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        .dropLast().map { String(decoding: $0, as: UTF8.self) }
}

private func write(_ lines: [String], to path: String) {
    writeFile(path, Data((lines.joined(separator: "\n") + "\n").utf8))
}

private func manifest(_ bundle: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/manifest.json"))) as! [String: Any]
}

@Suite("Signing keys and checkpoints")
struct SigningKeyTests {
    @Test func aKeyIsCreatedForItsOwnerAloneOutsideTheDataDirectoryAndNeverOverwritten() throws {
        let evidence = try Evidence()
        let attributes = try FileManager.default.attributesOfItem(atPath: evidence.key)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try evidence.cli("keys", "public").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == evidence.publicKey)
        #expect(evidence.publicKey.hasPrefix("example.com/audit+"))

        let before = FileManager.default.contents(atPath: evidence.key)
        let again = try evidence.cli("keys", "init")
        #expect(again.status != 0 && again.stderr.contains("a signing key exists here already"))
        #expect(FileManager.default.contents(atPath: evidence.key) == before)

        let inside = try run(hindsightExecutable, ["keys", "init", "--data", evidence.data, "--key", evidence.data + "/signing.key"])
        #expect(inside.status != 0 && inside.stderr.contains("outside the data directory"))
        #expect(!FileManager.default.fileExists(atPath: evidence.data + "/signing.key"))
        // Nor through a symbolic link into it, nor in a folder still to be made there.
        try FileManager.default.createSymbolicLink(atPath: evidence.scratch.path + "/linked", withDestinationPath: evidence.data)
        let dataBefore = try contents(of: evidence.data)
        for key in [evidence.scratch.path + "/linked/signing.key", evidence.scratch.path + "/linked/new/folder/signing.key"] {
            let linked = try run(hindsightExecutable, ["keys", "init", "--data", evidence.data, "--key", key])
            #expect(linked.status != 0 && linked.stderr.contains("outside the data directory"), "\(key): \(linked.stderr)")
        }
        #expect(try contents(of: evidence.data) == dataBefore)
        #expect(!FileManager.default.fileExists(atPath: evidence.data + "/new"))

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: evidence.key)
        let exposed = try evidence.cli("checkpoint")
        #expect(exposed.status != 0 && exposed.stderr.contains("readable by others"))
    }

    @Test func aCheckpointSignsTheLogsTreeHeadAsASignedNote() throws {
        let evidence = try Evidence()
        let note = try evidence.cli("checkpoint")
        #expect(note.status == 0, "\(note.stderr)")
        let lines = note.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "example.com/audit")
        #expect(lines[1] == "372")
        let stats = try evidence.cli("stats", "--json")
        let root = try #require(stats.stdout.firstMatch(of: /"hash":"([0-9a-f]{64})"/)?.1)
        #expect(Data(base64Encoded: lines[2]).map { $0.map { String(format: "%02x", $0) }.joined() } == String(root))
        #expect(lines[3] == "" && lines[4].hasPrefix("\u{2014} example.com/audit "))
        // Kept in the data directory, under its size.
        let kept = try FileManager.default.contentsOfDirectory(atPath: evidence.data + "/checkpoints")
        #expect(kept == [String(format: "%020d", 372) + ".checkpoint"])
    }
}

@Suite("Audit exports that anyone can verify offline")
struct ExportTests {
    @Test(arguments: ["jsonl", "csv"])
    func anExportOfTheWholeLogVerifiesWithBothVerifiers(format: String) throws {
        let evidence = try Evidence()
        let bundle = try evidence.export("--format", format)
        let manifest = try manifest(bundle)
        #expect(manifest["count"] as? Int == 372 && manifest["complete"] as? Bool == true)
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: bundle))
                == ["events.ndjson", "events.\(format)", "proof.json", "checkpoint", "manifest.json", "manifest.sig"])
        // The stored lines are the log's own, byte for byte.
        let read = try run(hindsightExecutable, ["read", "--data", evidence.data])
        #expect(lines(of: bundle + "/events.ndjson").count == 372)
        #expect(read.stdout.contains(lines(of: bundle + "/events.ndjson")[41]))
        // Readers see the invited e-mails; the stored lines hold them sealed.
        let rendering = String(decoding: FileManager.default.contents(atPath: bundle + "/events.\(format)")!, as: UTF8.self)
        #expect(rendering.contains("bob@acme.example"))
        #expect(
            !String(decoding: FileManager.default.contents(atPath: bundle + "/events.ndjson")!, as: UTF8.self).contains("bob@acme.example"))
        for verdict in try evidence.verdicts(bundle) {
            #expect(verdict.status == 0, "\(verdict.verifier): \(verdict.output)")
            #expect(verdict.output.contains(#""count":372"#) || verdict.output.contains(#""count": 372"#), "\(verdict.verifier)")
        }
    }

    @Test func aFilteredExportStatesItsFilterAndHoldsOnlyWhatItSelects() throws {
        let evidence = try Evidence()
        let bundle = try evidence.export(
            "--from", "2026-03-02T00:00:00.000Z", "--to", "2026-03-04T00:00:00.000Z", "--types", "role.granted,member.invited", "--format",
            "csv")
        let manifest = try manifest(bundle)
        #expect(manifest["complete"] as? Bool == false)
        let query = try #require(manifest["query"] as? [String: Any])
        #expect(
            query["types"] as? [String] == ["role.granted", "member.invited"] && query["from"] as? String == "2026-03-02T00:00:00.000Z")
        let exported = lines(of: bundle + "/events.ndjson")
        #expect(
            !exported.isEmpty && exported.allSatisfy { $0.contains(#""type":"role.granted""#) || $0.contains(#""type":"member.invited""#) })
        #expect(manifest["count"] as? Int == exported.count)
        for verdict in try evidence.verdicts(bundle) { #expect(verdict.status == 0, "\(verdict.verifier): \(verdict.output)") }

        // A line outside the filter, even one from the log, is found.
        let other = try #require(
            lines(of: evidence.export("--format", "jsonl") + "/events.ndjson").first { $0.contains(#""type":"team.created""#) })
        let seq = { (line: String) in Int(line.firstMatch(of: /"seq":(\d+)/)!.1)! }
        var tampered = exported
        tampered.insert(other, at: tampered.firstIndex { seq($0) > seq(other) } ?? tampered.count)
        write(tampered, to: bundle + "/events.ndjson")
        for verdict in try evidence.verdicts(bundle) {
            #expect(
                verdict.status == 2 && verdict.output.contains("outside the export's filter types"),
                "\(verdict.verifier): \(verdict.output)")
        }
    }

    /// One damage done to a good bundle, and the words both verifiers must name it with.
    struct Damage: CustomTestStringConvertible, Sendable {
        let name: String
        let file: String
        let message: String
        let apply: @Sendable (_ bundle: String, _ evidence: EvidenceAccess) throws -> Void
        var testDescription: String { name }
    }

    /// What a damage may use besides the bundle: another key, an older checkpoint.
    struct EvidenceAccess {
        let data: String
        let scratch: String
    }

    static let damages: [Damage] = [
        Damage(name: "a removed row", file: "events.ndjson", message: "where seq 110 was expected: event 110 is missing") { bundle, _ in
            var rows = lines(of: bundle + "/events.ndjson")
            rows.remove(at: 9)
            write(rows, to: bundle + "/events.ndjson")
        },
        Damage(name: "an added row", file: "events.ndjson", message: "line 11 repeats seq 110") { bundle, _ in
            var rows = lines(of: bundle + "/events.ndjson")
            rows.insert(rows[9], at: 10)
            write(rows, to: bundle + "/events.ndjson")
        },
        Damage(name: "an edited byte", file: "events.ndjson", message: "do not hash to the checkpoint's root") { bundle, _ in
            var rows = lines(of: bundle + "/events.ndjson")
            rows[20] = rows[20].replacingOccurrences(of: #""recordedAt":"2"#, with: #""recordedAt":"1"#)
            write(rows, to: bundle + "/events.ndjson")
        },
        Damage(
            name: "an edited byte in the readable rendering", file: "events.csv",
            message: "row 21 (seq 121): its recordedAt is not the stored event's"
        ) { bundle, _ in
            var rows = lines(of: bundle + "/events.csv")
            rows[21] = rows[21].replacingOccurrences(of: ",2026-", with: ",1026-")
            write(rows, to: bundle + "/events.csv")
        },
        Damage(name: "swapped rows", file: "events.ndjson", message: "rows are out of order (seq 105 is on line 6)") { bundle, _ in
            var rows = lines(of: bundle + "/events.ndjson")
            rows.swapAt(4, 5)
            write(rows, to: bundle + "/events.ndjson")
        },
        Damage(name: "a deleted file", file: "proof.json", message: "missing from the bundle") { bundle, _ in
            try FileManager.default.removeItem(atPath: bundle + "/proof.json")
        },
        Damage(name: "a truncated proof", file: "proof.json", message: "truncated or padded") { bundle, _ in
            var proof =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/proof.json"))) as! [String: Any]
            proof["inclusion"] = Array((proof["inclusion"] as! [String]).dropLast())
            try JSONSerialization.data(withJSONObject: proof).write(to: URL(fileURLWithPath: bundle + "/proof.json"))
        },
        Damage(name: "a checkpoint signed by another key", file: "checkpoint", message: "not signed by the key example.com/audit") {
            bundle, evidence in
            let other = evidence.scratch + "/other.key"
            #expect(try run(hindsightExecutable, ["keys", "init", "--name", "someone.else", "--key", other]).status == 0)
            let note = try run(hindsightExecutable, ["checkpoint", "--data", evidence.data, "--key", other])
            writeFile(bundle + "/checkpoint", Data(note.stdout.utf8))
        },
        Damage(name: "a checkpoint of a shorter log", file: "checkpoint", message: "it is the tree head of 372 events") {
            bundle, evidence in
            let kept = evidence.data + "/checkpoints/" + String(format: "%020d", 372) + ".checkpoint"
            try FileManager.default.removeItem(atPath: bundle + "/checkpoint")
            try FileManager.default.copyItem(atPath: kept, toPath: bundle + "/checkpoint")
        },
        Damage(
            name: "a manifest count off by one", file: "manifest.json",
            message: "it says the bundle holds 102 events; events.ndjson holds 101"
        ) { bundle, _ in
            let text = String(decoding: FileManager.default.contents(atPath: bundle + "/manifest.json")!, as: UTF8.self)
            writeFile(bundle + "/manifest.json", Data(text.replacingOccurrences(of: #""count" : 101"#, with: #""count" : 102"#).utf8))
        },
        Damage(name: "a manifest edited anywhere else", file: "manifest.json", message: "not the manifest the key signed") { bundle, _ in
            let text = String(decoding: FileManager.default.contents(atPath: bundle + "/manifest.json")!, as: UTF8.self)
            writeFile(bundle + "/manifest.json", Data(text.replacingOccurrences(of: #""createdAt" : "2"#, with: #""createdAt" : "1"#).utf8))
        },
    ]

    @Test(arguments: damages)
    func bothVerifiersNameTheFirstProblemOfADamagedBundle(damage: Damage) throws {
        let evidence = try Evidence()
        // A checkpoint of the log at 372 events, then more events: the bundle anchors to 472.
        #expect(try evidence.cli("checkpoint").status == 0)
        #expect(try evidence.cli("append", stdin: moreEvents(100)).status == 0)
        let bundle = try evidence.export("--from", "101", "--to", "201", "--format", "csv")
        for verdict in try evidence.verdicts(bundle) {
            #expect(verdict.status == 0, "before the damage, \(verdict.verifier): \(verdict.output)")
        }
        try damage.apply(bundle, EvidenceAccess(data: evidence.data, scratch: evidence.scratch.path))
        for verdict in try evidence.verdicts(bundle) {
            #expect(verdict.status == 2, "\(verdict.verifier) let \(damage.name) pass")
            #expect(
                verdict.output.contains(#""file":"\#(damage.file)""#) || verdict.output.contains(#""file": "\#(damage.file)""#),
                "\(verdict.verifier) on \(damage.name): \(verdict.output)")
            #expect(verdict.output.contains(damage.message), "\(verdict.verifier) on \(damage.name): \(verdict.output)")
        }
    }

    @Test func aBundleProvesThatItsLogExtendsAnOlderCheckpointUnchanged() throws {
        let evidence = try Evidence()
        let older = evidence.scratch.path + "/older.checkpoint"
        writeFile(older, Data(try evidence.cli("checkpoint").stdout.utf8))
        #expect(try evidence.cli("append", stdin: moreEvents(50)).status == 0)
        let bundle = try evidence.export("--format", "jsonl")
        for verdict in try evidence.verdicts(bundle, olderCheckpoint: older) {
            #expect(verdict.status == 0, "\(verdict.verifier): \(verdict.output)")
            #expect(
                verdict.output.contains(#""extends":372"#) || verdict.output.contains(#""extends": 372"#),
                "\(verdict.verifier): \(verdict.output)")
        }

        // The same key's checkpoint of a log with another history: the bundle's log does not extend it.
        let rewritten = TemporaryDirectory()
        #expect(try run(hindsightExecutable, ["append", "--data", rewritten.path], stdin: Data(moreEvents(372).utf8)).status == 0)
        let foreign = evidence.scratch.path + "/foreign.checkpoint"
        writeFile(foreign, Data(try run(hindsightExecutable, ["checkpoint", "--data", rewritten.path, "--key", evidence.key]).stdout.utf8))
        for verdict in try evidence.verdicts(bundle, olderCheckpoint: foreign) {
            #expect(
                verdict.status == 2 && verdict.output.contains("does not extend the older checkpoint of 372 events"),
                "\(verdict.verifier): \(verdict.output)")
        }
    }

    @Test(arguments: ["jsonl", "csv"])
    func afterAnErasureTheBundleShowsOnlyTheMarkerAndStillVerifies(format: String) throws {
        let evidence = try Evidence()
        #expect(try evidence.cli("erase", "bob@acme.example").status == 0)
        let bundle = try evidence.export("--format", format)
        let everything = try FileManager.default.contentsOfDirectory(atPath: bundle)
            .map { String(decoding: FileManager.default.contents(atPath: bundle + "/" + $0)!, as: UTF8.self) }.joined()
        #expect(!everything.contains("bob@acme.example"))
        #expect(everything.contains("[erased]"))
        #expect(everything.contains("carol@acme.example"))
        for verdict in try evidence.verdicts(bundle) { #expect(verdict.status == 0, "\(verdict.verifier): \(verdict.output)") }
    }

    @Test func aMillionGeneratedEventsGoThroughExportAndBothVerifiersAfterAnErasure() throws {
        let scratch = TemporaryDirectory()
        let workload = try run(generateExecutable, ["--events", "1000000", "--seed", "11"]).stdout
        writeFile(scratch.path + "/workload.ndjson", Data(workload.utf8))
        let email = String(try #require(workload.firstMatch(of: /"email":"([^"]+)"/)?.1))
        let evidence = try Evidence(history: scratch.path + "/workload.ndjson", keyName: "bench")
        #expect(try evidence.cli("erase", email).status == 0)
        let bundle = try evidence.export("--format", "jsonl")
        #expect(try manifest(bundle)["count"] as? Int == 1_000_001)
        let rendering = String(decoding: FileManager.default.contents(atPath: bundle + "/events.jsonl")!, as: UTF8.self)
        #expect(!rendering.contains(email) && rendering.contains("[erased]"))
        for verdict in try evidence.verdicts(bundle) {
            #expect(verdict.status == 0 && verdict.output.contains("1000001"), "\(verdict.verifier): \(verdict.output)")
        }
    }

    @Test func anExportOfADamagedLogFailsAndLeavesNothingBehind() throws {
        let evidence = try Evidence()
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: evidence.data + "/segments").sorted().first)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: evidence.data + "/segments/" + segment))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: evidence.data + "/segments/" + segment))
        let out = evidence.scratch.path + "/damaged"
        let result = try run(hindsightExecutable, ["export", "audit", "--data", evidence.data, "--key", evidence.key, "--out", out])
        #expect(result.status != 0, "\(result.stdout)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: evidence.scratch.path).filter { $0.hasPrefix(".damaged.partial") }.isEmpty)
    }

    @Test func badRequestsAreRefusedWithoutWritingAnything() throws {
        let evidence = try Evidence()
        let before = try contents(of: evidence.data)
        let existing = evidence.scratch.path + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        let cases: [([String], String)] = [
            (["--out", existing], "exists already"),
            (["--out", existing + "/new", "--format", "xml"], "format must be jsonl or csv"),
            (["--out", existing + "/new", "--from", "300", "--to", "200"], "from must not be after to"),
            (["--out", existing + "/new", "--from", "300", "--to", "999"], "select no events"),
            (["--out", existing + "/new", "--from", "yesterday"], "--from takes a seq or an RFC 3339 time"),
        ]
        for (options, message) in cases {
            let result = try run(hindsightExecutable, ["export", "audit", "--data", evidence.data, "--key", evidence.key] + options)
            #expect(result.status != 0 && result.stderr.contains(message), "\(options): \(result.stderr)")
        }
        let keyless = try run(
            hindsightExecutable,
            ["export", "audit", "--data", evidence.data, "--key", evidence.scratch.path + "/none.key", "--out", existing + "/new"])
        #expect(keyless.status != 0 && keyless.stderr.contains("hindsight keys init"))
        #expect(try contents(of: evidence.data) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing).isEmpty)
    }
}

/// `count` more events of the platform (deployments of one function).
private func moreEvents(_ count: Int) -> String {
    (1...count).map { index in
        #"{"type":"function.deployed","stream":"function/fn_extra","occurredAt":"2026-03-10T10:00:00.000Z","actor":{"kind":"user","id":"usr_alice"},"org":"org_acme","data":{"function":"fn_extra","project":"prj_storefront","runtime":"node","version":"v\#(index)","memoryMb":128,"timeoutMs":3000}}"#
    }.joined(separator: "\n") + "\n"
}

/// Every file and folder under `path` with its permission bits.
private func modes(under path: String) throws -> [String: Int] {
    var modes: [String: Int] = [:]
    for name in try FileManager.default.subpathsOfDirectory(atPath: path) + [""] {
        modes[name] = try FileManager.default.attributesOfItem(atPath: path + "/" + name)[.posixPermissions] as? Int
    }
    return modes
}

@Suite("Where exports are written")
struct ExportDestinationTests {
    /// One request through `hindsight query` with these extra options.
    private func query(_ evidence: Evidence, _ method: String, _ params: String, _ options: [String] = []) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        try run(hindsightExecutable, ["query", "--data", evidence.data, "--key", evidence.key, method, "--params", params] + options)
    }

    @Test(
        "a request may not write an export inside the data directory, outside --exports, through a symlink or with ..; nothing is written")
    func refusedDestinations() throws {
        let evidence = try Evidence()
        let exports = evidence.scratch.path + "/exports"
        try FileManager.default.createDirectory(atPath: exports, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: exports + "/into-data", withDestinationPath: evidence.data)
        try FileManager.default.createSymbolicLink(atPath: exports + "/elsewhere", withDestinationPath: evidence.scratch.path)
        let before = try contents(of: evidence.data)
        let scratchBefore = try FileManager.default.contentsOfDirectory(atPath: evidence.scratch.path).sorted()
        let cases: [(path: String, options: [String], message: String)] = [
            (evidence.data + "/HEAD.tmp", [], "exports are not enabled"),
            (exports + "/fine", [], "exports are not enabled"),
            (evidence.data + "/HEAD.tmp", ["--exports", exports], "outside"),
            (evidence.data + "/segments/0000000002.lz4", ["--exports", exports], "outside"),
            (evidence.data + "/keys/people.keys.partial", ["--exports", exports], "outside"),
            ("into-data/HEAD.tmp", ["--exports", exports], "symbolic link"),
            (exports + "/into-data/segments/x", ["--exports", exports], "symbolic link"),
            ("elsewhere/x", ["--exports", exports], "symbolic link"),
            ("../data/HEAD.tmp", ["--exports", exports], "`..`"),
            ("missing/x", ["--exports", exports], "does not exist"),
            ("", ["--exports", exports], "name a new directory"),
            // The system calls would stop at the NUL: "." and ".git" name what exists.
            ("\u{0}", ["--exports", exports], "NUL"),
            ("git\u{0}x", ["--exports", exports], "NUL"),
            (String(repeating: "n", count: 201), ["--exports", exports], "longer than 200 bytes"),
            // The exports directory holding the data directory: the data directory is still out of bounds.
            ("data/HEAD.tmp", ["--exports", evidence.scratch.path], "inside the data directory"),
            ("data", ["--exports", evidence.scratch.path], "exists already"),
        ]
        for (path, options, message) in cases {
            for method in ["export.audit", "export.accessReview"] {
                let params =
                    method == "export.audit"
                    ? #"{"format":"jsonl","path":\#(jsonString(path))}"# : #"{"org":"org_acme","format":"csv","path":\#(jsonString(path))}"#
                let result = try query(evidence, method, params, options)
                #expect(result.status == 1, "\(method) \(path)")
                #expect(
                    result.stderr.contains(#""kind":"path_refused""#) && result.stderr.contains(#""path":"/params/path""#),
                    "\(method) \(path): \(result.stderr)")
                #expect(result.stderr.contains(message), "\(method) \(path): \(result.stderr)")
            }
        }
        #expect(try contents(of: evidence.data) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: exports).sorted() == ["elsewhere", "into-data"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: evidence.scratch.path).sorted() == scratchBefore)

        // An exports directory inside the data directory is refused when the process starts.
        let inside = try run(
            hindsightExecutable, ["serve", "--data", evidence.data, "--exports", evidence.data + "/segments"], stdin: Data())
        #expect(inside.status == 1 && inside.stderr.contains("inside the data directory"), "\(inside.stderr)")
        // The command line writes where its user says, but never inside the data directory.
        for out in [evidence.data + "/HEAD.tmp", exports + "/into-data/x"] {
            let result = try run(hindsightExecutable, ["export", "audit", "--data", evidence.data, "--key", evidence.key, "--out", out])
            #expect(result.status == 1 && result.stderr.contains("inside the data directory"), "\(out): \(result.stderr)")
        }
        #expect(try contents(of: evidence.data) == before)
    }

    @Test("serve writes an export beneath --exports, named relative to it or by its full path, readable by its owner only")
    func serveWritesBeneathItsExportsDirectory() throws {
        let evidence = try Evidence()
        let exports = evidence.scratch.path + "/exports"
        try FileManager.default.createDirectory(atPath: exports + "/q4", withIntermediateDirectories: true)
        let requests = [
            #"{"jsonrpc":"2.0","id":1,"method":"export.audit","params":{"format":"jsonl","path":"x"}}"#,
            #"{"jsonrpc":"2.0","id":2,"method":"export.audit","params":{"format":"csv","path":"\#(exports)/q4/audit"}}"#,
            #"{"jsonrpc":"2.0","id":3,"method":"export.accessReview","params":{"org":"org_acme","format":"jsonl","path":"q4/review"}}"#,
            #"{"jsonrpc":"2.0","id":4,"method":"export.audit","params":{"format":"jsonl","path":"x"}}"#,
        ]
        let served = try run(
            hindsightExecutable, ["serve", "--data", evidence.data, "--key", evidence.key, "--exports", exports],
            stdin: Data((requests.joined(separator: "\n") + "\n").utf8))
        #expect(served.status == 0, "\(served.stderr)")
        let responses = served.stdout.split(separator: "\n").map(String.init)
        #expect(responses.count == 4)
        for (index, bundle) in ["x", "q4/audit", "q4/review"].enumerated() {
            #expect(responses[index].contains(#""path":"\#(exports)/\#(bundle)""#), "\(responses[index])")
            for verdict in try evidence.verdicts(exports + "/" + bundle) {
                #expect(verdict.status == 0, "\(bundle), \(verdict.verifier): \(verdict.output)")
            }
            // The bundle holds e-mail addresses as readers see them.
            for (name, mode) in try modes(under: exports + "/" + bundle) {
                #expect(mode == (name.isEmpty ? 0o700 : 0o600), "\(bundle)/\(name): \(String(mode, radix: 8))")
            }
        }
        #expect(responses[3].contains("exists already"), "\(responses[3])")
        #expect(try FileManager.default.contentsOfDirectory(atPath: exports).sorted() == ["q4", "x"])
    }

    @Test("an export given a one-character relative path writes it in the working directory")
    func relativeCommandLinePath() throws {
        let evidence = try Evidence()
        let work = evidence.scratch.path + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let result = try run(
            "/bin/sh",
            ["-c", "cd '\(work)' && '\(hindsightExecutable)' export audit --data '\(evidence.data)' --key '\(evidence.key)' --out x"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try evidence.verdicts(work + "/x").allSatisfy { $0.status == 0 })
    }

    @Test("an export never removes what it did not create, such as a folder named like its working copy")
    func leavesOthersFilesAlone() throws {
        let evidence = try Evidence()
        let folder = evidence.scratch.path + "/v.partial/sub"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        writeFile(folder + "/f", Data("x\n".utf8))
        _ = try run(
            hindsightExecutable, ["export", "audit", "--data", evidence.data, "--key", evidence.key, "--out", evidence.scratch.path + "/v"])
        #expect(FileManager.default.contents(atPath: folder + "/f") == Data("x\n".utf8))
        #expect(try evidence.verdicts(evidence.scratch.path + "/v").allSatisfy { $0.status == 0 })
    }
}

/// A string as a JSON string literal.
private func jsonString(_ text: String) -> String {
    String(
        decoding: try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes]).dropFirst().dropLast(),
        as: UTF8.self)
}
