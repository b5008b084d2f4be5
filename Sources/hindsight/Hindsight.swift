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

@main
struct Hindsight: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An append-only, compressed, tamper-evident event log for a deployment platform.",
        subcommands: [
            Append.self, Read.self, Verify.self, Stats.self, Compact.self, Proof.self, Consistency.self, Erase.self, Serve.self, Query.self,
            Rebuild.self, Snapshot.self, Dump.self, Audit.self, Check.self, WhoCan.self, WhatCan.self, Analytics.self, Alerts.self,
            Tail.self, Team.self, Tokens.self, Databases.self, Backups.self, Settings.self, MCP.self,
            Keys.self, MakeCheckpoint.self, Export.self, VerifyExport.self, Tiles.self,
        ]
    )

    static func main() {
        // Every command writes files (segments, keys, read models, exports): a file-size
        // limit is an error it reports, not a signal that ends it mid-write.
        FileIO.treatFileSizeLimitAsError()
        main(nil)
    }
}

/// `--data DIR`, shared by every command that opens a log.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The data directory (default: $HINDSIGHT_DATA, else ./hindsight-data).", valueName: "DIR"))
    var data: String?

    var directory: String {
        data ?? ProcessInfo.processInfo.environment["HINDSIGHT_DATA"] ?? "./hindsight-data"
    }
}

/// Turns a `LogError` into a message on stderr and a non-zero exit status.
func reporting<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as LogError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(error.code == .logCorrupt ? 2 : 1)
    }
}

/// Prints a value as one line of JSON with sorted keys (hashes as lowercase hex).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
}

func printJSON(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}
