public import HindsightCore
public import HindsightLog

/// Builds, per project and per org and per UTC day of `occurredAt` (so an event recorded late
/// lands on the day it happened): queued, succeeded, failed and canceled counts, cache
/// restores and hits, and the durations of finished builds (succeeded or failed) and of each
/// step name as mergeable sketches (`QuantileSketch`), so that the percentiles of any run of
/// days come from merging the days' sketches, never from stored samples.
public final class BuildsReadModel: ReadModel {
    public let name = "builds"
    public let version = 1
    public let types: Set<String>? = BuildsReadModel.buildTypes

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE analytics_build (build TEXT PRIMARY KEY, project TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE analytics_build_day (scope TEXT NOT NULL, day INTEGER NOT NULL, queued INTEGER NOT NULL,
                                              succeeded INTEGER NOT NULL, failed INTEGER NOT NULL, canceled INTEGER NOT NULL,
                                              cache_hits INTEGER NOT NULL, cache_restores INTEGER NOT NULL, durations BLOB NOT NULL,
                                              PRIMARY KEY (scope, day)) WITHOUT ROWID;
            CREATE TABLE analytics_build_step_day (scope TEXT NOT NULL, day INTEGER NOT NULL, step TEXT NOT NULL, durations BLOB NOT NULL,
                                                   PRIMARY KEY (scope, day, step)) WITHOUT ROWID;
            """)
    }

    /// What one build event adds, read from it while the batch is prepared.
    enum Fold: Sendable {
        case queued(build: String, project: String)
        case finished(project: String, outcome: Outcome, durationMs: Int64?)
        case cacheRestored(build: String, hit: Bool)
        case step(build: String, step: String, durationMs: Int64)
    }

    enum Outcome: Sendable { case succeeded, failed, canceled }

    public struct Batch: Sendable {
        let folds: [(fold: Fold, org: String, day: Int64)]
    }

    public func prepare(_ events: [ProjectedEvent]) -> Batch {
        Batch(
            folds: events.compactMap { event in
                let stored = event.stored
                return Self.buildFold(stored.type, StoredLine.DataFields(stored.line)).map {
                    ($0, stored.org, Analytics.day(stored.occurredAtMs))
                }
            })
    }

    static let buildTypes: Set<String> = [
        "build.queued", "build.succeeded", "build.failed", "build.canceled", "build.cache_restored", "build.step_logged",
    ]

    /// What a build event adds; nil for one lacking a field it needs.
    static func buildFold(_ type: String, _ data: StoredLine.DataFields) -> Fold? {
        switch type {
        case "build.queued": data["build"].flatMap { build in data["project"].map { .queued(build: build, project: $0) } }
        case "build.succeeded": data["project"].map { .finished(project: $0, outcome: .succeeded, durationMs: data.integer("durationMs")) }
        case "build.failed": data["project"].map { .finished(project: $0, outcome: .failed, durationMs: data.integer("durationMs")) }
        case "build.canceled": data["project"].map { .finished(project: $0, outcome: .canceled, durationMs: nil) }
        case "build.cache_restored": data["build"].flatMap { build in data.bool("hit").map { .cacheRestored(build: build, hit: $0) } }
        case "build.step_logged":
            data["build"].flatMap { build in
                data["step"].flatMap { step in data.integer("durationMs").map { .step(build: build, step: step, durationMs: $0) } }
            }
        default: nil
        }
    }

    /// Build figures per scope and day, added up from build events: what a batch adds to the
    /// model, and what a question as of a past moment adds up from the log.
    struct BuildDays {
        var days: [DayKey: Day] = [:]
        var steps: [StepKey: QuantileSketch] = [:]
        /// The model's database, whose `analytics_build` names the project of a build queued
        /// before these events.
        let db: SQLiteDatabase
        /// The project of each build queued among the events added so far.
        private var projects: [String: String] = [:]

        init(db: SQLiteDatabase) { self.db = db }

        /// The project a build was queued in; nil when none is known (its events are not counted).
        private mutating func project(_ build: String) throws(LogError) -> String? {
            if let known = projects[build] { return known }
            let row = try db.statement("SELECT project FROM analytics_build WHERE build = ?").bind(1, build)
            defer { row.finish() }
            projects[build] = try row.step() ? row.text(0) : nil
            return projects[build]
        }

        /// Adds a build event of `org` that occurred on `day`, counted for its project and
        /// its org.
        mutating func add(_ fold: Fold, org: String, day: Int64) throws(LogError) {
            func scopes(_ project: String) -> [String] { ["project/" + project, "org/" + org] }
            switch fold {
            case .queued(let build, let project):
                if projects[build] == nil { projects[build] = project }
                for scope in scopes(project) { days[DayKey(scope: scope, day: day), default: Day()].queued += 1 }
            case .finished(let project, let outcome, let durationMs):
                for scope in scopes(project) { days[DayKey(scope: scope, day: day), default: Day()].count(outcome, durationMs) }
            case .cacheRestored(let build, let hit):
                guard let project = try self.project(build) else { return }
                for scope in scopes(project) {
                    days[DayKey(scope: scope, day: day), default: Day()].cacheRestores += 1
                    if hit { days[DayKey(scope: scope, day: day), default: Day()].cacheHits += 1 }
                }
            case .step(let build, let step, let durationMs):
                guard let project = try self.project(build) else { return }
                for scope in scopes(project) {
                    steps[StepKey(scope: scope, day: day, step: step), default: QuantileSketch()].add(Double(durationMs))
                }
            }
        }
    }

    /// A day's figures for a scope, as a batch adds them up before merging them into the row.
    struct Day {
        var queued: Int64 = 0, succeeded: Int64 = 0, failed: Int64 = 0, canceled: Int64 = 0
        var cacheHits: Int64 = 0, cacheRestores: Int64 = 0
        var durations = QuantileSketch()

        mutating func merge(_ other: Day) {
            queued += other.queued
            succeeded += other.succeeded
            failed += other.failed
            canceled += other.canceled
            cacheHits += other.cacheHits
            cacheRestores += other.cacheRestores
            durations.merge(other.durations)
        }
    }

    struct DayKey: Hashable {
        let scope: String
        let day: Int64
    }

    struct StepKey: Hashable {
        let scope: String
        let day: Int64
        let step: String
    }

    public func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError) {
        try db.defineBlobFunction("hindsight_sketch_merge") { stored, added in
            guard var sketch = QuantileSketch(encoded: stored), sketch.merge(encoded: added) else { return nil }
            return sketch.encoded
        }
        var builds = BuildDays(db: db)
        for (fold, org, day) in batch.folds {
            if case .queued(let build, let project) = fold {
                try db.statement("INSERT OR IGNORE INTO analytics_build VALUES (?, ?)").bind(1, build).bind(2, project).run()
            }
            try builds.add(fold, org: org, day: day)
        }
        let day = try db.statement(
            """
            INSERT INTO analytics_build_day VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (scope, day) DO UPDATE SET queued = queued + excluded.queued, succeeded = succeeded + excluded.succeeded,
                failed = failed + excluded.failed, canceled = canceled + excluded.canceled, cache_hits = cache_hits + excluded.cache_hits,
                cache_restores = cache_restores + excluded.cache_restores, durations = hindsight_sketch_merge(durations, excluded.durations)
            """)
        for (key, added) in builds.days {
            try day.reset().bind(1, key.scope).bind(2, key.day).bind(3, added.queued).bind(4, added.succeeded).bind(5, added.failed)
                .bind(6, added.canceled).bind(7, added.cacheHits).bind(8, added.cacheRestores).bind(9, blob: added.durations.encoded).run()
        }
        let step = try db.statement(
            """
            INSERT INTO analytics_build_step_day VALUES (?, ?, ?, ?)
            ON CONFLICT (scope, day, step) DO UPDATE SET durations = hindsight_sketch_merge(durations, excluded.durations)
            """)
        for (key, added) in builds.steps {
            try step.reset().bind(1, key.scope).bind(2, key.day).bind(3, key.step).bind(4, blob: added.encoded).run()
        }
    }

    /// One day of builds in a scope.
    public struct BuildDay: Sendable {
        /// UTC days since 1970-01-01.
        public let day: Int64
        public let queued: Int64, succeeded: Int64, failed: Int64, canceled: Int64
        /// Succeeded over finished (succeeded or failed); nil when none finished.
        public var successRate: Double? { succeeded + failed == 0 ? nil : Double(succeeded) / Double(succeeded + failed) }
        public let cacheHits: Int64, cacheRestores: Int64
        public var cacheHitRate: Double? { cacheRestores == 0 ? nil : Double(cacheHits) / Double(cacheRestores) }
        /// Durations of the finished builds (succeeded or failed).
        public let durations: QuantileSketch
        /// Each step name's durations.
        public let steps: [String: QuantileSketch]
        /// The three slowest steps by their 95th percentile, slowest first (by name on a tie).
        public var slowestSteps: [(step: String, p95: Double)] {
            Array(
                steps.compactMap { step, sketch in sketch.quantile(0.95).map { (step, $0) } }.sorted { ($0.1, $1.0) > ($1.1, $0.0) }.prefix(
                    3))
        }
    }

    /// The builds of a scope (`project/ID` or `org/ID`) on each of `days` UTC days ending with
    /// the day of `endingAt` (milliseconds), oldest first, a day without builds included.
    public static func builds(scope: String, days: Int, endingAt: Int64, in db: SQLiteDatabase) throws(LogError) -> [BuildDay] {
        guard let (first, last) = window(days: days, endingAt: endingAt) else { return [] }
        var found: [Int64: Day] = [:]
        let rows = try db.statement(
            "SELECT day, queued, succeeded, failed, canceled, cache_hits, cache_restores, durations FROM analytics_build_day WHERE scope = ? AND day BETWEEN ? AND ?"
        ).bind(1, scope).bind(2, first).bind(3, last)
        while try rows.step() {
            found[rows.int(0)] = Day(
                queued: rows.int(1), succeeded: rows.int(2), failed: rows.int(3), canceled: rows.int(4), cacheHits: rows.int(5),
                cacheRestores: rows.int(6), durations: QuantileSketch(encoded: rows.blob(7)) ?? QuantileSketch())
        }
        rows.finish()
        var steps: [Int64: [String: QuantileSketch]] = [:]
        let stepRows = try db.statement("SELECT day, step, durations FROM analytics_build_step_day WHERE scope = ? AND day BETWEEN ? AND ?")
            .bind(1, scope).bind(2, first).bind(3, last)
        while try stepRows.step() {
            steps[stepRows.int(0), default: [:]][stepRows.text(1) ?? ""] = QuantileSketch(encoded: stepRows.blob(2)) ?? QuantileSketch()
        }
        stepRows.finish()
        return buildDays(first...last, found, steps)
    }

    /// The builds of a scope on each of `days` UTC days ending with the day of `endingAt`, as
    /// they stood at a past moment: counting only the events up to seq `throughSeq` that
    /// occurred by `occurredBy` (nil: any time of the window). The model's days hold what every
    /// applied event added, so these are added up again from the window's build events in the
    /// log (found through its chunks' time index: a question reads about as much of the log as
    /// its window spans); a build's project is the one its `build.queued` gave.
    public static func builds(
        scope: String, days: Int, endingAt: Int64, occurredBy: Int64?, throughSeq: UInt64, reader: LogReader, in db: SQLiteDatabase
    ) throws(LogError) -> [BuildDay] {
        guard let (first, last) = window(days: days, endingAt: endingAt) else { return [] }
        var query = ReadQuery()
        query.types = buildTypes
        query.occurredFrom = first * 86_400_000
        query.occurredTo = occurredBy ?? (last + 1) * 86_400_000 - 1
        query.to = throughSeq
        var figures = BuildDays(db: db)
        try reader.read(query) { (event: StoredEvent) throws(LogError) in
            if let fold = buildFold(event.type, StoredLine.DataFields(event.line)) {
                try figures.add(fold, org: event.org, day: Analytics.day(event.occurredAtMs))
            }
            return true
        }
        var found: [Int64: Day] = [:]
        for (key, figures) in figures.days where key.scope == scope { found[key.day] = figures }
        var steps: [Int64: [String: QuantileSketch]] = [:]
        for (key, sketch) in figures.steps where key.scope == scope { steps[key.day, default: [:]][key.step] = sketch }
        return buildDays(first...last, found, steps)
    }

    /// The first and last day of a window of `days` days ending with the day of `endingAt`,
    /// without the days before 0000-01-01 (which RFC 3339 cannot name, and no event
    /// occurred on); nil when none is left.
    private static func window(days: Int, endingAt: Int64) -> (first: Int64, last: Int64)? {
        guard days >= 1 else { return nil }
        let last = min(Analytics.day(endingAt), Analytics.day(Timestamp.latest))
        let first = max(last - Int64(min(days, 3_652_425)) + 1, Analytics.day(Timestamp.earliest))  // 10,000 years of days at most
        return first <= last ? (first, last) : nil
    }

    /// Each day of a window with its figures (none for a day without builds).
    private static func buildDays(_ window: ClosedRange<Int64>, _ found: [Int64: Day], _ steps: [Int64: [String: QuantileSketch]])
        -> [BuildDay]
    {
        window.map { day in
            let figures = found[day] ?? Day()
            return BuildDay(
                day: day, queued: figures.queued, succeeded: figures.succeeded, failed: figures.failed, canceled: figures.canceled,
                cacheHits: figures.cacheHits, cacheRestores: figures.cacheRestores, durations: figures.durations, steps: steps[day] ?? [:])
        }
    }

    /// The figures of a run of days together (their sketches merged), dated by its first day.
    public static func total(of days: [BuildDay]) -> BuildDay {
        var sum = Day()
        var steps: [String: QuantileSketch] = [:]
        for day in days {
            sum.merge(
                Day(
                    queued: day.queued, succeeded: day.succeeded, failed: day.failed, canceled: day.canceled, cacheHits: day.cacheHits,
                    cacheRestores: day.cacheRestores, durations: day.durations))
            for (name, sketch) in day.steps { steps[name, default: QuantileSketch()].merge(sketch) }
        }
        return BuildDay(
            day: days.first?.day ?? 0, queued: sum.queued, succeeded: sum.succeeded, failed: sum.failed, canceled: sum.canceled,
            cacheHits: sum.cacheHits, cacheRestores: sum.cacheRestores, durations: sum.durations, steps: steps)
    }

    /// The newest day the model holds builds for: where a window that ends "now" ends.
    public static func newestDay(in db: SQLiteDatabase) throws(LogError) -> Int64? {
        let row = try db.statement("SELECT max(day) FROM analytics_build_day")
        defer { row.finish() }
        return try row.step() && !row.isNull(0) ? row.int(0) : nil
    }
}

extension BuildsReadModel.Day {
    mutating func count(_ outcome: BuildsReadModel.Outcome, _ durationMs: Int64?) {
        switch outcome {
        case .succeeded: succeeded += 1
        case .failed: failed += 1
        case .canceled: canceled += 1
        }
        if outcome != .canceled, let durationMs { durations.add(Double(durationMs)) }
    }
}
