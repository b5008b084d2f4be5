import ArgumentParser
import HindsightCore
import HindsightQuery

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write evidence for auditors.", subcommands: [Audit.self, AccessReview.self, Backups.self, Tokens.self])

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Audit events as a bundle anyone can verify offline with the public key (export.audit).",
            discussion: """
                Writes DIR with the stored lines (events.ndjson), a readable events.FORMAT, the signed checkpoint the bundle \
                is anchored to (kept in the data directory too), Merkle proofs and a signed manifest.json. \
                Check it with `hindsight verify-export DIR --key PUBLIC` or Tools/verify_export.py (docs/export-format.md).
                """)

        @OptionGroup var options: DataOptions
        @OptionGroup var key: SigningKeyOption
        @Option(help: "The first seq, or an RFC 3339 time or a date (default: the first event).") var from: String?
        @Option(help: "The last seq, or an RFC 3339 time or a date (default: the last event).") var to: String?
        @Option(help: "Only this org's events.") var org: String?
        @Option(help: ArgumentHelp("Only these types (comma-separated).", valueName: "TYPES")) var types: String?
        @Option(help: "The readable rendering: jsonl or csv.") var format = "jsonl"
        @Option(help: ArgumentHelp("The directory to create.", valueName: "DIR")) var out: String
        @OptionGroup var output: JSONOption

        func run() throws {
            let first = try MomentOption.position(from, option: "from", dayEnds: false)
            let last = try MomentOption.position(to, option: "to")
            let service = options.service(signingKey: key.path, exports: .asNamed)
            let answer = try asking { () throws(QueryError) in
                try ProgressMeter("export").measuring { progress throws(QueryError) in
                    service.progress = progress
                    return try service.perform(
                        AuditExportMethod.self,
                        parameters: parameters([
                            "format": .string(format), "path": .string(out), "from": first, "to": last, "org": textParameter(org),
                            "types": types.map { .array($0.split(separator: ",").map { .string(String($0)) }) },
                        ]))
                }
            }
            if output.json { return printAnswer(answer) }
            let manifest = answer.manifest
            print(
                "wrote \(answer.path): \(manifest.count) events (seq \(manifest.range.firstSeq)…\(manifest.range.lastSeq)), anchored to the signed checkpoint of \(manifest.chainHead.size) events, root \(manifest.chainHead.root)"
            )
        }
    }

    struct AccessReview: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "access-review",
            abstract:
                "Who holds which role on what in an org at a moment, with grant, granted at and by, expiry and how it is held (export.accessReview).",
            discussion: """
                Writes a bundle in DIR: access-review.FORMAT, and with --since, changes.FORMAT (every gain and loss of access \
                since then), with a signed checkpoint of the log and a signed manifest; `hindsight verify-export DIR --key PUBLIC` \
                checks it (docs/export-format.md).
                """)

        @OptionGroup var options: DataOptions
        @OptionGroup var key: SigningKeyOption
        @Option(help: "The org (org_… or org/org_…).") var org: String
        @Option(help: "A seq, an RFC 3339 time or a date: the review as of then (default: now).") var at: String?
        @Option(help: "The previous review's RFC 3339 time or date: also list the changes since.") var since: String?
        @Option(help: "csv or jsonl.") var format = "csv"
        @Option(help: ArgumentHelp("The directory to create.", valueName: "DIR")) var out: String
        @OptionGroup var output: JSONOption

        func run() throws {
            let moment = try MomentOption.position(at, option: "at")
            let start = try MomentOption.time(since, option: "since", dayEnds: false)
            let service = options.service(signingKey: key.path, exports: .asNamed)
            let answer = try asking { () throws(QueryError) in
                try service.perform(
                    AccessReviewMethod.self,
                    parameters: parameters([
                        "org": .string(org), "format": .string(format), "path": .string(out), "at": moment,
                        "since": start,
                    ]))
            }
            report(answer, json: output.json)
        }
    }

    struct Backups: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Every database with a backup schedule in force during a period, every backup attempt in it, and every gap where a schedule was missed (export.backups).",
            discussion: """
                Writes a bundle in DIR: databases.FORMAT, backups.FORMAT and gaps.FORMAT, with a signed checkpoint of the log and \
                a signed manifest; `hindsight verify-export DIR --key PUBLIC` checks it (docs/export-format.md).
                """)

        @OptionGroup var options: DataOptions
        @OptionGroup var key: SigningKeyOption
        @Option(help: "The period's start: an RFC 3339 time or a date.") var from: String
        @Option(help: "The period's end (a date: its end): an RFC 3339 time or a date.") var to: String
        @Option(help: "csv or jsonl.") var format = "csv"
        @Option(help: ArgumentHelp("The directory to create.", valueName: "DIR")) var out: String
        @OptionGroup var output: JSONOption

        func run() throws {
            let period = (try MomentOption.time(from, option: "from", dayEnds: false), try MomentOption.time(to, option: "to"))
            let service = options.service(signingKey: key.path, exports: .asNamed)
            let answer = try asking { () throws(QueryError) in
                try service.perform(
                    BackupEvidenceMethod.self,
                    parameters: parameters(["from": period.0, "to": period.1, "format": .string(format), "path": .string(out)]))
            }
            report(answer, json: output.json)
        }
    }

    struct Tokens: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Every API token at a moment with its rotations and status, the stale ones marked (export.tokens).",
            discussion: """
                Writes a bundle in DIR: tokens.FORMAT (a row per token, with stale true or false) and rotations.FORMAT, with a \
                signed checkpoint of the log and a signed manifest; `hindsight verify-export DIR --key PUBLIC` checks it \
                (docs/export-format.md).
                """)

        @OptionGroup var options: DataOptions
        @OptionGroup var key: SigningKeyOption
        @Option(help: "A seq, an RFC 3339 time or a date: the tokens as of then (default: now).") var at: String?
        @Option(help: "A token not created or rotated within this many days is stale (0 to 36500, default 90).")
        var olderThanDays: Int64?
        @Option(help: "csv or jsonl.") var format = "csv"
        @Option(help: ArgumentHelp("The directory to create.", valueName: "DIR")) var out: String
        @OptionGroup var output: JSONOption

        func validate() throws {
            if let olderThanDays, !(0...36_500).contains(olderThanDays) {
                throw ValidationError("--older-than-days must be from 0 to 36500, not \(olderThanDays)")
            }
        }

        func run() throws {
            let moment = try MomentOption.position(at, option: "at")
            let service = options.service(signingKey: key.path, exports: .asNamed)
            let answer = try asking { () throws(QueryError) in
                try service.perform(
                    TokenEvidenceMethod.self,
                    parameters: parameters([
                        "at": moment, "olderThanDays": olderThanDays.map { .integer($0) }, "format": .string(format), "path": .string(out),
                    ]))
            }
            report(answer, json: output.json)
        }
    }
}

/// What an answer bundle's export wrote: where, as of which seq, and its files' rows.
private func report(_ answer: BundleAnswer, json: Bool) {
    if json { return printAnswer(answer) }
    print("wrote \(answer.path) (as of seq \(answer.position ?? 0)):")
    print(FigureTable(columns: ["file", "rows"]).render(answer.files.map { [$0.name, String($0.rows)] }), terminator: "")
}
