import ArgumentParser
import Foundation
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections
import HindsightRPC

struct VerifyExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-export",
        abstract:
            "Check an export bundle (an audit export or an access review) offline: signatures, checksums, Merkle proofs, counts and seq continuity.",
        discussion: "Exits 2 naming the first problem (file and line), 0 with a summary when the bundle verifies.")

    @Argument(help: "The bundle's directory.") var directory: String
    @Option(help: ArgumentHelp("The public key (NAME+KEYID+KEY, as `keys public` prints), or a file holding it.", valueName: "PUBLIC"))
    var key: String
    @Option(
        help: ArgumentHelp("An older checkpoint of the same log: also check that the bundle's log extends it unchanged.", valueName: "FILE")
    )
    var olderCheckpoint: String?

    func run() throws {
        let verifier: VerifierKey = try reporting {
            let text = FileManager.default.fileExists(atPath: key) ? String(decoding: try FileIO.readFile(key), as: UTF8.self) : key
            return try VerifierKey(text)
        }
        let older = try olderCheckpoint.map { path in try reporting { String(decoding: try FileIO.readFile(path), as: UTF8.self) } }
        do {
            let report = try ExportVerifier.verify(directory, key: verifier, olderCheckpoint: older)
            var summary: [String: Any] = ["ok": true, "format": report.format, "count": report.count, "treeSize": report.treeSize]
            if let range = report.range {
                summary["firstSeq"] = range.firstSeq
                summary["lastSeq"] = range.lastSeq
            }
            if let complete = report.complete { summary["complete"] = complete }
            if let position = report.position { summary["position"] = position }
            if let extends = report.extends { summary["extends"] = extends }
            printJSON(summary)
        } catch {
            FileHandle.standardError.write(Data("verify-export: \(error)\n".utf8))
            printJSON(["ok": false, "file": error.file, "problem": error.message])
            throw ExitCode(2)
        }
    }
}
