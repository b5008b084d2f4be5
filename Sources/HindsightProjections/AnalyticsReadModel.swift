import Dispatch
public import HindsightCore
public import HindsightLog
import Synchronization

/// The analytics read model: what the platform's dashboards chart, per project and per org
/// and per UTC day of `occurredAt` (so an event recorded late lands on the day it happened).
///
/// Builds: queued, succeeded, failed and canceled counts, cache restores and hits, and the
/// durations of finished builds (succeeded or failed) and of each step name as mergeable
/// sketches (`QuantileSketch`), so that the percentiles of any run of days come from merging
/// the days' sketches, never from stored samples.
///
/// Functions: per function, project and org, per UTC hour, runtime (of the function's latest
/// deployment when it ran) and mode: invocations, errors, timeouts, cold starts, and a
/// sketch of the durations.
///
/// Metrics: per name, UTC hour and subset of the tags (so that a question with any tag filter
/// reads cells of its own): count, an exact sum (whole units and micro-units, in integers, so
/// that it does not depend on the order of additions), and a sketch of the values (with their
/// minimum and maximum).
///
/// Function and metric figures are kept per hour inside a row per week (`HourlyCells`): they
/// are sparse (a function runs a few times a day), and a row per hour was about a row per
/// event to write.
///
/// Alerts: the rules of `alert.rule_defined`, evaluated at every value of their metric that
/// carries their tags, in seq order: the aggregate is the average of the rule's values that
/// occurred in the window (t − windowSec, t], t the value's `occurredAt`. Rules on the same
/// metric, tags and window share the window, which holds the values recorded since the first of
/// them was defined (and is let go with the last); values that occurred a window or more before
/// the latest one are let go. The rule fires when the aggregate meets its condition and resolves
/// when it no longer does; a removal or redefinition resolves a firing rule. Each transition
/// keeps the seq of the event that caused it.
///
/// Webhooks: per webhook and UTC hour, delivery attempts (`webhook.delivered` and
/// `webhook.failed`), successes (a 2xx status), failures, and a sketch of the durations of
/// the attempts that got an answer.
public final class AnalyticsReadModel: ReadModel {
    public let name = "analytics"
    public let version = 8
    public let types: Set<String>? = [
        "build.queued", "build.succeeded", "build.failed", "build.canceled", "build.cache_restored", "build.step_logged",
        "function.deployed", "function.invoked", "webhook.delivered", "webhook.failed", "metric.recorded",
        "alert.rule_defined", "alert.rule_removed",
    ]

    /// The names earlier batches met, for the next ones to start from (most of a batch's
    /// metric series and callers were met before), up to `mostNames` of each. A prepare takes
    /// a set and puts it back; batches prepared side by side (read ahead) take one each.
    private let knownSeries = Mutex<[SeriesNames]>([])
    private let knownCallers = Mutex<[CallerNames]>([])
    static let mostNames = 500_000
    /// Sets of names kept, at most: one per batch prepared at once.
    static let keptNames = 4

    public init() {}

    /// A batch adds to the week rows of its week or two, merged into what earlier batches
    /// stored: batches of 300,000 events merge fewer of them (a build from the million-event
    /// log took 3.49–3.75 s against 3.70–4.00 s with 200,000; 400,000 lost more overlap).
    public let buildBatch = 300_000

    /// Pages of 64 KiB: a week's row of an org's invocations or of a metric holds many
    /// kilobytes, which on small pages spilled into overflow chains that every merge of a batch
    /// into the row rewrote (a build took 5% longer).
    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute("PRAGMA page_size = 65536")
        try db.execute(
            """
            CREATE TABLE analytics_build (build TEXT PRIMARY KEY, project TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE analytics_build_day (scope TEXT NOT NULL, day INTEGER NOT NULL, queued INTEGER NOT NULL,
                                              succeeded INTEGER NOT NULL, failed INTEGER NOT NULL, canceled INTEGER NOT NULL,
                                              cache_hits INTEGER NOT NULL, cache_restores INTEGER NOT NULL, durations BLOB NOT NULL,
                                              PRIMARY KEY (scope, day)) WITHOUT ROWID;
            CREATE TABLE analytics_build_step_day (scope TEXT NOT NULL, day INTEGER NOT NULL, step TEXT NOT NULL, durations BLOB NOT NULL,
                                                   PRIMARY KEY (scope, day, step)) WITHOUT ROWID;
            CREATE TABLE analytics_function (function TEXT PRIMARY KEY, runtime TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE analytics_function_week (scope TEXT NOT NULL, week INTEGER NOT NULL, runtime TEXT NOT NULL, mode TEXT NOT NULL,
                                                  invocations INTEGER NOT NULL, hours BLOB NOT NULL,
                                                  PRIMARY KEY (week, scope, runtime, mode)) WITHOUT ROWID;
            CREATE TABLE analytics_metric_week (name TEXT NOT NULL, tags TEXT NOT NULL, week INTEGER NOT NULL, count INTEGER NOT NULL,
                                                hours BLOB NOT NULL, PRIMARY KEY (week, name, tags)) WITHOUT ROWID;
            CREATE TABLE analytics_alert_rule (rule TEXT PRIMARY KEY, metric TEXT NOT NULL, op TEXT NOT NULL, threshold REAL NOT NULL,
                                               window_sec INTEGER NOT NULL, tags TEXT NOT NULL, firing INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE analytics_alert_value (window TEXT NOT NULL, seq INTEGER NOT NULL, occurred_at INTEGER NOT NULL, value REAL NOT NULL,
                                                PRIMARY KEY (window, seq)) WITHOUT ROWID;
            CREATE TABLE analytics_alert_transitions (rule TEXT NOT NULL, row INTEGER NOT NULL, last_seq INTEGER NOT NULL, last_at INTEGER NOT NULL,
                                                      earliest INTEGER NOT NULL, latest INTEGER NOT NULL, transitions BLOB NOT NULL,
                                                      PRIMARY KEY (rule, row)) WITHOUT ROWID;
            CREATE TABLE analytics_webhook_hour (webhook TEXT NOT NULL, hour INTEGER NOT NULL, attempts INTEGER NOT NULL,
                                                 successes INTEGER NOT NULL, failures INTEGER NOT NULL, durations BLOB NOT NULL,
                                                 PRIMARY KEY (webhook, hour)) WITHOUT ROWID;
            """)
    }

    /// The UTC day (days since 1970-01-01) of a time in milliseconds.
    static func day(_ ms: Int64) -> Int64 { ms >= 0 ? ms / 86_400_000 : (ms + 1) / 86_400_000 - 1 }
    /// The UTC hour (hours since the epoch) of a time in milliseconds.
    static func hour(_ ms: Int64) -> Int64 { ms >= 0 ? ms / 3_600_000 : (ms + 1) / 3_600_000 - 1 }

    /// What one event adds, read from it while the batch is prepared.
    enum Fold: Sendable {
        case queued(build: String, project: String)
        case finished(project: String, outcome: Outcome, durationMs: Int64?)
        case cacheRestored(build: String, hit: Bool)
        case step(build: String, step: String, durationMs: Int64)
        case deployed(function: String, runtime: String)
        case ruleDefined(AlertRule)
        case ruleRemoved(rule: String)
        /// A value of one of the batch's metric series (`Batch.series`), for the alert rules on it.
        case value(series: Int, value: Double, seq: Int64, occurredAt: Int64)
    }

    /// An alert rule as `alert.rule_defined` states it.
    struct AlertRule: Sendable {
        let rule: String
        let metric: String
        let op: Comparison
        let threshold: Double
        let windowSec: Int64
        /// The tags a value must carry, `k=v` joined by commas in the order of the keys.
        let tags: String

        /// How an aggregate is compared with the threshold (the event's `op`; the catalogue
        /// allows no other).
        enum Comparison: String, Sendable {
            case gt, gte, lt, lte
        }

        /// Whether an aggregate meets the rule's condition.
        func holds(_ aggregate: Double) -> Bool {
            switch op {
            case .gt: aggregate > threshold
            case .gte: aggregate >= threshold
            case .lt: aggregate < threshold
            case .lte: aggregate <= threshold
            }
        }

        /// Whether a value's tags include the rule's.
        func matches(_ tags: [(name: String, value: String)]) -> Bool {
            self.tags.isEmpty || self.tags.split(separator: ",").allSatisfy { pair in tags.contains { $0.name + "=" + $0.value == pair } }
        }
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

    enum Outcome: Sendable { case succeeded, failed, canceled }

    public struct Batch: Sendable {
        let folds: [(fold: Fold, org: String, day: Int64, seq: Int64, occurredAt: Int64)]
        /// Invocations added up by hour while the batch is read: applying it then costs a
        /// statement per function and week, not per invocation.
        let invocations: [Invocations]
        /// Delivery attempts per webhook and hour, added up the same way.
        let deliveries: [DeliveryKey: DeliveryFigures]
        /// The rows of `analytics_metric_week` the batch adds to, worked out in full: metric
        /// values need nothing from the database. In the order of the table.
        let metrics: [(key: MetricWeekKey, count: Int64, hours: [UInt8])]
        /// The metric series (a name and its tags) the batch's values are of.
        let series: [MetricSeries]

        func with(invocations: [Invocations]) -> Batch {
            Batch(folds: folds, invocations: invocations, deliveries: deliveries, metrics: metrics, series: series)
        }
    }

    /// A metric's name with a set of tags, as values carry them.
    struct MetricSeries: Sendable {
        let name: String
        let tags: [(name: String, value: String)]
    }

    /// A batch's hourly cells of each numbered name (`Names`), in the weeks it has figures
    /// for (a week or two: a list per number serves better than a table keyed by number and
    /// week, which cost a hash and a probe per event).
    struct NamedCells<Key: Equatable, Figures: HourlyFigures> {
        private(set) var byNumber: [[(key: Key, cells: HourlyCells<Figures>)]] = []

        /// Changes the figures of an hour of the cells of `number` and `key` (its week, and
        /// anything else that tells its cells apart), in place.
        mutating func modify(_ number: Int, _ key: Key, atHour hour: Int64, _ change: (inout Figures) -> Void) {
            if number >= byNumber.count { byNumber.append(contentsOf: repeatElement([], count: number - byNumber.count + 1)) }
            if let index = byNumber[number].lastIndex(where: { $0.key == key }) {
                byNumber[number][index].cells.modify(atHour: hour, change)
            } else {
                var cells = HourlyCells<Figures>()
                cells.modify(atHour: hour, change)
                byNumber[number].append((key, cells))
            }
        }
    }

    /// What tells a caller's invocations apart in a batch: the week, and the function's
    /// deployments earlier in the batch.
    struct InvocationWeek: Equatable {
        let week: Int64
        let epoch: Int
    }

    /// Metric series batches meet again and again, numbered in the order met (`TextNumbers`),
    /// each with the subsets of its tags it counts in (numbers of `metricSubsets`). A batch's
    /// cells are keyed by these numbers; the names are kept from batch to batch.
    struct SeriesNames: Sendable {
        var texts = TextNumbers()
        var series: [(series: MetricSeries, subsets: [Int])] = []
        var subsetByKey: [MetricSubsetKey: Int] = [:]
        var metricSubsets: [MetricSubsetKey] = []

        /// The number of the series of a metric value (`name` the text of its name, a string).
        mutating func series(_ data: StoredLine.DataFields, name: ArraySlice<UInt8>) -> Int {
            let (number, new) = texts.number(name, data.text("tags") ?? [])
            guard new else { return number }
            let tags = data.strings(in: "tags") ?? []
            let subsets = AnalyticsReadModel.subsets(of: tags).map { subset in
                let key = MetricSubsetKey(name: data["name"] ?? "", tags: subset)
                if let known = subsetByKey[key] { return known }
                subsetByKey[key] = metricSubsets.count
                metricSubsets.append(key)
                return metricSubsets.count - 1
            }
            series.append((MetricSeries(name: data["name"] ?? "", tags: tags), subsets))
            return number
        }
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
                  isString(function), isString(project), isString(mode) else { return nil }
            let (number, new) = texts.number(function, project, mode, tag: org)
            guard new else { return number }
            let name = data["function"] ?? ""
            let key = (function: name, scope: "function/" + name, groups: ["project/" + (data["project"] ?? ""), "org/" + org], mode: data["mode"] ?? "")
            callers.append((self.function(name), key))
            return number
        }
    }

    /// Whether a value's JSON text is a string.
    static func isString(_ text: ArraySlice<UInt8>) -> Bool { text.first == UInt8(ascii: "\"") }

    /// Tags beyond this many are left out of the subsets (each value counts in every subset of
    /// its first tags by key); a filter on them is answered from the full set of the first ones.
    static let subsetTags = 4

    /// Every subset of tags (sorted by key), as a cell key's text.
    static func subsets(of tags: [(name: String, value: String)]) -> [String] {
        let sorted = tags.sorted { $0.name < $1.name }.prefix(subsetTags).map { $0.name + "=" + $0.value }
        return (0..<(1 << sorted.count)).map { mask in
            sorted.indices.filter { mask & (1 << $0) != 0 }.map { sorted[$0] }.joined(separator: ",")
        }
    }

    struct DeliveryKey: Hashable, Sendable {
        let webhook: String
        let hour: Int64
    }

    /// Invocations, most of the events, need nothing the others do: they are added up on one
    /// core while the rest is prepared on another (the core that applies batches would
    /// otherwise wait for this one).
    public func prepare(_ events: [ProjectedEvent]) -> Batch {
        var parts: (invocations: [Invocations], rest: Batch?) = ([], nil)
        withUnsafeMutablePointer(to: &parts) { pointer in
            let shared = UnsafeSendable(pointer)
            DispatchQueue.concurrentPerform(iterations: 2) { part in
                if part == 0 { shared.value.pointee.invocations = prepareInvocations(events) } else { shared.value.pointee.rest = prepareAllButInvocations(events) }
            }
        }
        return parts.rest!.with(invocations: parts.invocations)
    }

    /// The invocations of a batch, added up by week and hour.
    private func prepareInvocations(_ events: [ProjectedEvent]) -> [Invocations] {
        var names = knownCallers.withLock { $0.popLast() }.flatMap { $0.texts.count > Self.mostNames ? nil : $0 } ?? CallerNames()
        names.startBatch()
        defer { knownCallers.withLock { if $0.count < Self.keptNames { $0.append(names) } } }
        var invocations = NamedCells<InvocationWeek, InvocationFigures>()
        for event in events {
            switch event.stored.type {
            case "function.invoked":
                let stored = event.stored
                let data = StoredLine.DataFields(stored.line)
                guard let caller = names.caller(data, org: stored.org), let durationMs = data.integer("durationMs"),
                      let coldStart = data.bool("coldStart"), let status = data["status"] else { continue }
                let hour = Self.hour(stored.occurredAtMs)
                let week = InvocationWeek(week: HourlyCells<InvocationFigures>.week(ofHour: hour), epoch: names.deployments[names.callers[caller].function])
                invocations.modify(caller, week, atHour: hour) { $0.count(status: status, coldStart: coldStart, durationMs: durationMs) }
            case "function.deployed":
                if let function = StoredLine.DataFields(event.stored.line)["function"] { names.deployments[names.function(function)] += 1 }
            default: continue
            }
        }
        return invocations.byNumber.enumerated().flatMap { number, weeks in
            let caller = names.callers[number].key
            return weeks.map { week, hours in
                Invocations(function: caller.function, scope: caller.scope, groups: caller.groups, week: week.week, mode: caller.mode, epoch: week.epoch,
                            cells: hours, count: hours.total(\.invocations), stored: hours.encoded)
            }
        }
    }

    /// All of a batch but its invocations.
    private func prepareAllButInvocations(_ events: [ProjectedEvent]) -> Batch {
        var folds: [(fold: Fold, org: String, day: Int64, seq: Int64, occurredAt: Int64)] = []
        var names = knownSeries.withLock { $0.popLast() }.flatMap { $0.texts.count > Self.mostNames ? nil : $0 } ?? SeriesNames()
        defer { knownSeries.withLock { if $0.count < Self.keptNames { $0.append(names) } } }
        var deliveries: [DeliveryKey: DeliveryFigures] = [:]
        var metrics = NamedCells<Int64, MetricFigures>()
        for event in events {
            let stored = event.stored
            let fold: Fold?
            switch stored.type {
            case "function.invoked": continue
            case "metric.recorded":
                let data = StoredLine.DataFields(stored.line)
                guard let name = data.text("name"), Self.isString(name), let value = data.number("value"), value.isFinite else { continue }
                let series = names.series(data, name: name)
                let hour = Self.hour(stored.occurredAtMs)
                let week = HourlyCells<MetricFigures>.week(ofHour: hour)
                for subset in names.series[series].subsets {
                    metrics.modify(subset, week, atHour: hour) { $0.add(value) }
                }
                fold = .value(series: series, value: value, seq: Int64(stored.seq), occurredAt: stored.occurredAtMs)
            case "function.deployed":
                let data = StoredLine.DataFields(stored.line)
                fold = data["function"].flatMap { function in data["runtime"].map { .deployed(function: function, runtime: $0) } }
            case "alert.rule_defined":
                let data = StoredLine.DataFields(stored.line)
                if let rule = data["rule"], let metric = data["metric"], let op = data["op"].flatMap(AlertRule.Comparison.init), let threshold = data.number("threshold"),
                   let windowSec = data.integer("windowSec") {
                    let tags = (data.strings(in: "tags") ?? []).sorted { $0.name < $1.name }.map { $0.name + "=" + $0.value }.joined(separator: ",")
                    fold = .ruleDefined(AlertRule(rule: rule, metric: metric, op: op, threshold: threshold, windowSec: windowSec, tags: tags))
                } else {
                    fold = nil
                }
            case "alert.rule_removed": fold = StoredLine.DataFields(stored.line)["rule"].map { .ruleRemoved(rule: $0) }
            case let type where Self.buildTypes.contains(type): fold = Self.buildFold(type, StoredLine.DataFields(stored.line))
            case "webhook.delivered", "webhook.failed":
                fold = nil
                let data = StoredLine.DataFields(stored.line)
                guard let webhook = data["webhook"] else { continue }
                let status = data.integer("httpStatus")
                let key = DeliveryKey(webhook: webhook, hour: Self.hour(stored.occurredAtMs))
                deliveries[key, default: DeliveryFigures()].count(
                    status: status, durationMs: stored.type == "webhook.delivered" ? data.integer("durationMs") : nil)
            default: fold = nil
            }
            if let fold { folds.append((fold, stored.org, Self.day(stored.occurredAtMs), Int64(stored.seq), stored.occurredAtMs)) }
        }
        // Metric rows in the table's order (week, name, tags), so that writing them walks it
        // once: the subsets are put in order once, then the rows by week and their subset's place.
        var place = [Int](repeating: 0, count: names.metricSubsets.count)
        for (rank, subset) in names.metricSubsets.indices.sorted(by: { names.metricSubsets[$0] < names.metricSubsets[$1] }).enumerated() {
            place[subset] = rank
        }
        let cells = metrics.byNumber.enumerated().flatMap { subset, weeks in weeks.map { (subset: subset, week: $0.key, hours: $0.cells) } }
        let rows = cells.sorted { ($0.week, place[$0.subset]) < ($1.week, place[$1.subset]) }.map { cell in
            let key = names.metricSubsets[cell.subset]
            return (key: MetricWeekKey(name: key.name, tags: key.tags, week: cell.week), count: cell.hours.total(\.count), hours: cell.hours.encoded)
        }
        return Batch(folds: folds, invocations: [], deliveries: deliveries, metrics: rows, series: names.series.map(\.series))
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
                for scope in scopes(project) { steps[StepKey(scope: scope, day: day, step: step), default: QuantileSketch()].add(Double(durationMs)) }
            default: return
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

    /// A row of `analytics_function_week`.
    struct FunctionWeekKey: Hashable {
        let scope: String
        let week: Int64
        let runtime: String
        let mode: String
    }

    /// A row of `analytics_metric_week`.
    struct MetricWeekKey: Hashable, Sendable {
        let name: String
        /// A subset of the value's tags, as `k=v` joined by commas in the order of the keys.
        let tags: String
        let week: Int64
    }

    /// A metric with a subset of its values' tags: the rows of `analytics_metric_week` but their week.
    struct MetricSubsetKey: Hashable, Comparable {
        let name: String
        /// As `MetricWeekKey.tags`.
        let tags: String

        static func < (a: Self, b: Self) -> Bool { (a.name, a.tags) < (b.name, b.tags) }
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
        try db.defineBlobFunction("hindsight_invocation_hours_merge") { HourlyCells<InvocationFigures>.merged($0, $1) }
        try db.defineBlobFunction("hindsight_metric_hours_merge") { HourlyCells<MetricFigures>.merged($0, $1) }
        var builds = BuildDays(db: db)
        var weeks: [FunctionWeekKey: HourlyCells<InvocationFigures>] = [:]
        // Each function's runtime before the batch, then after each of its deployments in it.
        var runtimes: [String: [String]] = [:]
        for function in Set(batch.invocations.map(\.function)) {
            let row = try db.statement("SELECT runtime FROM analytics_function WHERE function = ?").bind(1, function)
            runtimes[function] = [try row.step() ? row.text(0) ?? "unknown" : "unknown"]
            row.finish()
        }
        var alerts = try AlertEvaluation(in: db, series: batch.series)
        for (fold, org, day, seq, occurredAt) in batch.folds {
            switch fold {
            case .queued(let build, let project):
                try db.statement("INSERT OR IGNORE INTO analytics_build VALUES (?, ?)").bind(1, build).bind(2, project).run()
                try builds.add(fold, org: org, day: day)
            case .finished, .cacheRestored, .step: try builds.add(fold, org: org, day: day)
            case .deployed(let function, let runtime):
                try db.statement("INSERT OR REPLACE INTO analytics_function VALUES (?, ?)").bind(1, function).bind(2, runtime).run()
                runtimes[function, default: ["unknown"]].append(runtime)
            case .ruleDefined(let rule): try alerts.define(rule, seq: seq, occurredAt: occurredAt)
            case .ruleRemoved(let rule): try alerts.remove(rule, seq: seq, occurredAt: occurredAt)
            case .value(let series, let value, let seq, let occurredAt):
                try alerts.evaluate(series: series, value, seq: seq, occurredAt: occurredAt)
            }
        }
        try alerts.save()
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
                weeks[FunctionWeekKey(scope: scope, week: invocations.week, runtime: runtime, mode: invocations.mode), default: HourlyCells()]
                    .merge(invocations.cells)
            }
        }
        for (key, added) in weeks {
            try upsert.reset().bind(1, key.scope).bind(2, key.week).bind(3, key.runtime).bind(4, key.mode)
                .bind(5, added.total(\.invocations)).bind(6, blob: added.encoded).run()
        }

        let metric = try db.statement(
            """
            INSERT INTO analytics_metric_week VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (week, name, tags) DO UPDATE SET count = count + excluded.count, hours = hindsight_metric_hours_merge(hours, excluded.hours)
            """)
        for (key, count, hours) in batch.metrics {
            try metric.reset().bind(1, key.name).bind(2, key.tags).bind(3, key.week).bind(4, count).bind(5, blob: hours).run()
        }
        let delivery = try db.statement(
            """
            INSERT INTO analytics_webhook_hour VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (webhook, hour) DO UPDATE SET attempts = attempts + excluded.attempts, successes = successes + excluded.successes,
                failures = failures + excluded.failures, durations = hindsight_sketch_merge(durations, excluded.durations)
            """)
        for (key, added) in batch.deliveries {
            try delivery.reset().bind(1, key.webhook).bind(2, key.hour).bind(3, added.attempts).bind(4, added.successes).bind(5, added.failures)
                .bind(6, blob: added.durations.encoded).run()
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

    /// The alert rules while a batch is applied. Rules on the same metric, tags and window share
    /// one window of values (so a value is added once, however many rules watch it, and the
    /// aggregate is worked out once); each group's values are read when first needed and
    /// written back once, with the transitions, at the end.
    struct AlertEvaluation {
        /// A rule's row of transitions.
        struct RunKey: Hashable {
            let rule: String
            let row: Int64
        }

        /// Rules sharing a window: the metric, the tags a value must carry, the window's length.
        struct WindowKey: Hashable {
            let metric: String
            let tags: String
            let windowSec: Int64
            var stored: String { "\(metric)|\(tags)|\(windowSec)" }
        }

        /// A window of values and the rules that watch it, each with whether it is firing and
        /// whether its row is to be written again (defined, or fired or resolved).
        final class Group {
            let key: WindowKey
            var rules: [(rule: AlertRule, firing: Bool, changed: Bool)] = []
            var values: [(seq: Int64, occurredAt: Int64, value: Double)] = []
            /// Whether `values` holds the window's stored values (a window met in this batch
            /// starts empty).
            var loaded: Bool
            /// Whether its values are to be written again.
            var changed = false

            init(_ key: WindowKey, loaded: Bool) {
                self.key = key
                self.loaded = loaded
            }
        }

        let db: SQLiteDatabase
        /// The batch's metric series, and the groups that watch each (worked out when a value
        /// of it first comes, again after a rule changes).
        private let series: [MetricSeries]
        private var groupsOfSeries: [Int: [Group]] = [:]
        private var groups: [WindowKey: Group] = [:]
        private var keyOfRule: [String: WindowKey] = [:]
        /// Windows that are gone.
        private var dropped: Set<WindowKey> = []
        /// Rules defined or removed: their rows are written again (as are those of rules that
        /// fired or resolved, marked in their group).
        private var rulesChanged: Set<String> = []
        /// In seq order, as the events caused them (the table's order).
        private var transitions: [(rule: String, seq: Int64, occurredAt: Int64, fired: Bool, value: Double?)] = []

        init(in db: SQLiteDatabase, series: [MetricSeries]) throws(LogError) {
            self.db = db
            self.series = series
            let rows = try db.statement("SELECT rule, metric, op, threshold, window_sec, tags, firing FROM analytics_alert_rule ORDER BY rule")
            while try rows.step() {
                guard let op = rows.text(2).flatMap(AlertRule.Comparison.init) else {
                    let name = rows.text(0) ?? ""
                    rows.finish()
                    throw AnalyticsReadModel.unreadable("analytics_alert_rule", name)
                }
                let rule = AlertRule(rule: rows.text(0) ?? "", metric: rows.text(1) ?? "", op: op, threshold: rows.double(3),
                                     windowSec: rows.int(4), tags: rows.text(5) ?? "")
                join(rule, firing: rows.int(6) != 0, stored: true)
            }
            rows.finish()
        }

        /// Adds a rule to the group of its window; `stored`: a rule of the model before this
        /// batch, whose window's values are stored.
        private mutating func join(_ rule: AlertRule, firing: Bool, stored: Bool) {
            let key = WindowKey(metric: rule.metric, tags: rule.tags, windowSec: rule.windowSec)
            if groups[key] == nil {
                let group = Group(key, loaded: !stored)
                // A window met in this batch starts empty, and is written even if no value comes.
                group.changed = !stored
                groups[key] = group
                groupsOfSeries = [:]
            }
            groups[key]!.rules.append((rule, firing, false))
            keyOfRule[rule.rule] = key
            dropped.remove(key)
        }

        mutating func define(_ rule: AlertRule, seq: Int64, occurredAt: Int64) throws(LogError) {
            try remove(rule.rule, seq: seq, occurredAt: occurredAt)
            join(rule, firing: false, stored: false)
            rulesChanged.insert(rule.rule)
        }

        mutating func remove(_ name: String, seq: Int64, occurredAt: Int64) throws(LogError) {
            guard let key = keyOfRule.removeValue(forKey: name), let group = groups[key],
                  let index = group.rules.firstIndex(where: { $0.rule.rule == name }) else { return }
            if group.rules[index].firing { transitions.append((name, seq, occurredAt, false, nil)) }
            group.rules.remove(at: index)
            rulesChanged.insert(name)
            if group.rules.isEmpty {
                groups[key] = nil
                groupsOfSeries = [:]
                dropped.insert(key)
            }
        }

        /// The groups whose rules watch a series: those of its metric whose tags its own include.
        private mutating func groups(of number: Int) -> [Group] {
            if let known = groupsOfSeries[number] { return known }
            let series = series[number]
            let found = groups.values.filter { $0.key.metric == series.name && $0.rules[0].rule.matches(series.tags) }.sorted { $0.key.stored < $1.key.stored }
            groupsOfSeries[number] = found
            return found
        }

        mutating func evaluate(series: Int, _ value: Double, seq: Int64, occurredAt: Int64) throws(LogError) {
            for group in groups(of: series) {
                try load(group)
                group.values.append((seq, occurredAt, value))
                let latest = group.values.lazy.map(\.occurredAt).max()!
                let span = group.key.windowSec * 1000
                group.values.removeAll { $0.occurredAt <= latest - span }
                var sum = 0.0, count = 0
                for entry in group.values where entry.occurredAt > occurredAt - span && entry.occurredAt <= occurredAt {
                    sum += entry.value
                    count += 1
                }
                let aggregate = sum / Double(max(1, count))
                for (index, holds) in Self.changes(of: group.rules, at: count > 0 ? aggregate : nil) {
                    transitions.append((group.rules[index].rule.rule, seq, occurredAt, holds, aggregate))
                    group.rules[index].firing = holds
                    group.rules[index].changed = true
                }
                group.changed = true
            }
        }

        /// The rules whose state an aggregate (nil: no values in the window) changes, and to
        /// what: read from a copy of the rules, not the group (whose array, a class's property,
        /// was checked for exclusive access at every step).
        private static func changes(of rules: [(rule: AlertRule, firing: Bool, changed: Bool)], at aggregate: Double?) -> [(index: Int, holds: Bool)] {
            var changes: [(index: Int, holds: Bool)] = []
            for index in rules.indices {
                let holds = aggregate.map(rules[index].rule.holds) ?? false
                if holds != rules[index].firing { changes.append((index, holds)) }
            }
            return changes
        }

        private func load(_ group: Group) throws(LogError) {
            guard !group.loaded else { return }
            let rows = try db.statement("SELECT seq, occurred_at, value FROM analytics_alert_value WHERE window = ? ORDER BY seq").bind(1, group.key.stored)
            while try rows.step() { group.values.append((rows.int(0), rows.int(1), rows.double(2))) }
            rows.finish()
            group.loaded = true
        }

        /// Writes the rules, windows and transitions the batch changed.
        func save() throws(LogError) {
            let changed = groups.values.filter(\.changed).map(\.key)
            for key in dropped.union(changed).sorted(by: { $0.stored < $1.stored }) {
                try db.statement("DELETE FROM analytics_alert_value WHERE window = ?").bind(1, key.stored).run()
                guard let group = groups[key] else { continue }
                for value in group.values {
                    try db.statement("INSERT INTO analytics_alert_value VALUES (?, ?, ?, ?)").bind(1, key.stored).bind(2, value.seq)
                        .bind(3, value.occurredAt).bind(4, value.value).run()
                }
            }
            let changedState = groups.values.flatMap { $0.rules.filter(\.changed).map(\.rule.rule) }
            for name in rulesChanged.union(changedState).sorted() {
                try db.statement("DELETE FROM analytics_alert_rule WHERE rule = ?").bind(1, name).run()
                guard let key = keyOfRule[name], let (rule, firing, _) = groups[key]?.rules.first(where: { $0.rule.rule == name }) else { continue }
                try db.statement("INSERT INTO analytics_alert_rule VALUES (?, ?, ?, ?, ?, ?, ?)").bind(1, rule.rule).bind(2, rule.metric)
                    .bind(3, rule.op.rawValue).bind(4, rule.threshold).bind(5, rule.windowSec).bind(6, rule.tags).bind(7, Int64(firing ? 1 : 0)).run()
            }
            // Each rule's transitions go to its rows by seq (`AlertTransitionRun`), after what a
            // row holds already.
            var runs: [RunKey: AlertTransitionRun] = [:]
            for transition in transitions {
                runs[RunKey(rule: transition.rule, row: AlertTransitionRun.row(of: transition.seq)), default: AlertTransitionRun()].append(
                    AlertTransition(rule: transition.rule, seq: transition.seq, occurredAt: transition.occurredAt,
                                    kind: transition.fired ? "fired" : "resolved", value: transition.value))
            }
            let last = try db.statement("SELECT last_seq, last_at FROM analytics_alert_transitions WHERE rule = ? AND row = ?")
            let write = try db.statement(
                """
                INSERT INTO analytics_alert_transitions VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (rule, row) DO UPDATE SET last_seq = excluded.last_seq, last_at = excluded.last_at, earliest = min(earliest, excluded.earliest),
                    latest = max(latest, excluded.latest), transitions = CAST(transitions || excluded.transitions AS BLOB)
                """)
            for (key, run) in runs.sorted(by: { ($0.key.rule, $0.key.row) < ($1.key.rule, $1.key.row) }) {
                _ = last.reset().bind(1, key.rule).bind(2, key.row)
                let after = try last.step() ? (seq: last.int(0), time: last.int(1)) : (seq: Int64(0), time: Int64(0))
                let newest = run.transitions[run.transitions.count - 1]
                try write.reset().bind(1, key.rule).bind(2, key.row).bind(3, newest.seq).bind(4, newest.occurredAt).bind(5, run.earliest)
                    .bind(6, run.latest).bind(7, blob: run.encoded(after: after)).run()
            }
            last.finish()
        }
    }

    // MARK: - Questions

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
            found[rows.int(0)] = Day(queued: rows.int(1), succeeded: rows.int(2), failed: rows.int(3), canceled: rows.int(4), cacheHits: rows.int(5),
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
            if let fold = buildFold(event.type, StoredLine.DataFields(event.line)) { try figures.add(fold, org: event.org, day: day(event.occurredAtMs)) }
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
        let last = min(day(endingAt), day(Timestamp.latest))
        let first = max(last - Int64(min(days, 3_652_425)) + 1, day(Timestamp.earliest))  // 10,000 years of days at most
        return first <= last ? (first, last) : nil
    }

    /// Each day of a window with its figures (none for a day without builds).
    private static func buildDays(_ window: ClosedRange<Int64>, _ found: [Int64: Day], _ steps: [Int64: [String: QuantileSketch]]) -> [BuildDay] {
        window.map { day in
            let figures = found[day] ?? Day()
            return BuildDay(day: day, queued: figures.queued, succeeded: figures.succeeded, failed: figures.failed, canceled: figures.canceled,
                            cacheHits: figures.cacheHits, cacheRestores: figures.cacheRestores, durations: figures.durations, steps: steps[day] ?? [:])
        }
    }

    /// Invocations of a scope (`function/ID`, `project/ID` or `org/ID`) in the UTC hours from
    /// the one holding `from` to the one holding `to` (milliseconds; nil: unbounded), per
    /// runtime and mode.
    public static func invocations(scope: String, from: Int64?, to: Int64?, in db: SQLiteDatabase)
        throws(LogError) -> [(runtime: String, mode: String, figures: InvocationFigures)]
    {
        let (first, last) = (from.map(hour) ?? Int64.min, to.map(hour) ?? Int64.max)
        guard first <= last else { return [] }
        let hours = first...last
        var cells: [String: InvocationFigures] = [:]
        let rows = try db.statement("SELECT runtime, mode, hours FROM analytics_function_week WHERE week = ? AND scope = ?")
        defer { rows.finish() }
        for week in try weeks(of: hours, in: "analytics_function_week", db) {
            _ = rows.reset().bind(1, week).bind(2, scope)
            while try rows.step() {
                let key = (rows.text(0) ?? "") + "\u{0}" + (rows.text(1) ?? "")
                let start = week * HourlyCells<InvocationFigures>.hoursPerWeek
                guard let stored = HourlyCells<InvocationFigures>(encoded: rows.blob(2)[...]) else { throw unreadable("analytics_function_week", scope) }
                for entry in stored.hours where hours.contains(start + entry.hour) { cells[key, default: InvocationFigures()].merge(entry.figures) }
            }
        }
        return cells.sorted { $0.key < $1.key }.map { key, figures in
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            return (String(parts[0]), String(parts[1]), figures)
        }
    }

    /// The weeks a table keyed by week first holds that overlap a range of hours: a question
    /// reads each week's rows with a seek of its own.
    private static func weeks(of hours: ClosedRange<Int64>, in table: String, _ db: SQLiteDatabase) throws(LogError) -> Range<Int64> {
        // Two statements: SQLite finds a min or a max from the key alone, not both at once.
        func edge(_ aggregate: String) throws(LogError) -> Int64? {
            let held = try db.statement("SELECT \(aggregate)(week) FROM \(table)")
            defer { held.finish() }
            return try held.step() && !held.isNull(0) ? held.int(0) : nil
        }
        guard let oldest = try edge("min"), let newest = try edge("max") else { return 0..<0 }
        let first = max(oldest, HourlyCells<InvocationFigures>.week(ofHour: hours.lowerBound))
        let last = min(newest, HourlyCells<InvocationFigures>.week(ofHour: hours.upperBound))
        return first <= last ? first..<(last + 1) : 0..<0  // `last` is a stored week: no overflow
    }

    /// A stored row that cannot be read: the read model needs rebuilding.
    private static func unreadable(_ table: String, _ key: String) -> LogError {
        LogError(.logCorrupt, "a row of \(table) for \(key) cannot be read; rebuild the analytics read model (hindsight rebuild analytics)")
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

    /// A rule's change of state: `fired` or `resolved`, by the event at `seq`, with the
    /// aggregate that caused it (none for a removal or redefinition).
    public struct AlertTransition: Sendable {
        public let rule: String
        public let seq: Int64
        public let occurredAt: Int64
        public let kind: String
        public let value: Double?
    }

    /// The rules firing after event `seq` (nil: now), or as of the time `time` (the
    /// transitions caused by events that occurred by then), each with the transition that
    /// made it fire: a rule's last transition among those, in seq order (the order the rules
    /// were evaluated in).
    public static func activeAlerts(afterSeq seq: Int64?, orTime time: Int64?, in db: SQLiteDatabase) throws(LogError) -> [AlertTransition] {
        let (seq, time) = (seq ?? Int64.max, time ?? Int64.max)
        var last: [String: AlertTransition] = [:]
        let rows = try db.statement("SELECT rule, transitions FROM analytics_alert_transitions WHERE row <= ? AND earliest <= ? ORDER BY rule, row")
        try forEachTransition(of: rows.bind(1, AlertTransitionRun.row(of: seq)).bind(2, time)) { transition in
            if transition.seq <= seq, transition.occurredAt <= time { last[transition.rule] = transition }
        }
        return last.values.filter { $0.kind == "fired" }.sorted { $0.rule < $1.rule }
    }

    /// Every transition of the rules (or of one) caused by events that occurred from `from` to
    /// `to` (milliseconds, inclusive), in seq order.
    public static func alertHistory(rule: String?, from: Int64, to: Int64, in db: SQLiteDatabase) throws(LogError) -> [AlertTransition] {
        var found: [AlertTransition] = []
        let rows = try db.statement("SELECT rule, transitions FROM analytics_alert_transitions WHERE latest >= ? AND earliest <= ? AND (? IS NULL OR rule = ?)")
        try forEachTransition(of: rows.bind(1, from).bind(2, to).bind(3, rule).bind(4, rule)) { transition in
            if from <= transition.occurredAt && transition.occurredAt <= to { found.append(transition) }
        }
        return found.sorted { ($0.seq, $0.rule) < ($1.seq, $1.rule) }
    }

    /// Calls `body` with each transition of the rows (`rule, transitions`) a statement
    /// finds, a row's in seq order.
    private static func forEachTransition(of rows: SQLiteDatabase.Statement, _ body: (AlertTransition) -> Void) throws(LogError) {
        defer { rows.finish() }
        while try rows.step() {
            let rule = rows.text(0) ?? ""
            guard let run = AlertTransitionRun(encoded: rows.blob(1)[...], rule: rule) else { throw unreadable("analytics_alert_transitions", rule) }
            run.transitions.forEach(body)
        }
    }

    /// Values of a metric: count, an exact sum, and their sketch.
    public struct MetricFigures: Sendable {
        public var count: Int64 = 0
        /// The sum, as whole units (each value's floor) and micro-units (the rest, rounded):
        /// integers, added with wrapping, whose sum is the same in any order (and exact while
        /// the whole units stay within Int64). A value of magnitude 2^53 or more has no whole
        /// units to count exactly: it leaves the sum unknown (`sumMicros` is `unknownSum`),
        /// and the average with it; the count, extremes and percentiles still hold it.
        var sumWhole: Int64 = 0, sumMicros: Int64 = 0
        static let unknownSum = Int64.min
        static let largestExact = 9_007_199_254_740_992.0  // 2^53
        public var values = QuantileSketch()

        public init() {}

        public var average: Double? {
            count == 0 || sumMicros == Self.unknownSum ? nil : (Double(sumWhole) + Double(sumMicros) / 1e6) / Double(count)
        }

        mutating func add(_ value: Double) {
            count += 1
            values.add(value)
            guard abs(value) < Self.largestExact else { return forgetSum() }
            let whole = value.rounded(.down)
            addToSum(Int64(whole), Int64(((value - whole) * 1e6).rounded()))
        }

        mutating func merge(_ other: MetricFigures) {
            count += other.count
            values.merge(other.values)
            guard other.sumMicros != Self.unknownSum else { return forgetSum() }
            addToSum(other.sumWhole, other.sumMicros)
        }

        private mutating func addToSum(_ whole: Int64, _ micros: Int64) {
            guard sumMicros != Self.unknownSum else { return }
            sumWhole &+= whole
            sumMicros &+= micros
        }

        private mutating func forgetSum() { (sumWhole, sumMicros) = (0, Self.unknownSum) }
    }

    /// A metric's values per step of `stepSec` seconds (a whole number of hours) from the step
    /// holding `from` to the one holding `to`, for the tag subset `tags` (`k=v`, any order);
    /// steps without values left out. Keys are each step's start in milliseconds.
    public static func metric(
        _ name: String, tags: [(name: String, value: String)], from: Int64, to: Int64, stepSec: Int64, in db: SQLiteDatabase
    ) throws(LogError) -> [(start: Int64, figures: MetricFigures)] {
        let subset = subsets(of: tags).last ?? ""
        let step = stepSec * 1000
        let first = Int64((Double(from) / Double(step)).rounded(.down)) * step
        var steps: [Int64: MetricFigures] = [:]
        guard hour(first) <= hour(to) else { return [] }
        let hours = hour(first)...hour(to)
        let rows = try db.statement("SELECT hours FROM analytics_metric_week WHERE week = ? AND name = ? AND tags = ?")
        defer { rows.finish() }
        for week in try weeks(of: hours, in: "analytics_metric_week", db) {
            _ = rows.reset().bind(1, week).bind(2, name).bind(3, subset)
            guard try rows.step() else { continue }
            let weekStart = week * HourlyCells<MetricFigures>.hoursPerWeek
            guard let cells = HourlyCells<MetricFigures>(encoded: rows.blob(0)[...]) else { throw unreadable("analytics_metric_week", name) }
            for entry in cells.hours where hours.contains(weekStart + entry.hour) {
                let start = first + ((weekStart + entry.hour) * 3_600_000 - first) / step * step
                steps[start, default: MetricFigures()].merge(entry.figures)
            }
        }
        return steps.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// A metric's values per step of `stepSec` seconds, of any length, from the step holding
    /// `from` to the one holding `to`, added up from the log's `metric.recorded` events up to
    /// seq `throughSeq` (the model's position) that occurred in those steps: what a step
    /// shorter than the model's hours asks. The values and tag filter are those of `metric`
    /// (the same subsets of a value's tags); the question reads the events of its range
    /// (found through the chunks' time index), so its time grows with the range.
    public static func metric(
        _ name: String, tags: [(name: String, value: String)], from: Int64, to: Int64, stepSec: Int64, throughSeq: UInt64, reader: LogReader
    ) throws(LogError) -> [(start: Int64, figures: MetricFigures)] {
        let subset = subsets(of: tags).last ?? ""
        let step = stepSec * 1000
        let first = Int64((Double(from) / Double(step)).rounded(.down)) * step
        var query = ReadQuery()
        query.types = ["metric.recorded"]
        query.occurredFrom = first
        query.occurredTo = first + (to - first) / step * step + step - 1
        query.to = throughSeq
        var steps: [Int64: MetricFigures] = [:]
        try reader.read(query) { (event: StoredEvent) throws(LogError) in
            let data = StoredLine.DataFields(event.line)
            guard data["name"] == name, let value = data.number("value"), value.isFinite,
                  subset.isEmpty || subsets(of: data.strings(in: "tags") ?? []).contains(subset) else { return true }
            steps[first + (event.occurredAtMs - first) / step * step, default: MetricFigures()].add(value)
            return true
        }
        return steps.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Delivery attempts to a webhook over a range, and how they went.
    public struct DeliveryFigures: Sendable {
        public var attempts: Int64 = 0, successes: Int64 = 0, failures: Int64 = 0
        /// Durations of the attempts that got an answer (`webhook.delivered`).
        public var durations = QuantileSketch()

        public init() {}

        public var successRate: Double? { attempts == 0 ? nil : Double(successes) / Double(attempts) }

        /// Adds one attempt, in place: answered with `status` (none: no answer), taking
        /// `durationMs` when it was delivered.
        mutating func count(status: Int64?, durationMs: Int64?) {
            attempts += 1
            if let status, (200..<300).contains(status) { successes += 1 } else { failures += 1 }
            if let durationMs { durations.add(Double(durationMs)) }
        }
    }

    /// The delivery attempts to `webhook` in the UTC hours from the one holding `from` to the
    /// one holding `to` (milliseconds; nil: unbounded).
    public static func deliveries(webhook: String, from: Int64?, to: Int64?, in db: SQLiteDatabase) throws(LogError) -> DeliveryFigures {
        var figures = DeliveryFigures()
        let rows = try db.statement("SELECT attempts, successes, failures, durations FROM analytics_webhook_hour WHERE webhook = ? AND hour BETWEEN ? AND ?")
            .bind(1, webhook).bind(2, from.map(hour) ?? Int64.min).bind(3, to.map(hour) ?? Int64.max)
        while try rows.step() {
            figures.attempts += rows.int(0)
            figures.successes += rows.int(1)
            figures.failures += rows.int(2)
            figures.durations.merge(encoded: rows.blob(3))
        }
        rows.finish()
        return figures
    }

    /// The figures of a run of days together (their sketches merged), dated by its first day.
    public static func total(of days: [BuildDay]) -> BuildDay {
        var sum = Day()
        var steps: [String: QuantileSketch] = [:]
        for day in days {
            sum.merge(Day(queued: day.queued, succeeded: day.succeeded, failed: day.failed, canceled: day.canceled, cacheHits: day.cacheHits,
                          cacheRestores: day.cacheRestores, durations: day.durations))
            for (name, sketch) in day.steps { steps[name, default: QuantileSketch()].merge(sketch) }
        }
        return BuildDay(day: days.first?.day ?? 0, queued: sum.queued, succeeded: sum.succeeded, failed: sum.failed, canceled: sum.canceled,
                        cacheHits: sum.cacheHits, cacheRestores: sum.cacheRestores, durations: sum.durations, steps: steps)
    }

    /// The newest day the model holds builds for: where a window that ends "now" ends.
    public static func newestDay(in db: SQLiteDatabase) throws(LogError) -> Int64? {
        let row = try db.statement("SELECT max(day) FROM analytics_build_day")
        defer { row.finish() }
        return try row.step() && !row.isNull(0) ? row.int(0) : nil
    }
}

extension AnalyticsReadModel.Day {
    mutating func count(_ outcome: AnalyticsReadModel.Outcome, _ durationMs: Int64?) {
        switch outcome {
        case .succeeded: succeeded += 1
        case .failed: failed += 1
        case .canceled: canceled += 1
        }
        if outcome != .canceled, let durationMs { durations.add(Double(durationMs)) }
    }
}

extension AnalyticsReadModel.InvocationFigures: HourlyFigures {
    func encode(into out: inout [UInt8]) {
        Varint.append(UInt64(invocations), to: &out)
        Varint.append(UInt64(errors), to: &out)
        Varint.append(UInt64(timeouts), to: &out)
        Varint.append(UInt64(coldStarts), to: &out)
        Varint.appendCounted(to: &out) { durations.encode(into: &$0) }
    }

    init?(from reader: inout ByteReader) {
        self.init()
        guard let invocations = reader.varint(), let errors = reader.varint(), let timeouts = reader.varint(), let coldStarts = reader.varint(),
              let length = reader.varint(), let sketch = reader.take(Int(clamping: length)), durations.merge(encoded: sketch) else { return nil }
        (self.invocations, self.errors, self.timeouts, self.coldStarts) = (Int64(invocations), Int64(errors), Int64(timeouts), Int64(coldStarts))
    }

    static func skip(_ reader: inout ByteReader) -> Bool {
        for _ in 0..<4 { guard reader.varint() != nil else { return false } }
        return reader.varint().flatMap { reader.take(Int(clamping: $0)) } != nil
    }
}

extension AnalyticsReadModel.MetricFigures: HourlyFigures {
    func encode(into out: inout [UInt8]) {
        Varint.append(UInt64(count), to: &out)
        Varint.append(signed: sumWhole, to: &out)
        Varint.append(signed: sumMicros, to: &out)
        Varint.appendCounted(to: &out) { values.encode(into: &$0) }
    }

    init?(from reader: inout ByteReader) {
        self.init()
        guard let count = reader.varint(), let sumWhole = reader.signedVarint(), let sumMicros = reader.signedVarint(),
              let length = reader.varint(), let sketch = reader.take(Int(clamping: length)), values.merge(encoded: sketch) else { return nil }
        (self.count, self.sumWhole, self.sumMicros) = (Int64(count), sumWhole, sumMicros)
    }

    static func skip(_ reader: inout ByteReader) -> Bool {
        guard reader.varint() != nil, reader.signedVarint() != nil, reader.signedVarint() != nil else { return false }
        return reader.varint().flatMap { reader.take(Int(clamping: $0)) } != nil
    }
}
