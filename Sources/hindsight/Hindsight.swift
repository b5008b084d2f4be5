import ArgumentParser
import Foundation
import HindsightCatalog
import HindsightEngine
import HindsightEvidence
public import HindsightCore
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections
import HindsightRPC
import HindsightWorkload

@main
struct Hindsight: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An append-only, compressed, tamper-evident event log for a deployment platform.",
        subcommands: [Append.self, Read.self, Verify.self, Stats.self, Compact.self, Proof.self, Consistency.self, Erase.self, Serve.self, Query.self, Rebuild.self, Snapshot.self, Dump.self, Check.self, WhoCan.self, WhatCan.self, Analytics.self, Alerts.self, Keys.self, MakeCheckpoint.self, Export.self, VerifyExport.self, Generate.self]
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

struct Append: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append NDJSON events as one all-or-nothing batch; prints firstSeq and lastSeq.")

    @OptionGroup var options: DataOptions

    @Argument(help: "An NDJSON file (default: standard input).")
    var file: String?

    @Option(name: .customLong("expect"), help: ArgumentHelp("A stream's expected version: STREAM=N, STREAM=none or STREAM=any (repeatable).", valueName: "STREAM=VERSION"))
    var expectations: [String] = []

    @Option(help: ArgumentHelp("LZ4 compression level of the new chunks, 1 (fastest) to 12 (smallest); `compact` recompresses them later.", valueName: "LEVEL"))
    var compressionLevel: Int32 = LZ4Frame.defaultLevel

    @Option(help: ArgumentHelp("Validate everything first, then append in batches of N events, printing each batch's positions once it is durable. With event ids, rerunning after an interruption resumes where it stopped.", valueName: "N"))
    var batchLines: Int?

    func validate() throws {
        if let batchLines, batchLines < 1 { throw ValidationError("--batch-lines must be at least 1") }
        if !(1...12).contains(compressionLevel) { throw ValidationError("--compression-level must be between 1 and 12") }
    }

    func run() throws {
        try reporting {
            var expected: [String: ExpectedVersion] = [:]
            for text in expectations {
                guard let equals = text.lastIndex(of: "="), let version = ExpectedVersion(text[text.index(after: equals)...]) else {
                    throw ValidationError("--expect takes STREAM=N, STREAM=none or STREAM=any, not \(text)")
                }
                expected[String(text[..<equals])] = version
            }
            // Everything is validated before the writer's lock is taken.
            let batch = try file.map { try EnvelopeParser.parse(file: $0, catalog: .standard) }
                ?? EnvelopeParser.parse(ndjson: [UInt8](FileHandle.standardInput.readDataToEndOfFile()), catalog: .standard)
            var logOptions = LogOptions()
            logOptions.compressionLevel = compressionLevel
            let engine = try Engine(directory: options.directory, options: logOptions)
            try engine.append(batch, expectedVersions: expected, every: batchLines) { result in
                var output: [String: Any] = ["firstSeq": result.firstSeq, "lastSeq": result.lastSeq, "count": result.count]
                if result.isRetry { output["retry"] = true }
                printJSON(output)
            }
        }
    }
}

struct Erase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase a person's personal data: destroy their keys and record person.erased.",
        discussion: "Every read path shows the erased fields as \"[erased]\" from then on; the log is not rewritten and still verifies.")

    @OptionGroup var options: DataOptions
    @Argument(help: "A user id (usr_…: the e-mails of the invitations they accepted) or an e-mail address.") var person: String
    @Option(help: "Who asked for the erasure, recorded as the system actor's id.") var actor = "hindsight"

    func run() throws {
        try reporting {
            try printJSON(Engine(directory: options.directory).erase(person, actor: actor))
        }
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer JSON-RPC 2.0 requests on standard input, one per line, until it ends (QUERIES.md).",
        discussion: "The process is the data directory's writer while it runs. Responses go to standard output, one per line; diagnostics to standard error.")

    @OptionGroup var options: DataOptions
    @OptionGroup var key: SigningKeyOption
    @OptionGroup var exports: ExportsOption

    func run() throws {
        let (policy, engine) = try reporting { (try exports.policy(dataDirectory: options.directory), try Engine(directory: options.directory)) }
        if !LineServer.run(RPCServer(directory: options.directory, engine: engine, signingKey: key.path, exports: policy)) {
            FileHandle.standardError.write(Data("hindsight serve: standard output was closed; stopping\n".utf8))
        }
    }
}

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer one JSON-RPC request, as serve would, and print the response line.",
        discussion: "Methods that only read never take the writer's lock, so they work beside a running serve. Exits 1 when the response is an error.")

    @OptionGroup var options: DataOptions
    @OptionGroup var key: SigningKeyOption
    @OptionGroup var exports: ExportsOption
    @Argument(help: "The method, e.g. log.read (system.methods lists them).") var method: String
    @Option(help: "The parameters as a JSON object.") var params = "{}"

    func run() throws {
        let policy = try reporting { try exports.policy(dataDirectory: options.directory) }
        try answer(method, params: params, directory: options.directory, signingKey: key.path, exports: policy)
    }
}

/// `--exports DIR`: where `serve` and `query` may write the bundles that export requests ask for.
struct ExportsOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The directory export requests write their bundles beneath (a path relative to it, or an absolute one inside it); without it they are refused. It must lie outside the data directory.",
        valueName: "DIR"))
    var exports: String?

    func policy(dataDirectory: String) throws(LogError) -> ExportPolicy {
        guard let exports else { return .off }
        return .beneath(try ExportRoot(exports, dataDirectory: dataDirectory))
    }
}

/// Answers one request as `serve` would, without being the writer, prints the response
/// line, and exits 1 when it is an error.
func answer(_ method: String, params: String, directory: String, signingKey: String = SigningKey.defaultPath, exports: ExportPolicy = .off) throws {
    let response = respond(method, params: params, directory: directory, signingKey: signingKey, exports: exports)
    FileHandle.standardOutput.write(Data(response + [UInt8(ascii: "\n")]))
    if JSONValue(parsing: response)?["error"] != nil { throw ExitCode(1) }
}

/// The result of one request, for a command that shows it as a table; the error's message on
/// standard error and exit status 1 otherwise.
func answered(_ method: String, params: String, directory: String) throws -> JSONValue {
    let response = JSONValue(parsing: respond(method, params: params, directory: directory))
    guard let result = response?["result"] else {
        let message: String = if case .string(let text)? = response?["error"]?["message"] { text } else { "no answer" }
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        throw ExitCode(1)
    }
    return result
}

/// The response line to one request, as `serve` would write it.
func respond(_ method: String, params: String, directory: String, signingKey: String = SigningKey.defaultPath, exports: ExportPolicy = .off) -> [UInt8] {
    var request = Array(#"{"jsonrpc":"2.0","id":1,"method":"#.utf8)
    JSONValue.string(method).write(to: &request)
    request += Array(#","params":"#.utf8) + Array(params.utf8) + [UInt8(ascii: "}")]
    return RPCServer(directory: directory, engine: nil, signingKey: signingKey, exports: exports).respond(to: request) ?? []
}

struct Rebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a read model again from the log beside the one in use, and swap it in (projections.rebuild).",
        discussion: "While a serve runs on the directory, ask it instead (projections.rebuild), so that it swaps the files it uses.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The read model (projections.status lists them).") var name: String

    func run() throws {
        try answer("projections.rebuild", params: String(decoding: JSONValue.object(["name": .string(name)]).text, as: UTF8.self),
                   directory: options.directory)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Whether a user or token may do something to something, and through which grants (rbac.check).")

    @OptionGroup var options: DataOptions
    @Argument(help: "A user (usr_…) or a token (tok_…).") var subject: String
    @Argument(help: "KIND:ACTION, such as project:deploy.") var permission: String
    @Argument(help: "KIND/ID, such as project/prj_9.") var resource: String
    @Option(help: "A seq or an RFC 3339 time: the answer as of then (default: now).") var at: String?

    func run() throws {
        var params: [String: JSONValue] = ["subject": .string(subject), "permission": .string(permission), "resource": .string(resource)]
        params["at"] = moment(at)
        try answer("rbac.check", params: String(decoding: JSONValue.object(params).text, as: UTF8.self), directory: options.directory)
    }
}

struct WhoCan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "who-can",
        abstract: "Every user and token that may do something to something, and through which grants (rbac.whoCan).")

    @OptionGroup var options: DataOptions
    @Argument(help: "KIND:ACTION, such as project:deploy.") var permission: String
    @Argument(help: "KIND/ID, such as project/prj_9.") var resource: String
    @Option(help: "A seq or an RFC 3339 time: the answer as of then (default: now).") var at: String?

    func run() throws {
        var params: [String: JSONValue] = ["permission": .string(permission), "resource": .string(resource)]
        params["at"] = moment(at)
        try answer("rbac.whoCan", params: String(decoding: JSONValue.object(params).text, as: UTF8.self), directory: options.directory)
    }
}

struct WhatCan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "what-can",
        abstract: "Everything a user or token may do, grant by grant (rbac.whatCan).")

    @OptionGroup var options: DataOptions
    @Argument(help: "A user (usr_…) or a token (tok_…).") var subject: String
    @Option(help: "A seq or an RFC 3339 time: the answer as of then (default: now).") var at: String?

    func run() throws {
        var params: [String: JSONValue] = ["subject": .string(subject)]
        params["at"] = moment(at)
        try answer("rbac.whatCan", params: String(decoding: JSONValue.object(params).text, as: UTF8.self), directory: options.directory)
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write evidence for auditors.", subcommands: [Audit.self, AccessReview.self])

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Audit events as a bundle anyone can verify offline with the public key (export.audit).",
            discussion: """
                Writes DIR with the stored lines (events.ndjson), a readable events.FORMAT, the signed checkpoint the bundle \
                is anchored to (kept in the data directory too), Merkle proofs and a signed manifest.json; prints the manifest. \
                Check it with `hindsight verify-export DIR --key PUBLIC` or Tools/verify_export.py (docs/export-format.md).
                """)

        @OptionGroup var options: DataOptions
        @OptionGroup var key: SigningKeyOption
        @Option(help: "The first seq, or an RFC 3339 time (default: the first event).") var from: String?
        @Option(help: "The last seq, or an RFC 3339 time (default: the last event).") var to: String?
        @Option(help: "Only this org's events.") var org: String?
        @Option(help: ArgumentHelp("Only these types (comma-separated).", valueName: "TYPES")) var types: String?
        @Option(help: "The readable rendering: jsonl or csv.") var format = "jsonl"
        @Option(help: ArgumentHelp("The directory to create.", valueName: "DIR")) var out: String

        func run() throws {
            var params: [String: JSONValue] = ["format": .string(format), "path": .string(out)]
            params["from"] = moment(from)
            params["to"] = moment(to)
            if let org { params["org"] = .string(org) }
            if let types { params["types"] = .array(types.split(separator: ",").map { .string(String($0)) }) }
            try answer("export.audit", params: String(decoding: JSONValue.object(params).text, as: UTF8.self), directory: options.directory,
                       signingKey: key.path, exports: .asNamed)
        }
    }

    struct AccessReview: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "access-review",
            abstract: "Who holds which role on what in an org at a moment, with grant, granted at and by, expiry and how it is held (export.accessReview).",
            discussion: """
                Writes a bundle in DIR: access-review.FORMAT, and with --since, changes.FORMAT (every gain and loss of access \
                since then), with a signed checkpoint of the log and a signed manifest; `hindsight verify-export DIR --key PUBLIC` \
                checks it (docs/export-format.md).
                """)

        @OptionGroup var options: DataOptions
        @OptionGroup var key: SigningKeyOption
        @Option(help: "The org (org_… or org/org_…).") var org: String
        @Option(help: "A seq or an RFC 3339 time: the review as of then (default: now).") var at: String?
        @Option(help: "The previous review's RFC 3339 time: also list the changes since.") var since: String?
        @Option(help: "csv or jsonl.") var format = "csv"
        @Option(help: ArgumentHelp("The directory to create.", valueName: "DIR")) var out: String

        func run() throws {
            var params: [String: JSONValue] = ["org": .string(org), "format": .string(format), "path": .string(out)]
            params["at"] = moment(at)
            if let since { params["since"] = .string(since) }
            try answer("export.accessReview", params: String(decoding: JSONValue.object(params).text, as: UTF8.self), directory: options.directory,
                       signingKey: key.path, exports: .asNamed)
        }
    }
}

/// `--at` as the query interface takes it: a seq (an integer) or a time.
func moment(_ at: String?) -> JSONValue? {
    at.map { Int64($0).map(JSONValue.integer) ?? .string($0) }
}

/// The read models of a data directory as they are; `caughtUp`, brought up to the log's end
/// first (building any that does not exist).
func readModels(_ directory: String, caughtUp: Bool) throws -> (models: Projections, reader: LogReader, source: EventSource) {
    let source = try EventSource(directory: directory)
    let reader = try source.reader()
    let models = try Projections(source: source)
    if caughtUp { try models.catchUp(reader) }
    return (models, reader, source)
}

struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save read models' state at the position they have reached, with the log's tree head there and a digest of their content.",
        discussion: """
            Snapshots go to DIR/snapshots/NAME/ (Snapshots/README.md gives the format); a rebuild starts from the newest \
            one that stands for the log, and `hindsight verify --projections` checks each against a fresh fold of the log. \
            Prints each snapshot's manifest.
            """)

    @OptionGroup var options: DataOptions
    @Argument(help: "The read models (default: all).") var names: [String] = []

    func run() throws {
        try reporting {
            let (models, reader, _) = try readModels(options.directory, caughtUp: true)
            for manifest in try models.snapshot(names.isEmpty ? nil : names, reader: reader) { try printJSON(manifest) }
        }
    }
}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a read model's content as canonical NDJSON: each table and its columns, then its rows ordered by every column.",
        discussion: "Personal data shows as readers see it (or [erased]); the golden dumps in Snapshots/ are made this way.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The read model.") var name: String
    @Flag(help: "Show personal data as stored (its ciphertext): the dump that content digests cover.") var stored = false

    func run() throws {
        try reporting {
            let (models, _, source) = try readModels(options.directory, caughtUp: true)
            let reveal: ((String) -> String)? = stored ? nil : { line in
                guard let event = try? StoredEvent(storedLine: Array(line.utf8)) else { return line }
                return String(decoding: source.present(event).line, as: UTF8.self)
            }
            var out = Data()
            try models.dump(name, reveal: reveal) { line in
                out.append(contentsOf: line.utf8)
                out.append(0x0A)
                if out.count >= 1 << 20 {
                    FileHandle.standardOutput.write(out)
                    out.removeAll(keepingCapacity: true)
                }
            }
            FileHandle.standardOutput.write(out)
        }
    }
}

struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print stored events as NDJSON, in seq order.")

    @OptionGroup var options: DataOptions
    @Option(help: "The first seq.") var from: UInt64 = 1
    @Option(help: "The last seq.") var to: UInt64?
    @Option(help: "Only this stream (KIND/ID).") var stream: String?
    @Option(name: .customLong("type"), help: "Only this event type (repeatable).") var types: [String] = []
    @Option(help: "Only this org.") var org: String?
    @Option(help: "Only events that occurred at or after this RFC 3339 time.") var since: String?
    @Option(help: "Only events that occurred at or before this RFC 3339 time.") var until: String?
    @Option(help: "At most this many events.") var limit: Int?
    @Flag(help: "Show each event as the newest version of its type, as read models see it (stored events are never rewritten).") var upcast = false
    @Flag(help: "Print the lines exactly as stored and hashed: personal data as its ciphertext.") var stored = false

    func validate() throws {
        for type in types where Catalog.standard.versions(of: type).isEmpty {
            throw ValidationError("\(type) is not a type in the event catalogue (EventSchemas/)")
        }
        if let to, from > to { throw ValidationError("--from must not be after --to") }
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
        if stored && upcast { throw ValidationError("--stored prints lines exactly as hashed, which --upcast would rewrite: give one of them") }
    }

    func run() throws {
        try reporting {
            var query = ReadQuery()
            query.from = from
            query.to = to ?? .max
            query.stream = stream
            query.types = types.isEmpty ? nil : Set(types)
            query.org = org
            query.limit = limit ?? .max
            for (text, keyPath) in [(since, \ReadQuery.occurredFrom), (until, \ReadQuery.occurredTo)] {
                guard let text else { continue }
                guard let ms = Timestamp.parse(rfc3339: text) else {
                    throw ValidationError("\(text) is not an RFC 3339 time such as 2026-03-01T09:30:00Z (a fraction of a second and an offset such as +02:00 may be given)")
                }
                query[keyPath: keyPath] = ms
            }
            if let since = query.occurredFrom, let until = query.occurredTo, since > until {
                throw ValidationError("--since must not be after --until")
            }
            let source = try EventSource(directory: options.directory)
            let reader = try source.reader()
            let output = BufferedOutput()
            try reader.read(query) { event in
                output.write(stored ? event.line : source.present(event, upcast: upcast).line)
                return true
            }
            output.flush()
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum, seq and Merkle root; names the first bad seq and why.")

    @OptionGroup var options: DataOptions
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(help: "Also fold the log again and check every read model and snapshot against it (content digests, tree heads).")
    var projections = false

    func run() throws {
        try reporting {
            let report = try LogReader(directory: options.directory).verify()
            // Read models are checked only against a log that verifies.
            let checks = projections && report.ok
                ? try readModels(options.directory, caughtUp: false).models.verify(reader: LogReader(directory: options.directory)) : []
            if json {
                var object: [String: Any] = ["ok": report.ok && checks.allSatisfy(\.ok), "checked": report.checked,
                                             "head": ["seq": report.size, "hash": report.root.hex]]
                if let bad = report.firstBad { object["firstBad"] = ["seq": bad.seq, "reason": bad.reason] }
                if !report.notes.isEmpty { object["notes"] = report.notes }
                if projections {
                    object["projections"] = checks.map { check -> [String: Any] in
                        var entry: [String: Any] = ["readModel": check.readModel, "kind": check.kind, "position": check.position, "ok": check.ok]
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
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Events, raw and stored bytes, ratio, segments and the tree head.")

    @OptionGroup var options: DataOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reporting {
            let stats = try LogReader(directory: options.directory).stats()
            if json {
                printJSON(["events": stats.events, "bytes": stats.rawBytes, "storedBytes": stats.storedBytes,
                           "ratio": (stats.ratio * 100).rounded() / 100, "segments": stats.segments,
                           "head": ["seq": stats.head.size, "hash": stats.head.root.hex]])
            } else {
                print("""
                events        \(stats.events)
                raw bytes     \(stats.rawBytes)
                stored bytes  \(stats.storedBytes)
                ratio         \(String(format: "%.2f", stats.ratio))
                segments      \(stats.segments)
                tree head     \(stats.head.size) \(stats.head.root.hex)
                """)
            }
        }
    }
}

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompress everything appended so far into large, maximally compressed chunks.")

    @OptionGroup var options: DataOptions
    @Option(help: "LZ4 compression level, 3 to 12.") var level: Int32 = LZ4Frame.compactionLevel

    func validate() throws {
        if !(3...12).contains(level) { throw ValidationError("--level must be between 3 and 12") }
    }

    func run() throws {
        try reporting {
            let report = try Engine(directory: options.directory).compact(level: level)
            printJSON(["segments": report.segmentsRewritten, "events": report.events,
                       "bytesBefore": report.bytesBefore, "bytesAfter": report.bytesAfter])
        }
    }
}

struct Proof: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print an RFC 6962 inclusion proof for one event.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The event's seq.") var seq: UInt64
    @Option(help: "The tree size to prove against (default: the whole log).") var treeSize: UInt64?

    func run() throws {
        try reporting {
            let proof = try LogReader(directory: options.directory).inclusionProof(seq: seq, treeSize: treeSize)
            precondition(proof.verify(), "the engine produced an inclusion proof that does not verify")
            try printJSON(proof)
        }
    }
}

struct Consistency: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print an RFC 6962 consistency proof between two tree sizes.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The earlier tree size.") var oldSize: UInt64
    @Option(help: "The later tree size (default: the whole log).") var newSize: UInt64?

    func run() throws {
        try reporting {
            let proof = try LogReader(directory: options.directory).consistencyProof(oldSize: oldSize, newSize: newSize)
            precondition(proof.verify(), "the engine produced a consistency proof that does not verify")
            try printJSON(proof)
        }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a seeded, realistic platform history as NDJSON.")

    @Option(help: "How many events.") var events = 1000
    @Option(help: "The seed; the same seed gives the same history.") var seed: UInt64 = 1

    func run() {
        var generator = WorkloadGenerator(seed: seed)
        let output = BufferedOutput()
        var remaining = events
        while remaining > 0 {
            let n = min(remaining, 10_000)
            output.write(generator.ndjson(count: n), newline: false)
            remaining -= n
        }
        output.flush()
    }
}

/// Standard output in large writes.
final class BufferedOutput {
    private var buffer: [UInt8] = []

    func write(_ bytes: some Collection<UInt8>, newline: Bool = true) {
        buffer.append(contentsOf: bytes)
        if newline { buffer.append(UInt8(ascii: "\n")) }
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

/// `--key PATH`: the signing key's file.
struct SigningKeyOption: ParsableArguments {
    @Option(name: .customLong("key"), help: ArgumentHelp(
        "The signing key's file (default: $HINDSIGHT_SIGNING_KEY, else ~/.config/hindsight/signing.key). It must live outside the data directory.",
        valueName: "PATH"))
    var given: String?

    var path: String { given ?? SigningKey.defaultPath }
}

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

struct MakeCheckpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Sign the log's tree head as a C2SP checkpoint, keep it in DIR/checkpoints/, and print it.")

    @OptionGroup var options: DataOptions
    @OptionGroup var key: SigningKeyOption

    func run() throws {
        try reporting {
            let signing = try SigningKey(path: key.path)
            let reader = try LogReader(directory: options.directory)
            guard reader.size > 0 else { throw LogError(.outOfRange, "the log is empty: there is no tree head to sign") }
            print(try CheckpointStore(dataDirectory: options.directory).write(size: reader.size, root: reader.root, key: signing), terminator: "")
        }
    }
}

struct VerifyExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-export",
        abstract: "Check an export bundle (an audit export or an access review) offline: signatures, checksums, Merkle proofs, counts and seq continuity.",
        discussion: "Exits 2 naming the first problem (file and line), 0 with a summary when the bundle verifies.")

    @Argument(help: "The bundle's directory.") var directory: String
    @Option(help: ArgumentHelp("The public key (NAME+KEYID+KEY, as `keys public` prints), or a file holding it.", valueName: "PUBLIC")) var key: String
    @Option(help: ArgumentHelp("An older checkpoint of the same log: also check that the bundle's log extends it unchanged.", valueName: "FILE"))
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

struct Analytics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The platform's dashboards as tables and charts.", subcommands: [Builds.self, Functions.self, Metrics.self])

    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A metric rolled up into steps over a range (analytics.metrics): count, min, max, average and p95 per step.")

        @OptionGroup var options: DataOptions
        @Argument(help: "The metric's name.") var name: String
        @Option(help: ArgumentHelp("Only values carrying this tag (repeatable).", valueName: "KEY=VALUE")) var tag: [String] = []
        @Option(help: "An RFC 3339 time: the first step holds it.") var from: String
        @Option(help: "An RFC 3339 time: the last step holds it.") var to: String
        @Option(help: "Seconds per step (whole hours are read from the read model, shorter steps from the log).") var step = 3600
        @Flag(help: "Print the JSON-RPC response instead.") var json = false

        func run() throws {
            var tags: [String: JSONValue] = [:]
            for pair in tag {
                guard let equals = pair.firstIndex(of: "=") else { throw ValidationError("--tag takes KEY=VALUE, not \(pair)") }
                tags[String(pair[..<equals])] = .string(String(pair[pair.index(after: equals)...]))
            }
            let params: [String: JSONValue] = ["name": .string(name), "tags": .object(tags), "from": .string(from), "to": .string(to),
                                               "stepSec": .integer(Int64(step))]
            let text = String(decoding: JSONValue.object(params).text, as: UTF8.self)
            if json { return try answer("analytics.metrics", params: text, directory: options.directory) }
            guard case .array(let series)? = try answered("analytics.metrics", params: text, directory: options.directory)["series"] else { return }
            let table = FigureTable(columns: ["step", "count", "min", "max", "avg", "p95"])
            let figure = { (value: JSONValue?) in table.number(value).map { String(format: "%g", $0) } ?? "-" }
            print(series.isEmpty ? "no values in that range" : table.render(series.map { step in
                let start: String = if case .string(let t)? = step["t"] { t } else { "" }
                return [start, table.count(step["count"]), figure(step["min"]), figure(step["max"]), figure(step["avg"]), figure(step["p95"])]
            }), terminator: series.isEmpty ? "\n" : "")
        }
    }

    struct Functions: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Function invocations of a function, project or org over a range (analytics.functions).",
            discussion: "Rows: all invocations, each mode, each runtime: invocations, error, timeout and cold-start rates, p50, p95 and p99 duration.")

        @OptionGroup var options: DataOptions
        @Option(help: "A function (fn_…).") var function: String?
        @Option(help: "A project (prj_…).") var project: String?
        @Option(help: "An org (org_…).") var org: String?
        @Option(help: "An RFC 3339 time: from the UTC hour holding it (default: the first invocation).") var from: String?
        @Option(help: "An RFC 3339 time: to the UTC hour holding it (default: the last invocation).") var to: String?
        @Flag(help: "Print the JSON-RPC response instead.") var json = false

        func run() throws {
            var params: [String: JSONValue] = [:]
            for (name, value) in [("function", function), ("project", project), ("org", org), ("from", from), ("to", to)] {
                if let value { params[name] = .string(value) }
            }
            let text = String(decoding: JSONValue.object(params).text, as: UTF8.self)
            if json { return try answer("analytics.functions", params: text, directory: options.directory) }
            let result = try answered("analytics.functions", params: text, directory: options.directory)
            var rows: [(String, JSONValue?)] = [("all", result), ("sync", result["sync"]), ("async", result["async"])]
            if case .object(let runtimes)? = result["byRuntime"] {
                rows += runtimes.keys.sorted().map { ("runtime " + $0, runtimes[$0]) }
            }
            let table = FigureTable(columns: ["", "invocations", "errors", "timeouts", "cold starts", "p50", "p95", "p99"])
            print(table.render(rows.map { name, row in
                [name, table.count(row?["invocations"]), table.percent(row?["errorRate"]), table.percent(row?["timeoutRate"]),
                 table.percent(row?["coldStartRate"]), table.duration(row?["p50Ms"]), table.duration(row?["p95Ms"]), table.duration(row?["p99Ms"])]
            }), terminator: "")
        }
    }

    struct Builds: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Builds per day of a project or org, with a chart of the trend (analytics.builds).",
            discussion: "Each day: queued, succeeded, failed, canceled, success rate (of finished builds), p50 and p95 duration, cache hit rate, the slowest step by p95.")

        @OptionGroup var options: DataOptions
        @Option(help: "A project (prj_… or project/prj_…).") var project: String?
        @Option(help: "An org (org_… or org/org_…).") var org: String?
        @Option(help: "Days in the window.") var days = 7
        @Option(help: "A seq or an RFC 3339 time: the window ends with its day (default: the newest day of builds).") var at: String?
        @Flag(help: "Print the JSON-RPC response instead.") var json = false

        func run() throws {
            var params: [String: JSONValue] = ["days": .integer(Int64(days))]
            if let project { params["project"] = .string(project) }
            if let org { params["org"] = .string(org) }
            params["at"] = moment(at)
            let text = String(decoding: JSONValue.object(params).text, as: UTF8.self)
            if json { return try answer("analytics.builds", params: text, directory: options.directory) }
            let result = try answered("analytics.builds", params: text, directory: options.directory)
            guard case .array(let rows)? = result["days"] else { return }
            let scope: String = if case .string(let text)? = result["scope"] { text } else { "" }
            print(BuildChart(scope: scope, days: rows, total: result["total"]).text, terminator: "")
        }
    }
}

/// The 7-day build trend as people would rather look at it: a table, and a bar per day
/// (█ succeeded, ▒ failed, · canceled, ░ still queued or running).
struct BuildChart {
    let scope: String
    let days: [JSONValue]
    let total: JSONValue?

    var text: String {
        let table = FigureTable(columns: ["day", "queued", "ok", "failed", "canceled", "success", "p50", "p95", "cache", "slowest step (p95)"])
        let rows = (days + (total.map { [$0] } ?? [])).map { row -> [String] in
            var slowest = ""
            if case .array(let steps)? = row["slowestSteps"], let first = steps.first, case .string(let step)? = first["step"] {
                slowest = step + " " + table.duration(first["p95Ms"])
            }
            let day: String = if case .string(let day)? = row["day"] { day } else { "total" }
            return [day, table.count(row["queued"]), table.count(row["succeeded"]), table.count(row["failed"]), table.count(row["canceled"]),
                    table.percent(row["successRate"]), table.duration(row["p50Ms"]), table.duration(row["p95Ms"]), table.percent(row["cacheHitRate"]),
                    slowest]
        }
        var out = "builds of \(scope)\n\n" + table.render(rows) + "\n"
        let widest = max(1, days.compactMap { table.number($0["queued"]) }.max() ?? 1)
        for (row, cells) in zip(days, rows) {
            let bar = { (value: JSONValue?) in Int(((table.number(value) ?? 0) / widest * 40).rounded()) }
            let ok = bar(row["succeeded"]), failed = bar(row["failed"]), canceled = bar(row["canceled"])
            let open = max(0, bar(row["queued"]) - ok - failed - canceled)
            out += cells[0] + "  " + String(repeating: "█", count: ok) + String(repeating: "▒", count: failed)
                + String(repeating: "·", count: canceled) + String(repeating: "░", count: open) + "\n"
        }
        return out + "\n█ succeeded  ▒ failed  · canceled  ░ queued or running\n"
    }
}

/// A plain text table of figures, and the formats dashboards use for them.
struct FigureTable {
    let columns: [String]

    func render(_ rows: [[String]]) -> String {
        let widths = columns.indices.map { column in ([columns[column]] + rows.map { $0[column] }).map(\.count).max()! + 2 }
        let line = { (cells: [String]) in zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined() + "\n" }
        return line(columns) + rows.map(line).joined()
    }

    func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .integer(let n)?: Double(n)
        case .number(let n)?: n
        default: nil
        }
    }
    func count(_ value: JSONValue?) -> String { number(value).map { String(Int($0)) } ?? "-" }
    func percent(_ value: JSONValue?) -> String { number(value).map { String(format: "%.0f%%", $0 * 100) } ?? "-" }
    func duration(_ value: JSONValue?) -> String {
        guard let ms = number(value) else { return "-" }
        if ms < 1000 { return String(format: "%.0fms", ms) }
        let seconds = ms / 1000
        return seconds < 60 ? String(format: "%.1fs", seconds) : String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
    }
}

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The alert rules firing at a moment (alerts.active), or with --from and --to, every time one fired or resolved (alerts.history).")

    @OptionGroup var options: DataOptions
    @Option(help: "A seq or an RFC 3339 time: the alerts firing then (default: now).") var at: String?
    @Option(help: "An RFC 3339 time: the history from then.") var from: String?
    @Option(help: "An RFC 3339 time: the history up to then.") var to: String?
    @Option(help: "Only this rule's history.") var rule: String?
    @Flag(help: "Print the JSON-RPC response instead.") var json = false

    func validate() throws {
        guard (from == nil) == (to == nil) else { throw ValidationError("give --from and --to together, for the history") }
        guard from == nil || at == nil else { throw ValidationError("--at is for the alerts firing at a moment; the history takes --from and --to") }
    }

    func run() throws {
        var params: [String: JSONValue] = [:]
        let method: String
        if let from, let to {
            method = "alerts.history"
            params["from"] = .string(from)
            params["to"] = .string(to)
            if let rule { params["rule"] = .string(rule) }
        } else {
            method = "alerts.active"
            params["at"] = moment(at)
        }
        let text = String(decoding: JSONValue.object(params).text, as: UTF8.self)
        if json { return try answer(method, params: text, directory: options.directory) }
        let answer = try answered(method, params: text, directory: options.directory)
        let string = { (value: JSONValue?) -> String in if case .string(let text)? = value { text } else { "" } }
        let table = FigureTable(columns: method == "alerts.active" ? ["rule", "since", "seq", "value"] : ["at", "seq", "rule", "change", "value"])
        let value = { (entry: JSONValue) in table.number(entry["value"]).map { String(format: "%g", $0) } ?? "-" }
        switch (answer["alerts"], answer["transitions"]) {
        case (.array(let alerts)?, _):
            print(alerts.isEmpty ? "no alert is firing" : table.render(alerts.map { [string($0["rule"]), string($0["since"]), table.count($0["sinceSeq"]), value($0)] }),
                  terminator: alerts.isEmpty ? "\n" : "")
        case (_, .array(let transitions)?):
            print(transitions.isEmpty ? "no alert fired or resolved then" : table.render(transitions.map {
                [string($0["at"]), table.count($0["seq"]), string($0["rule"]), string($0["kind"]), value($0)]
            }), terminator: transitions.isEmpty ? "\n" : "")
        default:
            break
        }
    }
}
