import ArgumentParser
import Foundation
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum, seq and Merkle root; names the first bad seq and why.")

    @OptionGroup var options: DataOptions
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(help: "Also fold the log again and check every read model and snapshot against it (content digests, tree heads).")
    var projections = false
    @Option(
        help: ArgumentHelp(
            "Verify only what was appended after the newest checkpoint in DIR/checkpoints/ signed by this public key (NAME+KEYID+KEY, as `keys public` prints, or a file holding it), and that the log extends it.",
            valueName: "PUBLIC"))
    var sinceCheckpoint: String?

    func run() throws {
        try reporting {
            let reader = try LogReader(directory: options.directory)
            let report =
                try sinceCheckpoint.map { key in
                    let checkpoint = try newestCheckpoint(signedBy: key)
                    return reader.verify(since: checkpoint.size, root: checkpoint.root)
                } ?? ProgressMeter("verify").measuring { reader.verify(progress: $0) }
            // Read models are checked only against a log that verifies.
            let checks =
                projections && report.ok
                ? try readModels(options.directory, caughtUp: false).models.verify(reader: LogReader(directory: options.directory)) : []
            if json {
                var object: [String: Any] = [
                    "ok": report.ok && checks.allSatisfy(\.ok), "checked": report.checked,
                    "head": ["seq": report.size, "hash": report.root.hex],
                ]
                if let bad = report.firstBad { object["firstBad"] = ["seq": bad.seq, "reason": bad.reason] }
                if !report.notes.isEmpty { object["notes"] = report.notes }
                if projections {
                    object["projections"] = checks.map { check -> [String: Any] in
                        var entry: [String: Any] = [
                            "readModel": check.readModel, "kind": check.kind, "position": check.position, "ok": check.ok,
                        ]
                        if let problem = check.problem { entry["problem"] = problem }
                        return entry
                    }
                }
                printJSON(object)
            } else {
                for note in report.notes { print("note: \(note)") }
                if let bad = report.firstBad {
                    print("FAILED at seq \(bad.seq): \(bad.reason)")
                } else {
                    print("ok: \(report.checked) events verified; tree head \(report.size) \(report.root.hex)")
                }
                for check in checks {
                    if let problem = check.problem {
                        print("FAILED: \(check.kind) \(check.readModel) at seq \(check.position): \(problem)")
                    } else {
                        print("ok: \(check.kind) \(check.readModel) at seq \(check.position) matches a fresh fold of the log")
                    }
                }
            }
            if !report.ok || !checks.allSatisfy(\.ok) { throw ExitCode(2) }
        }
    }

    /// The newest checkpoint kept in the data directory whose signature `key` verifies.
    private func newestCheckpoint(signedBy key: String) throws -> Checkpoint {
        let text = FileManager.default.fileExists(atPath: key) ? String(decoding: try FileIO.readFile(key), as: UTF8.self) : key
        let verifier = try VerifierKey(text)
        let store = CheckpointStore(dataDirectory: options.directory)
        for size in store.sizes().reversed() {
            if let checkpoint = try? Checkpoint(note: try store.note(ofSize: size), verifiedBy: verifier), checkpoint.size == size {
                return checkpoint
            }
        }
        throw LogError(
            .outOfRange, "no checkpoint in DIR/checkpoints/ is signed by this key; sign one with `hindsight checkpoint`",
            location: options.directory + "/checkpoints")
    }
}
