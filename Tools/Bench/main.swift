import ArgumentParser
import Foundation
import HindsightAccess
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightLog
import HindsightLogWriter
import HindsightProjections
import HindsightReadSide
import HindsightWorkload

/// `swift run -c release hindsight-bench`: the log's throughput and size on a generated
/// workload, beside the stock `lz4` tool on the same NDJSON as the ceiling. Reports the
/// median of several runs, because these machines are shared and noisy.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hindsight-bench",
        abstract: "Benchmark durable append, verification and parsed scans against the stock lz4 tool.")

    @Option(help: "Events in the generated workload.") var events = 1_000_000
    @Option(help: "Workload seed.") var seed: UInt64 = 7
    @Option(help: "Runs per measurement; the median is reported.") var runs = 3
    @Option(help: "Events per durable append batch.") var batch = 10_000
    @Option(help: "LZ4 compression level of appended chunks (default: the engine's).") var level: Int32?
    @Option(help: "Where to put data directories (default: a new temporary folder).") var scratch: String?
    @Flag(help: "Measure appends only (for quick comparisons), not compaction, verification or scans.") var appendOnly = false
    @Option(
        help: ArgumentHelp(
            "Measure only the read models, on the log already in DIR (for a history larger than one batch can hold).", valueName: "DIR"))
    var readModelsOnly: String?
    @Option(name: .customLong("model"), help: "With --read-models-only: measure only this read model (repeatable; default: all).")
    var onlyModels: [String] = []
    @Flag(help: "Measure only the access read model, on a generated history of 100,000 grants, 10,000 users and 2,000 projects.")
    var accessHistory = false
    @Flag(help: "Measure only audit exports and their verification (both verifiers), on the generated workload.")
    var exports = false

    func run() throws {
        if accessHistory { return try measureAccessHistory() }
        if exports { return try measureExports() }
        if let readModelsOnly {
            // The baseline in the same run: every event of the log read and parsed, which a
            // build does first; the machine's speed of the moment shows in it.
            let reader = try LogReader(directory: readModelsOnly)
            let scan = try median(runs) { try reader.read(ReadQuery()) { _ in true } }
            report("baseline: parsed scan of the log", seconds: scan, events: Int(reader.size), megabytes: 0)
            let measures = [
                ("audit", measureAudit), ("access", measureAccess), ("analytics", measureAnalytics), ("together", measureTogether),
                ("tokens", measureTokens), ("databases", measureDatabases), ("settings", measureSettings), ("teams", measureTeams),
            ]
            for (name, measure) in measures where onlyModels.isEmpty || onlyModels.contains(name) { try measure(readModelsOnly) }
            // The analytics models one by one (`--model builds` …), without their questions.
            let analytics: [any ReadModel] = [
                BuildsReadModel(), FunctionsReadModel(), MetricsReadModel(), WebhooksReadModel(), AlertsReadModel(),
            ]
            for model in analytics where onlyModels.contains(model.name) {
                _ = try build(model, directory: readModelsOnly, reader: reader, source: EventSource(directory: readModelsOnly))
            }
            return
        }
        let root = scratch ?? NSTemporaryDirectory() + "hindsight-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }

        let input = WorkloadGenerator.ndjson(count: events, seed: seed)
        let inputPath = root + "/workload.ndjson"
        guard FileManager.default.createFile(atPath: inputPath, contents: Data(input)) else {
            throw ValidationError("cannot write \(inputPath)")
        }
        let megabytes = Double(input.count) / 1e6
        print("workload: \(events) events, \(input.count) bytes of NDJSON (seed \(seed)); median of \(runs) runs")

        // The ceiling: the stock tool compressing and decompressing the same NDJSON.
        var lz4Sizes: [Int: Int] = [:]
        for level in [1, 9] {
            let compressedPath = root + "/workload.\(level).lz4"
            let seconds = try median(runs) { try shell("lz4 -q -f -\(level) \(inputPath) \(compressedPath)") }
            let size = try FileManager.default.attributesOfItem(atPath: compressedPath)[.size] as! Int
            lz4Sizes[level] = size
            let decompress = try median(runs) { try shell("lz4 -q -dc \(compressedPath) > /dev/null") }
            report(
                "lz4 -\(level) compress", seconds: seconds, events: events, megabytes: megabytes,
                extra: String(
                    format: "%d bytes, ratio %.2f; decompress %.0f MB/s", size, Double(input.count) / Double(size), megabytes / decompress))
        }

        // Durable append, parsing, validation and the sealing of personal data included: the
        // whole file as one batch (what `hindsight append FILE` does), the same without schema
        // validation (envelope checks only), whose gap to the first is the cost of validation,
        // then in batches of `batch` events. The configurations take turns, each round starting
        // with the next one, so that none gains from its place (the machine's state after the
        // previous run). The input
        // is cut into batches beforehand: that is the producer's work, not the engine's. Each
        // run starts from a fresh copy of the bytes, as a producer's buffer would be.
        var directory = ""
        let catalog = Catalog.standard
        let configurations = [(size: events, validating: true), (size: events, validating: false), (size: batch, validating: true)]
        let pieces = configurations.map { split(input, every: $0.size) }
        var times = [[Double]](repeating: [], count: configurations.count)
        for round in 0..<runs {
            for turn in 0..<configurations.count {
                let index = (round + turn) % configurations.count
                let configuration = configurations[index]
                // A producer's buffer, with the spare room the parser asks for (as the CLI reads files).
                var owned = pieces[index].map { piece in
                    var copy: [UInt8] = []
                    copy.reserveCapacity(piece.count + EnvelopeParser.padding)
                    copy.append(contentsOf: piece)
                    return copy
                }
                let runDirectory = root + "/data-\(UUID().uuidString)"
                let start = DispatchTime.now().uptimeNanoseconds
                var options = LogOptions()
                if let level { options.compressionLevel = level }
                let engine = try Engine(directory: runDirectory, options: options, catalog: catalog)
                for index in owned.indices {
                    // Hand the parser the only reference, so it can take the bytes over.
                    var ndjson: [UInt8] = []
                    swap(&ndjson, &owned[index])
                    try engine.append(try EnvelopeParser.parse(ndjson: consume ndjson, catalog: configuration.validating ? catalog : nil))
                }
                times[index].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                // The sizes, compaction and reads below use a log of the first configuration
                // (what `hindsight append FILE` makes); the other runs' logs go at once.
                if index == 0 {
                    if !directory.isEmpty { try FileManager.default.removeItem(atPath: directory) }
                    directory = runDirectory
                } else {
                    try FileManager.default.removeItem(atPath: runDirectory)
                }
            }
        }
        for (index, configuration) in configurations.enumerated() {
            let label = configuration.size == events ? "durable append (one batch)" : "durable append (batches of \(configuration.size))"
            report(
                configuration.validating ? label : label + ", envelope only", seconds: times[index].sorted()[runs / 2],
                events: events, megabytes: megabytes)
        }

        let appended = try LogReader(directory: directory).stats().storedBytes
        print(
            String(
                format: "stored as appended: %d bytes, %.1f bytes/event; stored / lz4 -9 %.3f",
                appended, Double(appended) / Double(events), Double(appended) / Double(lz4Sizes[9]!)))
        if appendOnly { return }

        // Compaction of what the last run appended, as `hindsight compact` does it.
        let compaction = try median(1) {
            let compacted = try EventLog(directory: directory).compact()
            precondition(compacted.events == UInt64(events), "compaction missed events")
        }
        report("compaction (level \(LZ4Frame.compactionLevel))", seconds: compaction, events: events, megabytes: megabytes)

        let reader = try LogReader(directory: directory)
        let verify = median(runs) { precondition(reader.verify().ok, "verification failed") }
        report("verification scan", seconds: verify, events: events, megabytes: megabytes)

        let scan = try median(runs) {
            var count = 0
            try reader.read(ReadQuery()) { _ in
                count += 1
                return true
            }
            precondition(count == events)
        }
        report("parsed scan", seconds: scan, events: events, megabytes: megabytes)

        let stats = try reader.stats()
        print(
            String(
                format:
                    "stored after compaction: %d bytes, %.1f bytes/event; raw input / stored %.2f; stored / lz4 -9 %.3f (target <= 1.1); stored NDJSON %d bytes",
                stats.storedBytes, Double(stats.storedBytes) / Double(events), Double(input.count) / Double(stats.storedBytes),
                Double(stats.storedBytes) / Double(lz4Sizes[9]!), stats.rawBytes))
        // The stored NDJSON differs from the input: the engine's fields, and personal data as
        // ciphertext, which no compressor can shrink. `lz4 -9` on it is the like-for-like ceiling.
        let storedPath = root + "/stored.ndjson"
        try shell("cat \(directory)/segments/*.lz4 | lz4 -q -dc > \(storedPath) && lz4 -q -f -9 \(storedPath) \(storedPath).lz4")
        let storedLZ4 = try FileManager.default.attributesOfItem(atPath: storedPath + ".lz4")[.size] as! Int
        print(
            String(
                format: "lz4 -9 of the stored NDJSON: %d bytes; stored / that %.3f", storedLZ4,
                Double(stats.storedBytes) / Double(storedLZ4)))

        try measureServe(directory: directory)
        try measureAudit(directory: directory)
        try measureAccess(directory: directory)
    }

    /// Times `rbac.check` in process, now and as of the log's middle seq and time: `count`
    /// questions each, their subject and resource drawn by `question`.
    private func timeChecks(
        _ db: SQLiteDatabase, _ reader: LogReader, count: Int,
        question: (inout SystemRandomNumberGenerator) -> (subject: String, resource: String)
    ) throws {
        var random = SystemRandomNumberGenerator()
        let permissions = ["project:deploy", "project:read", "database:restore", "function:deploy", "env:update"].map { Permission($0)! }
        var halfway: Int64 = 0
        var query = ReadQuery()
        query.from = reader.size / 2
        try reader.read(query) { event in
            halfway = event.occurredAtMs
            return false
        }
        for (name, when) in [
            ("now", AsOf.now), ("at seq halfway", .seq(reader.size / 2, occurredAt: halfway)),
            ("at a time", .time(halfway)),
        ] {
            var latencies: [Double] = []
            var allowed = 0
            for _ in 0..<count {
                let (subject, resource) = question(&random)
                let permission = permissions.randomElement(using: &random)!
                let start = DispatchTime.now().uptimeNanoseconds
                if try !AccessReadModel.check(subject, permission, resource, at: when, in: db).isEmpty { allowed += 1 }
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
            }
            latencies.sort()
            print(
                String(
                    format: "rbac.check %@: p50 %.0f µs, p99 %.0f µs (%d of %d allowed)", name, latencies[count / 2],
                    latencies[count * 99 / 100], allowed, count))
        }
    }

    /// The access read model on the history its targets name: appended as one validated
    /// batch, the model built from it, then `rbac.check` for random users and projects (now,
    /// as of a seq and a time) and `rbac.whoCan` on the project every user can read.
    private func measureAccessHistory() throws {
        let directory = scratch ?? NSTemporaryDirectory() + "hindsight-bench-access-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let history = AccessHistory()
        let input = history.ndjson(seed: seed)
        do {
            // The writer closes at the end of this block, so that `serve` can open the directory.
            try Engine(directory: directory).append(try EnvelopeParser.parse(ndjson: input, catalog: .standard))
        }
        let source = try EventSource(directory: directory)
        let reader = try LogReader(directory: directory)
        print("access history: \(reader.size) events (\(history.grants) grants, \(history.users) users, \(history.projects) projects)")
        // The baseline in the same run: every event of the history read and parsed, which the
        // build does first; the machine's speed of the moment shows in it.
        let scan = try median(runs) { try reader.read(ReadQuery()) { _ in true } }
        report("baseline: parsed scan of the history", seconds: scan, events: Int(reader.size), megabytes: 0)
        let db = try build(AccessReadModel(), directory: directory, reader: reader, source: source)
        try timeChecks(db, reader, count: 5000) { random in
            (
                "usr_\(Int.random(in: 1...history.users, using: &random))",
                "project/prj_\(Int.random(in: 1...history.projects, using: &random))"
            )
        }
        var latencies: [Double] = []
        var subjects = 0
        for _ in 0..<20 {
            let start = DispatchTime.now().uptimeNanoseconds
            subjects = try AccessReadModel.whoCan(Permission(.project, .read), "project/prj_1", at: .now, in: db).count
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
        }
        latencies.sort()
        print(
            String(
                format: "rbac.whoCan project:read on prj_1: median %.1f ms, slowest %.1f ms (%d subjects)", latencies[10] / 1000,
                latencies[19] / 1000, subjects))
        try measureServe(
            directory: directory,
            requests: [
                (
                    "rbac.check",
                    #"{"jsonrpc":"2.0","id":1,"method":"rbac.check","params":{"subject":"usr_4242","permission":"project:deploy","resource":"project/prj_777"}}"#
                ),
                (
                    "rbac.check at a time",
                    #"{"jsonrpc":"2.0","id":2,"method":"rbac.check","params":{"subject":"usr_4242","permission":"project:read","resource":"project/prj_777","at":"2026-02-01T00:00:00.000Z"}}"#
                ),
            ], pipelined: 20_000, oneByOne: 5_000)
    }

    /// The access read model: built from the log alone, then `rbac.check` in process for
    /// users and projects of the workload, now and as of a past seq and time.
    /// Audit exports of the whole workload (`jsonl` and `csv`), each verified by
    /// `ExportVerifier` (what `hindsight verify-export` runs) and by Tools/verify_export.py;
    /// the baselines in the same run are `openssl dgst -sha256` and `lz4 -dc` of the bundle's stored lines,
    /// the least any checker of the file has to do.
    private func measureExports() throws {
        let root = scratch ?? NSTemporaryDirectory() + "hindsight-bench-exports-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/data"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Engine(directory: directory).append(
            try EnvelopeParser.parse(ndjson: WorkloadGenerator.ndjson(count: events, seed: seed), catalog: .standard))
        let source = try EventSource(directory: directory)
        let reader = try LogReader(directory: directory)
        let key = try SigningKey(name: "bench")
        let checkpoints = CheckpointStore(dataDirectory: directory)
        print("exports: \(reader.size) events; median of \(runs) runs")
        let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "verify_export.py"
        ).path
        for format in ExportFormat.allCases {
            let bundle = root + "/bundle-\(format.rawValue)"
            let removeBundle = { try? FileManager.default.removeItem(atPath: bundle) }
            let export = try median(runs, prepare: removeBundle) { _ in
                _ = try AuditExport.write(
                    AuditExport.Request(format: format), reader: reader, events: source, key: key,
                    checkpoints: checkpoints, to: try ExportDestination.resolve(bundle, policy: .asNamed, dataDirectory: directory))
            }
            let size = { (file: String) in (try? FileManager.default.attributesOfItem(atPath: bundle + "/" + file)[.size] as? Int) ?? 0 }
            let megabytes = Double(size("events.ndjson")) / 1e6
            report(
                "export audit, \(format.rawValue)", seconds: export, events: Int(reader.size), megabytes: megabytes,
                extra: String(
                    format: "proof.json %d bytes: %.5f%% of the stored lines", size("proof.json"),
                    100 * Double(size("proof.json")) / Double(size("events.ndjson"))))
            let verify = try median(runs) { _ = try ExportVerifier.verify(bundle, key: key.verifier) }
            report("verify-export, \(format.rawValue)", seconds: verify, events: Int(reader.size), megabytes: megabytes)
            let independent = try median(1) { try shell("python3 \(python) \(bundle) --key '\(key.verifier)' > /dev/null") }
            report("Tools/verify_export.py, \(format.rawValue)", seconds: independent, events: Int(reader.size), megabytes: megabytes)
        }
        let stored = root + "/stored.ndjson"
        try shell("cp \(root)/bundle-jsonl/events.ndjson \(stored) && lz4 -q -f -1 \(stored) \(stored).lz4")
        let megabytes = Double((try FileManager.default.attributesOfItem(atPath: stored)[.size] as? Int) ?? 0) / 1e6
        report(
            "baseline: openssl dgst -sha256 of the stored lines",
            seconds: try median(runs) { try shell("openssl dgst -sha256 \(stored) > /dev/null") },
            events: Int(reader.size), megabytes: megabytes)
        report(
            "baseline: lz4 -dc of the stored lines", seconds: try median(runs) { try shell("lz4 -q -dc \(stored).lz4 > /dev/null") },
            events: Int(reader.size), megabytes: megabytes)
    }

    /// The analytics read models (builds, functions, metrics, webhooks, alerts): each one's
    /// build from the log and the five together, and `analytics.builds` as of a seq,
    /// `analytics.functions` over the whole history (the million-event workload spans 30
    /// days) for one project and for an org, and `analytics.metrics`.
    private func measureAnalytics(directory: String) throws {
        let source = try EventSource(directory: directory)
        let reader = try LogReader(directory: directory)
        let started = DispatchTime.now().uptimeNanoseconds
        let buildsDB = try build(BuildsReadModel(), directory: directory, reader: reader, source: source)
        let functionsDB = try build(FunctionsReadModel(), directory: directory, reader: reader, source: source)
        let metricsDB = try build(MetricsReadModel(), directory: directory, reader: reader, source: source)
        _ = try build(WebhooksReadModel(), directory: directory, reader: reader, source: source)
        _ = try build(AlertsReadModel(), directory: directory, reader: reader, source: source)
        print(
            String(
                format: "the five analytics models: %.2f s for %d runs of each build",
                Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, runs))
        // The build trend of an org as it stood at a seq: added up again from the week's events in the log.
        var asOf: [Double] = []
        for index in 0..<20 {
            let seq = reader.size / 4 + UInt64(index) * (reader.size / 40)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try BuildsReadModel.builds(
                scope: "org/org_1", days: 7, endingAt: reader.occurredAt(seq), occurredBy: nil, throughSeq: seq,
                reader: reader, in: buildsDB)
            asOf.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
        }
        asOf.sort()
        print(String(format: "analytics.builds, one org, 7 days, at a seq: p50 %.1f ms, slowest %.1f ms", asOf[10] / 1000, asOf[19] / 1000))
        var scopes: [String: [String]] = [:]
        let rows = try functionsDB.statement("SELECT DISTINCT scope FROM analytics_function_week")
        while try rows.step() {
            let scope = rows.text(0) ?? ""
            scopes[String(scope.prefix { $0 != "/" }), default: []].append(scope)
        }
        rows.finish()
        for kind in ["project", "org"] {
            let candidates = scopes[kind] ?? []
            guard !candidates.isEmpty else { continue }
            var latencies: [Double] = []
            var invocations: Int64 = 0
            for index in 0..<400 {
                let start = DispatchTime.now().uptimeNanoseconds
                var total = FunctionsReadModel.InvocationFigures()
                for cell in try FunctionsReadModel.invocations(
                    scope: candidates[index % candidates.count], from: nil, to: nil, in: functionsDB)
                {
                    total.merge(cell.figures)
                }
                _ = (total.durations.quantile(0.5), total.durations.quantile(0.95), total.durations.quantile(0.99))
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
                invocations = max(invocations, total.invocations)
            }
            latencies.sort()
            print(
                String(
                    format: "analytics.functions, one %@, whole history: p50 %.0f µs, p99 %.0f µs (%d scopes, at most %lld invocations)",
                    kind, latencies[200], latencies[395], candidates.count, invocations))
        }
        // A metric over 30 days at one-hour steps, for every value of it and for one project's.
        let first = try metricsDB.statement("SELECT name, tags FROM analytics_metric_week WHERE tags LIKE 'project=%' LIMIT 1")
        guard try first.step(), let name = first.text(0), let tags = first.text(1) else { return first.finish() }
        first.finish()
        let project = tags.split(separator: ",")[0].split(separator: "=")
        for filter in [[], [(name: String(project[0]), value: String(project[1]))]] {
            var latencies: [Double] = []
            var steps = 0
            for _ in 0..<200 {
                let start = DispatchTime.now().uptimeNanoseconds
                let series = try MetricsReadModel.metric(
                    name, tags: filter, from: 1_767_225_600_000, to: 1_767_225_600_000 + 30 * 86_400_000,
                    stepSec: 3600, in: metricsDB)
                _ = series.map { ($0.figures.average, $0.figures.values.quantile(0.95)) }
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
                steps = series.count
            }
            latencies.sort()
            print(
                String(
                    format: "analytics.metrics %@%@, 30 days at 1-hour steps: p50 %.0f µs, p99 %.0f µs (%d steps)",
                    name, filter.isEmpty ? "" : " for \(filter[0].name)=\(filter[0].value)", latencies[100], latencies[198], steps))
        }
        // Steps shorter than an hour are added up from the log: one day at ten-minute steps, 20 days apart.
        var latencies: [Double] = []
        var steps = 0
        for day in 0..<20 {
            let start = DispatchTime.now().uptimeNanoseconds
            let from = 1_767_225_600_000 + Int64(day) * 86_400_000
            let series = try MetricsReadModel.metric(
                name, tags: [], from: from, to: from + 86_399_999, stepSec: 600, throughSeq: reader.size, reader: reader)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
            steps = series.count
        }
        latencies.sort()
        print(
            String(
                format: "analytics.metrics %@, one day at 10-minute steps (from the log): p50 %.1f ms, slowest %.1f ms (%d steps)",
                name, latencies[10] / 1000, latencies[19] / 1000, steps))
    }

    private func measureAccess(directory: String) throws {
        let source = try EventSource(directory: directory)
        let reader = try LogReader(directory: directory)
        let db = try build(AccessReadModel(), directory: directory, reader: reader, source: source)
        try timeChecks(db, reader, count: 2000) { random in
            let org = Int.random(in: 1...8, using: &random)
            return ("usr_\(org)_\(Int.random(in: 1...40, using: &random))", "project/prj_\(org)_\(Int.random(in: 1...20, using: &random))")
        }
        var random = SystemRandomNumberGenerator()
        var latencies: [Double] = []
        var largest = 0
        for _ in 0..<200 {
            let resource = "project/prj_\(Int.random(in: 1...8, using: &random))_\(Int.random(in: 1...20, using: &random))"
            let start = DispatchTime.now().uptimeNanoseconds
            largest = max(largest, try AccessReadModel.whoCan(Permission(.project, .read), resource, at: .now, in: db).count)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
        }
        latencies.sort()
        print(
            String(
                format: "rbac.whoCan project:read on a project: p50 %.0f µs, p99 %.0f µs (at most %d subjects)", latencies[100],
                latencies[198], largest))
    }

    /// `hindsight serve` on the compacted log, over pipes: simple read requests (`log.stats`
    /// and a one-event `log.read`) sent all at once for throughput, then one at a time for
    /// latency. Needs the `hindsight` binary beside this one (`swift build -c release`).
    private func measureServe(
        directory: String,
        requests: [(name: String, request: String)] = [
            ("log.stats", #"{"jsonrpc":"2.0","id":1,"method":"log.stats"}"#),
            ("log.read, one event", #"{"jsonrpc":"2.0","id":2,"method":"log.read","params":{"from":500000,"limit":1}}"#),
        ],
        pipelined count: Int = 100_000, oneByOne: Int = 20_000
    ) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("hindsight").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("serve: skipped, build the hindsight binary too (swift build -c release)")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--data", directory]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let reader = output.fileHandleForReading
        var buffered = Data()
        func readLine() -> Data {
            while true {
                if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffered[buffered.startIndex..<newline]
                    buffered = buffered[(newline + 1)...]
                    return Data(line)
                }
                let more = reader.availableData
                precondition(!more.isEmpty, "serve stopped answering")
                buffered += more
            }
        }
        for (method, request) in requests {
            // Throughput: many requests in flight, answers read as they come.
            let batch = Data(String(repeating: request + "\n", count: count).utf8)
            let start = DispatchTime.now().uptimeNanoseconds
            let writer = Thread { input.fileHandleForWriting.write(batch) }
            writer.start()
            for _ in 0..<count { _ = readLine() }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            // Latency: one request at a time.
            var latencies: [Double] = []
            let line = Data((request + "\n").utf8)
            for _ in 0..<oneByOne {
                let sent = DispatchTime.now().uptimeNanoseconds
                input.fileHandleForWriting.write(line)
                _ = readLine()
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - sent) / 1e3)
            }
            latencies.sort()
            print(
                String(
                    format: "serve, %@: %.0f requests/s pipelined; one at a time p50 %.0f µs, p99 %.0f µs",
                    method, Double(count) / seconds, latencies[latencies.count / 2], latencies[latencies.count * 99 / 100]))
        }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// The audit read model: built from the whole log, then searched with each filter.
    private func measureAudit(directory: String) throws {
        try? FileManager.default.removeItem(atPath: directory + "/projections")
        let source = try EventSource(directory: directory)
        let reader = try LogReader(directory: directory)
        let db = try build(AuditReadModel(), directory: directory, reader: reader, source: source)
        var filters: [(String, AuditReadModel.Search)] = []
        func add(_ name: String, _ change: (inout AuditReadModel.Search) -> Void) {
            var search = AuditReadModel.Search()
            change(&search)
            filters.append((name, search))
        }
        add("actor") { $0.actor = "usr_3_4" }
        add("org") { $0.org = "org_2" }
        add("types") { $0.types = ["role.granted"] }
        add("typePrefix") { $0.narrow(toTypesWithPrefix: "backup.", among: Catalog.standard.types) }
        add("resource") { $0.resource = "project/prj_1_1" }
        add("time range") {
            $0.from = 1_768_003_200_000
            $0.to = 1_768_089_600_000
        }  // 10 January 2026
        // `at`: as of a seq halfway, and as of a time (what `audit.search` does with them).
        add("actor, at seq 500,000") {
            $0.actor = "usr_3_4"
            $0.upTo = 500_000
        }
        add("org, at 10 January 2026") {
            $0.org = "org_2"
            $0.to = 1_768_003_200_000
        }
        // A page deep in history, where no recent chunk holds the lines.
        add("actor, page below seq 300,000") {
            $0.actor = "usr_3_4"
            $0.before = 300_000
        }
        for (name, search) in filters {
            var latencies: [Double] = []
            for _ in 0..<1000 {
                let start = DispatchTime.now().uptimeNanoseconds
                let page = try AuditReadModel.search(search, in: db)
                for line in try reader.lines(at: page.events) { _ = source.present(try StoredEvent(storedLine: line)) }
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
            }
            latencies.sort()
            print(String(format: "audit.search by %@, 50 records: p50 %.0f µs, p99 %.0f µs", name, latencies[500], latencies[990]))
        }
    }

    /// An inventory model built from the whole log, then each of its questions asked 1,000
    /// times in process, now, at a seq halfway and at that event's time; `questions` gets the
    /// model's database and gives each question as a label and a body (the question's number,
    /// the moment) that answers it and returns how many items it listed.
    private func measureInventory(
        _ model: any ReadModel, directory: String,
        questions: (SQLiteDatabase) throws -> [(String, (Int, AsOf) throws -> Int)]
    ) throws {
        try? FileManager.default.removeItem(atPath: directory + "/projections")
        let source = try EventSource(directory: directory)
        let reader = try LogReader(directory: directory)
        let db = try build(model, directory: directory, reader: reader, source: source)
        let asked = try questions(db)
        let half = reader.size / 2
        let moments: [(String, AsOf)] = [
            ("now", .now), ("at seq halfway", .seq(half, occurredAt: try reader.occurredAt(half))),
            ("at a time", .time(try reader.occurredAt(half))),
        ]
        for (label, when) in moments {
            for (name, ask) in asked {
                var latencies: [Double] = []
                var listed = 0
                for index in 0..<1000 {
                    let start = DispatchTime.now().uptimeNanoseconds
                    listed = try ask(index, when)
                    latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
                }
                latencies.sort()
                print(String(format: "%@, %@: p50 %.0f µs, p99 %.0f µs (%d listed)", name, label, latencies[500], latencies[990], listed))
            }
        }
    }

    /// The tokens model: `tokens.list` of one owner and of every owner (`tokens.stale` is the
    /// list of every owner, filtered).
    private func measureTokens(directory: String) throws {
        try measureInventory(TokensReadModel(), directory: directory) { db in
            let owners = try TokensReadModel.tokens(at: .now, in: db).map(\.owner)
            guard !owners.isEmpty else { return [] }
            return [
                (
                    "tokens.list of one owner",
                    { try TokensReadModel.tokens(owner: owners[$0 % owners.count], at: $1, in: db).count }
                ),
                ("tokens.list of every owner", { _, when in try TokensReadModel.tokens(at: when, in: db).count }),
            ]
        }
    }

    /// The databases model: `databases.list` of one project and of every project (as
    /// `backups.overdue` reads it), and `backups.list` of one database.
    private func measureDatabases(directory: String) throws {
        try measureInventory(DatabasesReadModel(), directory: directory) { db in
            let all = try DatabasesReadModel.databases(at: .now, in: db)
            guard !all.isEmpty else { return [] }
            return [
                (
                    "databases.list of one project",
                    { try DatabasesReadModel.databases(project: all[$0 % all.count].project, at: $1, in: db).count }
                ),
                (
                    "databases.list of every project (and backups.overdue)",
                    { _, when in try DatabasesReadModel.databases(at: when, in: db).count }
                ),
                (
                    "backups.list of one database",
                    { try DatabasesReadModel.backups(of: all[$0 % all.count].database, at: $1, in: db).count }
                ),
            ]
        }
    }

    /// The settings model: `settings.env` of one project, and `settings.domains` of one project
    /// and of every project.
    private func measureSettings(directory: String) throws {
        try measureInventory(SettingsReadModel(), directory: directory) { db in
            let projects = Array(Set(try SettingsReadModel.domains(project: nil, at: .now, in: db).map(\.project))).sorted()
            guard !projects.isEmpty else { return [] }
            return [
                (
                    "settings.env of one project",
                    { try SettingsReadModel.variables(of: projects[$0 % projects.count], target: nil, at: $1, in: db).count }
                ),
                (
                    "settings.domains of one project",
                    { try SettingsReadModel.domains(project: projects[$0 % projects.count], at: $1, in: db).count }
                ),
                ("settings.domains of every project", { _, when in try SettingsReadModel.domains(project: nil, at: when, in: db).count }),
            ]
        }
    }

    /// The teams model: `teams.members` of one team, and `teams.invitations` of one team with
    /// the invitees' e-mails read from the log and shown through the vault, as the method does.
    private func measureTeams(directory: String) throws {
        let (reader, source) = (try LogReader(directory: directory), try EventSource(directory: directory))
        try measureInventory(TeamsReadModel(), directory: directory) { db in
            let listed = try db.statement("SELECT DISTINCT team FROM team_invitation ORDER BY team")
            var teams: [String] = []
            while try listed.step() { teams.append(listed.text(0) ?? "") }
            listed.finish()
            guard !teams.isEmpty else { return [] }
            return [
                ("teams.members of one team", { try TeamsReadModel.members(of: teams[$0 % teams.count], at: $1, in: db).count }),
                (
                    "teams.invitations of one team, e-mails read",
                    { index, when in
                        let invitations = try TeamsReadModel.invitations(of: teams[index % teams.count], at: when, in: db)
                        let lines = try reader.lines(at: invitations.map { (UInt64($0.invitedSeq), UInt64($0.contentOffset)) })
                        for line in lines { _ = source.present(try StoredEvent(storedLine: line), upcast: true) }
                        return lines.count
                    }
                ),
            ]
        }
    }

    /// The NDJSON cut into pieces of `size` lines.
    private func split(_ input: [UInt8], every size: Int) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var lines = 0
        for (index, byte) in input.enumerated() where byte == UInt8(ascii: "\n") {
            lines += 1
            if lines == size || index == input.count - 1 {
                pieces.append(input[start...index])
                start = index + 1
                lines = 0
            }
        }
        return pieces
    }

    /// Rebuilds a read model from the whole log `runs` times, reports the median, and returns
    /// the database of the last build.
    private func build(_ model: any ReadModel, directory: String, reader: LogReader, source: EventSource) throws -> SQLiteDatabase {
        var projections: Projections?
        let seconds = try median(runs) {
            let models = try Projections(source: source, models: [model])
            try models.rebuild(model.name) { () throws(LogError) in reader }
            projections = models
        }
        report("\(model.name) read model build", seconds: seconds, events: Int(reader.size), megabytes: 0)
        return projections!.database(model.name)!
    }

    /// The five analytics models as a first catch-up builds them: together, in one pass over
    /// the log (`--model together`; also part of every `--read-models-only` run).
    private func measureTogether(directory: String) throws {
        let (source, reader) = (try EventSource(directory: directory), try LogReader(directory: directory))
        let analytics: [any ReadModel] = [
            BuildsReadModel(), FunctionsReadModel(), MetricsReadModel(), WebhooksReadModel(), AlertsReadModel(),
        ]
        let together = try median(runs) {
            try removeFiles(of: analytics.map(\.name), in: directory)
            try Projections(source: source, models: analytics).catchUp(reader)
        }
        report("the five analytics models built together", seconds: together, events: Int(reader.size), megabytes: 0)
    }

    /// Removes every file of the named read models (each generation, its locks and journals),
    /// so that the next catch-up builds them.
    private func removeFiles(of models: [String], in directory: String) throws {
        let folder = directory + "/projections"
        for file in try FileManager.default.contentsOfDirectory(atPath: folder) where models.contains(where: { file.hasPrefix($0 + ".") }) {
            try FileManager.default.removeItem(atPath: folder + "/" + file)
        }
    }

    private func median<T>(_ runs: Int, prepare: () -> T, _ body: (consuming T) throws -> Void) rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<runs {
            let input = prepare()
            let start = DispatchTime.now().uptimeNanoseconds
            try body(input)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    private func median(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
        let nothing = {}
        return try median(runs, prepare: nothing) { _ in try body() }
    }

    private func report(_ name: String, seconds: Double, events: Int, megabytes: Double, extra: String = "") {
        let label = name.padding(toLength: 50, withPad: " ", startingAt: 0)
        let line = label + String(format: "%8.3f s %12.0f events/s %8.0f MB/s", seconds, Double(events) / seconds, megabytes / seconds)
        print(extra.isEmpty ? line : line + "   " + extra)
    }

    private func shell(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("`\(command)` failed") }
    }
}
