import Dispatch
public import HindsightCore

/// Functions: per function, project and org, per UTC hour, runtime (of the function's latest
/// deployment when it ran) and mode: invocations, errors, timeouts, cold starts, and a sketch
/// of the durations. The figures are kept per hour inside a row per week (`HourlyCells`): they
/// are sparse (a function runs a few times a day), and a row per hour was about a row per
/// event to write. Every deployment is kept too, so that the model as of a past moment can be
/// folded from the first invocation of a question's window rather than from seq 1.
public final class FunctionsReadModel: ReadModel {
    public let name = "functions"
    public let version = 2
    public let types: Set<String>? = ["function.deployed", "function.invoked"]
    /// The callers earlier batches met, for the next ones to start from.
    private let knownCallers = KnownNames<CallerNames> { $0.texts.count }

    public init() {}

    /// Batches of 300,000 events merge fewer week rows into what earlier batches stored.
    public let buildBatch = 300_000

    /// Pages of 64 KiB: a week's row of an org's invocations holds many kilobytes, which on
    /// small pages spilled into overflow chains that every merge of a batch into the row
    /// rewrote (a build took 5% longer).
    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute("PRAGMA page_size = 65536")
        try db.execute(
            """
            CREATE TABLE analytics_function (function TEXT PRIMARY KEY, runtime TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE analytics_function_deployment (function TEXT NOT NULL, seq INTEGER NOT NULL, occurred_at INTEGER NOT NULL,
                                                        runtime TEXT NOT NULL, PRIMARY KEY (function, seq)) WITHOUT ROWID;
            CREATE TABLE analytics_function_week (scope TEXT NOT NULL, week INTEGER NOT NULL, runtime TEXT NOT NULL, mode TEXT NOT NULL,
                                                  invocations INTEGER NOT NULL, hours BLOB NOT NULL,
                                                  PRIMARY KEY (week, scope, runtime, mode)) WITHOUT ROWID;
            """)
    }

    /// Invocations of one function in one project, org, week and mode, between two of its
    /// deployments in a batch: `epoch` counts the function's deployments earlier in the batch
    /// (0: it runs the runtime it had before the batch). They count in the function's row,
    /// to which they are added as they are (`stored`, encoded while the batch is read), and in
    /// the rows of `groups`, its project's and its org's, with the other functions there.
    struct Invocations: Sendable {
        let function: String
        let scope: String
        let groups: [String]
        let week: Int64
        let mode: String
        let epoch: Int
        let cells: HourlyCells<InvocationFigures>
        let count: Int64
        let stored: [UInt8]
    }

    public struct Batch: Sendable {
        /// Each function's deployments in the batch, in seq order: the runtimes its
        /// invocations ran (`Invocations.epoch` counts the deployments before them).
        let deployments: [(function: String, runtime: String, seq: Int64, occurredAt: Int64)]
        /// Invocations added up by hour while the batch is read: applying it then costs a
        /// statement per function and week, not per invocation.
        let invocations: [Invocations]
    }

    /// What tells a caller's invocations apart in a batch: the week, and the function's
    /// deployments earlier in the batch.
    struct InvocationWeek: Equatable {
        let week: Int64
        let epoch: Int
    }

    /// Functions called from a project, org and mode, numbered like `SeriesNames`, with each
    /// function's deployments so far in the batch.
    struct CallerNames: Sendable {
        var texts = TextNumbers()
        var callers: [(function: Int, key: (function: String, scope: String, groups: [String], mode: String))] = []
        var functionByName: [String: Int] = [:]
        var deployments: [Int] = []

        /// Ready for another batch: every function's deployments counted from zero again.
        mutating func startBatch() {
            deployments = [Int](repeating: 0, count: deployments.count)
        }

        /// The number of a function, known or new.
        mutating func function(_ name: String) -> Int {
            if let known = functionByName[name] { return known }
            functionByName[name] = deployments.count
            deployments.append(0)
            return deployments.count - 1
        }

        /// The number of the caller of an invocation; nil when it lacks a string field.
        mutating func caller(_ data: StoredLine.DataFields, org: String) -> Int? {
            guard let function = data.text("function"), let project = data.text("project"), let mode = data.text("mode"),
                Analytics.isString(function), Analytics.isString(project), Analytics.isString(mode)
            else { return nil }
            let (number, new) = texts.number(function, project, mode, tag: org)
            guard new else { return number }
            let name = data["function"] ?? ""
            let key = (
                function: name, scope: "function/" + name, groups: ["project/" + (data["project"] ?? ""), "org/" + org],
                mode: data["mode"] ?? ""
            )
            callers.append((self.function(name), key))
            return number
        }
    }

    /// The invocations of a batch, added up by week and hour, and its deployments.
    public func prepare(_ events: [ProjectedEvent]) -> Batch {
        var names = knownCallers.take() ?? CallerNames()
        names.startBatch()
        defer { knownCallers.putBack(names) }
        var deployments: [(function: String, runtime: String, seq: Int64, occurredAt: Int64)] = []
        var invocations = Analytics.NamedCells<InvocationWeek, InvocationFigures>()
        for event in events {
            switch event.stored.type {
            case "function.invoked":
                let stored = event.stored
                let data = StoredLine.DataFields(stored.line)
                guard let caller = names.caller(data, org: stored.org), let durationMs = data.integer("durationMs"),
                    let coldStart = data.bool("coldStart"), let status = data["status"]
                else { continue }
                let hour = Analytics.hour(stored.occurredAtMs)
                let week = InvocationWeek(
                    week: HourlyCells<InvocationFigures>.week(ofHour: hour), epoch: names.deployments[names.callers[caller].function])
                invocations.modify(caller, week, atHour: hour) { $0.count(status: status, coldStart: coldStart, durationMs: durationMs) }
            case "function.deployed":
                let data = StoredLine.DataFields(event.stored.line)
                guard let function = data["function"] else { continue }
                names.deployments[names.function(function)] += 1
                if let runtime = data["runtime"] {
                    deployments.append((function, runtime, Int64(event.stored.seq), event.stored.occurredAtMs))
                }
            default: continue
            }
        }
        return Batch(
            deployments: deployments,
            invocations: invocations.byNumber.enumerated().flatMap { number, weeks in
                let caller = names.callers[number].key
                return weeks.map { week, hours in
                    Invocations(
                        function: caller.function, scope: caller.scope, groups: caller.groups, week: week.week, mode: caller.mode,
                        epoch: week.epoch,
                        cells: hours, count: hours.total(\.invocations), stored: hours.encoded)
                }
            })
    }

    /// A row of `analytics_function_week`.
    struct FunctionWeekKey: Hashable {
        let scope: String
        let week: Int64
        let runtime: String
        let mode: String
    }

    public func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError) {
        try db.defineBlobFunction("hindsight_invocation_hours_merge") { HourlyCells<InvocationFigures>.merged($0, $1) }
        var weeks: [FunctionWeekKey: HourlyCells<InvocationFigures>] = [:]
        // Each function's runtime before the batch, then after each of its deployments in it.
        var runtimes: [String: [String]] = [:]
        for function in Set(batch.invocations.map(\.function)) {
            let row = try db.statement("SELECT runtime FROM analytics_function WHERE function = ?").bind(1, function)
            runtimes[function] = [try row.step() ? row.text(0) ?? "unknown" : "unknown"]
            row.finish()
        }
        for (function, runtime, seq, occurredAt) in batch.deployments {
            try db.statement("INSERT OR REPLACE INTO analytics_function VALUES (?, ?)").bind(1, function).bind(2, runtime).run()
            try db.statement("INSERT INTO analytics_function_deployment VALUES (?, ?, ?, ?)").bind(1, function).bind(2, seq)
                .bind(3, occurredAt).bind(4, runtime).run()
            runtimes[function, default: ["unknown"]].append(runtime)
        }
        // A row is inserted, or added to what it holds (its hours merged in SQL).
        let upsert = try db.statement(
            """
            INSERT INTO analytics_function_week VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (week, scope, runtime, mode) DO UPDATE SET invocations = invocations + excluded.invocations,
                hours = hindsight_invocation_hours_merge(hours, excluded.hours)
            """)
        for invocations in batch.invocations {
            let known = runtimes[invocations.function] ?? ["unknown"]
            let runtime = known[min(invocations.epoch, known.count - 1)]
            try upsert.reset().bind(1, invocations.scope).bind(2, invocations.week).bind(3, runtime).bind(4, invocations.mode)
                .bind(5, invocations.count).bind(6, blob: invocations.stored).run()
            for scope in invocations.groups {
                weeks[
                    FunctionWeekKey(scope: scope, week: invocations.week, runtime: runtime, mode: invocations.mode), default: HourlyCells()
                ]
                .merge(invocations.cells)
            }
        }
        for (key, added) in weeks {
            try upsert.reset().bind(1, key.scope).bind(2, key.week).bind(3, key.runtime).bind(4, key.mode)
                .bind(5, added.total(\.invocations)).bind(6, blob: added.encoded).run()
        }

    }

    // MARK: - Questions

    /// Puts in `memory` (a fresh model, before it folds the events from seq `seq` on) each
    /// function's runtime as its deployments before `seq` left it, of those that occurred by
    /// `occurredBy` (nil: all), read from the deployments `built` keeps: what the events before
    /// `seq` would have told the fold.
    public static func startRuntimes(before seq: UInt64, occurredBy: Int64?, from built: SQLiteDatabase, into memory: SQLiteDatabase)
        throws(LogError)
    {
        // SQLite takes the bare columns of an aggregate query from the row holding the max.
        let latest = try built.statement(
            """
            SELECT function, runtime, max(seq) FROM analytics_function_deployment WHERE seq < ? AND occurred_at <= ? GROUP BY function
            """
        ).bind(1, Int64(clamping: seq)).bind(2, occurredBy ?? Int64.max)
        defer { latest.finish() }
        let insert = try memory.statement("INSERT INTO analytics_function VALUES (?, ?)")
        while try latest.step() {
            try insert.reset().bind(1, latest.text(0) ?? "").bind(2, latest.text(1) ?? "").run()
        }
    }

    /// Invocations of a scope (`function/ID`, `project/ID` or `org/ID`) in the UTC hours from
    /// the one holding `from` to the one holding `to` (milliseconds; nil: unbounded), per
    /// runtime and mode.
    public static func invocations(scope: String, from: Int64?, to: Int64?, in db: SQLiteDatabase)
        throws(LogError) -> [(runtime: String, mode: String, figures: InvocationFigures)]
    {
        let (first, last) = (from.map(Analytics.hour) ?? Int64.min, to.map(Analytics.hour) ?? Int64.max)
        guard first <= last else { return [] }
        let hours = first...last
        var cells: [String: InvocationFigures] = [:]
        let rows = try db.statement("SELECT runtime, mode, hours FROM analytics_function_week WHERE week = ? AND scope = ?")
        defer { rows.finish() }
        for week in try Analytics.weeks(of: hours, of: HourlyCells<InvocationFigures>.self, in: "analytics_function_week", db) {
            _ = rows.reset().bind(1, week).bind(2, scope)
            while try rows.step() {
                let key = (rows.text(0) ?? "") + "\u{0}" + (rows.text(1) ?? "")
                let start = week * HourlyCells<InvocationFigures>.hoursPerWeek
                guard let stored = HourlyCells<InvocationFigures>(encoded: rows.blob(2)[...]) else {
                    throw Analytics.unreadable("analytics_function_week", scope, model: "functions")
                }
                for entry in stored.hours where hours.contains(start + entry.hour) {
                    cells[key, default: InvocationFigures()].merge(entry.figures)
                }
            }
        }
        return cells.sorted { $0.key < $1.key }.map { key, figures in
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            return (String(parts[0]), String(parts[1]), figures)
        }
    }

    /// Invocations over a range: counts and a sketch of their durations.
    public struct InvocationFigures: Sendable {
        public var invocations: Int64 = 0, errors: Int64 = 0, timeouts: Int64 = 0, coldStarts: Int64 = 0
        public var durations = QuantileSketch()

        public init() {}

        public var errorRate: Double? { invocations == 0 ? nil : Double(errors) / Double(invocations) }
        public var timeoutRate: Double? { invocations == 0 ? nil : Double(timeouts) / Double(invocations) }
        public var coldStartRate: Double? { invocations == 0 ? nil : Double(coldStarts) / Double(invocations) }

        /// Adds one invocation, in place (a copy would copy the sketch).
        mutating func count(status: String, coldStart: Bool, durationMs: Int64) {
            invocations += 1
            if status == "error" { errors += 1 }
            if status == "timeout" { timeouts += 1 }
            if coldStart { coldStarts += 1 }
            durations.add(Double(durationMs))
        }

        public mutating func merge(_ other: InvocationFigures) {
            invocations += other.invocations
            errors += other.errors
            timeouts += other.timeouts
            coldStarts += other.coldStarts
            durations.merge(other.durations)
        }
    }

}

extension FunctionsReadModel.InvocationFigures: HourlyFigures {
    func encode(into out: inout [UInt8]) {
        Varint.append(UInt64(invocations), to: &out)
        Varint.append(UInt64(errors), to: &out)
        Varint.append(UInt64(timeouts), to: &out)
        Varint.append(UInt64(coldStarts), to: &out)
        Varint.appendCounted(to: &out) { durations.encode(into: &$0) }
    }

    init?(from reader: inout ByteReader) {
        self.init()
        guard let invocations = reader.varint(), let errors = reader.varint(), let timeouts = reader.varint(),
            let coldStarts = reader.varint(),
            let length = reader.varint(), let sketch = reader.take(Int(clamping: length)), durations.merge(encoded: sketch)
        else { return nil }
        (self.invocations, self.errors, self.timeouts, self.coldStarts) = (
            Int64(invocations), Int64(errors), Int64(timeouts), Int64(coldStarts)
        )
    }

    static func skip(_ reader: inout ByteReader) -> Bool {
        for _ in 0..<4 { guard reader.varint() != nil else { return false } }
        return reader.varint().flatMap { reader.take(Int(clamping: $0)) } != nil
    }
}
