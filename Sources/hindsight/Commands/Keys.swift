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

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The Ed25519 key that signs checkpoints and exports.", subcommands: [Init.self, Public.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a signing key (mode 600, outside the data directory) and print its public key.",
            discussion: "The key's name is the origin line of every checkpoint it signs. An existing key is never overwritten.")

        @OptionGroup var options: DataOptions
        @OptionGroup var key: SigningKeyOption
        @Option(help: "The key's name: the log's origin in its checkpoints.") var name = "hindsight"

        func run() throws {
            try reporting {
                let created = try SigningKey(name: name)
                try created.save(to: key.path, apartFrom: options.directory)
                print(created.verifier)
            }
        }
    }

    struct Public: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the public key (NAME+KEYID+KEY) that verifies checkpoints and exports.")

        @OptionGroup var key: SigningKeyOption

        func run() throws {
            try reporting { print(try SigningKey(path: key.path).verifier) }
        }
    }
}

/// `--key PATH`: the signing key's file.
struct SigningKeyOption: ParsableArguments {
    @Option(
        name: .customLong("key"),
        help: ArgumentHelp(
            "The signing key's file (default: $HINDSIGHT_SIGNING_KEY, else ~/.config/hindsight/signing.key). It must live outside the data directory.",
            valueName: "PATH"))
    var given: String?

    var path: String { given ?? SigningKey.defaultPath }
}
