public import HindsightCore

/// Alerts: the rules of `alert.rule_defined`, evaluated at every value of their metric that
/// carries their tags, in seq order: the aggregate is the average of the rule's values that
/// occurred in the window (t − windowSec, t], t the value's `occurredAt`. Rules on the same
/// metric, tags and window share the window, which holds the values recorded since the first of
/// them was defined (and is let go with the last); values that occurred a window or more before
/// the latest one are let go. The rule fires when the aggregate meets its condition and resolves
/// when it no longer does; a removal or redefinition resolves a firing rule. Each transition
/// keeps the seq of the event that caused it.
public final class AlertsReadModel: ReadModel {
    public let name = "alerts"
    public let version = 1
    public let types: Set<String>? = ["alert.rule_defined", "alert.rule_removed", "metric.recorded"]
    /// The series earlier batches met, for the next ones to start from.
    private let knownSeries = KnownNames<Analytics.SeriesNames> { $0.texts.count }

    public init() {}

    public let buildBatch = 300_000

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE analytics_alert_rule (rule TEXT PRIMARY KEY, metric TEXT NOT NULL, op TEXT NOT NULL, threshold REAL NOT NULL,
                                               window_sec INTEGER NOT NULL, tags TEXT NOT NULL, firing INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE analytics_alert_value (window TEXT NOT NULL, seq INTEGER NOT NULL, occurred_at INTEGER NOT NULL, value REAL NOT NULL,
                                                PRIMARY KEY (window, seq)) WITHOUT ROWID;
            CREATE TABLE analytics_alert_transitions (rule TEXT NOT NULL, row INTEGER NOT NULL, last_seq INTEGER NOT NULL, last_at INTEGER NOT NULL,
                                                      earliest INTEGER NOT NULL, latest INTEGER NOT NULL, transitions BLOB NOT NULL,
                                                      PRIMARY KEY (rule, row)) WITHOUT ROWID;
            """)
    }

    /// What one event adds, read from it while the batch is prepared.
    enum Fold: Sendable {
        case ruleDefined(AlertRule)
        case ruleRemoved(rule: String)
        /// A value of one of the batch's metric series (`Batch.series`), for the rules on it.
        case value(series: Int, value: Double)
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

    public struct Batch: Sendable {
        let folds: [(fold: Fold, seq: Int64, occurredAt: Int64)]
        /// The metric series (a name and its tags) the batch's values are of.
        let series: [Analytics.MetricSeries]
    }

    public func prepare(_ events: [ProjectedEvent]) -> Batch {
        var folds: [(fold: Fold, seq: Int64, occurredAt: Int64)] = []
        var names = knownSeries.take() ?? Analytics.SeriesNames(withSubsets: false)
        defer { knownSeries.putBack(names) }
        for event in events {
            let stored = event.stored
            let data = StoredLine.DataFields(stored.line)
            let fold: Fold?
            switch stored.type {
            case "metric.recorded":
                guard let name = data.text("name"), Analytics.isString(name), let value = data.number("value"), value.isFinite else {
                    continue
                }
                fold = .value(series: names.series(data, name: name), value: value)
            case "alert.rule_defined":
                if let rule = data["rule"], let metric = data["metric"], let op = data["op"].flatMap(AlertRule.Comparison.init),
                    let threshold = data.number("threshold"),
                    let windowSec = data.integer("windowSec")
                {
                    let tags = (data.strings(in: "tags") ?? []).sorted { $0.name < $1.name }.map { $0.name + "=" + $0.value }.joined(
                        separator: ",")
                    fold = .ruleDefined(
                        AlertRule(rule: rule, metric: metric, op: op, threshold: threshold, windowSec: windowSec, tags: tags))
                } else {
                    fold = nil
                }
            case "alert.rule_removed": fold = data["rule"].map { .ruleRemoved(rule: $0) }
            default: fold = nil
            }
            if let fold { folds.append((fold, Int64(stored.seq), stored.occurredAtMs)) }
        }
        return Batch(folds: folds, series: names.series.map(\.series))
    }

    public func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError) {
        var alerts = try AlertEvaluation(in: db, series: batch.series)
        for (fold, seq, occurredAt) in batch.folds {
            switch fold {
            case .ruleDefined(let rule): try alerts.define(rule, seq: seq, occurredAt: occurredAt)
            case .ruleRemoved(let rule): try alerts.remove(rule, seq: seq, occurredAt: occurredAt)
            case .value(let series, let value): try alerts.evaluate(series: series, value, seq: seq, occurredAt: occurredAt)
            }
        }
        try alerts.save()
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
        private let series: [Analytics.MetricSeries]
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

        init(in db: SQLiteDatabase, series: [Analytics.MetricSeries]) throws(LogError) {
            self.db = db
            self.series = series
            let rows = try db.statement(
                "SELECT rule, metric, op, threshold, window_sec, tags, firing FROM analytics_alert_rule ORDER BY rule")
            while try rows.step() {
                guard let op = rows.text(2).flatMap(AlertRule.Comparison.init) else {
                    let name = rows.text(0) ?? ""
                    rows.finish()
                    throw Analytics.unreadable("analytics_alert_rule", name, model: "alerts")
                }
                let rule = AlertRule(
                    rule: rows.text(0) ?? "", metric: rows.text(1) ?? "", op: op, threshold: rows.double(3),
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
                let index = group.rules.firstIndex(where: { $0.rule.rule == name })
            else { return }
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
            let found = groups.values.filter { $0.key.metric == series.name && $0.rules[0].rule.matches(series.tags) }.sorted {
                $0.key.stored < $1.key.stored
            }
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
                var sum = 0.0
                var count = 0
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
        private static func changes(of rules: [(rule: AlertRule, firing: Bool, changed: Bool)], at aggregate: Double?) -> [(
            index: Int, holds: Bool
        )] {
            var changes: [(index: Int, holds: Bool)] = []
            for index in rules.indices {
                let holds = aggregate.map(rules[index].rule.holds) ?? false
                if holds != rules[index].firing { changes.append((index, holds)) }
            }
            return changes
        }

        private func load(_ group: Group) throws(LogError) {
            guard !group.loaded else { return }
            let rows = try db.statement("SELECT seq, occurred_at, value FROM analytics_alert_value WHERE window = ? ORDER BY seq").bind(
                1, group.key.stored)
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
                guard let key = keyOfRule[name], let (rule, firing, _) = groups[key]?.rules.first(where: { $0.rule.rule == name }) else {
                    continue
                }
                try db.statement("INSERT INTO analytics_alert_rule VALUES (?, ?, ?, ?, ?, ?, ?)").bind(1, rule.rule).bind(2, rule.metric)
                    .bind(3, rule.op.rawValue).bind(4, rule.threshold).bind(5, rule.windowSec).bind(6, rule.tags).bind(
                        7, Int64(firing ? 1 : 0)
                    ).run()
            }
            // Each rule's transitions go to its rows by seq (`AlertTransitionRun`), after what a
            // row holds already.
            var runs: [RunKey: AlertTransitionRun] = [:]
            for transition in transitions {
                runs[RunKey(rule: transition.rule, row: AlertTransitionRun.row(of: transition.seq)), default: AlertTransitionRun()].append(
                    AlertTransition(
                        rule: transition.rule, seq: transition.seq, occurredAt: transition.occurredAt,
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
    public static func activeAlerts(afterSeq seq: Int64?, orTime time: Int64?, in db: SQLiteDatabase) throws(LogError) -> [AlertTransition]
    {
        let (seq, time) = (seq ?? Int64.max, time ?? Int64.max)
        var last: [String: AlertTransition] = [:]
        let rows = try db.statement(
            "SELECT rule, transitions FROM analytics_alert_transitions WHERE row <= ? AND earliest <= ? ORDER BY rule, row")
        try forEachTransition(of: rows.bind(1, AlertTransitionRun.row(of: seq)).bind(2, time)) { transition in
            if transition.seq <= seq, transition.occurredAt <= time { last[transition.rule] = transition }
        }
        return last.values.filter { $0.kind == "fired" }.sorted { $0.rule < $1.rule }
    }

    /// Every transition of the rules (or of one) caused by events that occurred from `from` to
    /// `to` (milliseconds, inclusive), in seq order.
    public static func alertHistory(rule: String?, from: Int64, to: Int64, in db: SQLiteDatabase) throws(LogError) -> [AlertTransition] {
        var found: [AlertTransition] = []
        let rows = try db.statement(
            "SELECT rule, transitions FROM analytics_alert_transitions WHERE latest >= ? AND earliest <= ? AND (? IS NULL OR rule = ?)")
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
            guard let run = AlertTransitionRun(encoded: rows.blob(1)[...], rule: rule) else {
                throw Analytics.unreadable("analytics_alert_transitions", rule, model: "alerts")
            }
            run.transitions.forEach(body)
        }
    }

}
