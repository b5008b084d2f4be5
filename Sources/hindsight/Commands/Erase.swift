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

struct Erase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase a person's personal data: destroy their keys and record person.erased.",
        discussion: "Every read path shows the erased fields as \"[erased]\" from then on; the log is not rewritten and still verifies.")

    @OptionGroup var options: DataOptions
    @Argument(help: "A user id (usr_…: the e-mails of the invitations they accepted) or an e-mail address.") var person: String
    @Option(
        help:
            "Who asked for the erasure: a user (usr_…) or token (tok_…) is recorded as that actor, anything else as the system of that name."
    )
    var actor = "hindsight"

    func run() throws {
        try reporting {
            try printJSON(Engine(directory: options.directory).erase(person, actor: actor))
        }
    }
}
