public import HindsightCore
public import HindsightLog

/// Metrics: per name, UTC hour and subset of the tags (so that a question with any tag filter
/// reads cells of its own): count, an exact sum (whole units and micro-units, in integers, so
/// that it does not depend on the order of additions), and a sketch of the values (with their
/// minimum and maximum), kept per hour inside a row per week (`HourlyCells`).
public final class MetricsReadModel: ReadModel {
    public let name = "metrics"
    public let version = 1
    public let types: Set<String>? = ["metric.recorded"]
    /// The series earlier batches met, for the next ones to start from.
    private let knownSeries = KnownNames<Analytics.SeriesNames> { $0.texts.count }

    public init() {}

    /// Batches of 300,000 events merge fewer week rows into what earlier batches stored.
    public let buildBatch = 300_000

    /// Pages of 64 KiB, as for the functions model: a week's row of a metric holds many
    /// kilobytes.
    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute("PRAGMA page_size = 65536")
        try db.execute(
            """
            CREATE TABLE analytics_metric_week (name TEXT NOT NULL, tags TEXT NOT NULL, week INTEGER NOT NULL, count INTEGER NOT NULL,
                                                hours BLOB NOT NULL, PRIMARY KEY (week, name, tags)) WITHOUT ROWID;
            """)
    }

    public struct Batch: Sendable {
        /// The rows of `analytics_metric_week` the batch adds to, worked out in full: metric
        /// values need nothing from the database. In the order of the table.
        let rows: [(key: MetricWeekKey, count: Int64, hours: [UInt8])]
    }

    /// A row of `analytics_metric_week`.
    struct MetricWeekKey: Hashable, Sendable {
        let name: String
        /// A subset of the value's tags, as `k=v` joined by commas in the order of the keys.
        let tags: String
        let week: Int64
    }

    public func prepare(_ events: [ProjectedEvent]) -> Batch {
        var names = knownSeries.take() ?? Analytics.SeriesNames(withSubsets: true)
        defer { knownSeries.putBack(names) }
        var metrics = Analytics.NamedCells<Int64, MetricFigures>()
        for event in events {
            let stored = event.stored
            let data = StoredLine.DataFields(stored.line)
            guard let name = data.text("name"), Analytics.isString(name), let value = data.number("value"), value.isFinite else { continue }
            let series = names.series(data, name: name)
            let hour = Analytics.hour(stored.occurredAtMs)
            let week = HourlyCells<MetricFigures>.week(ofHour: hour)
            for subset in names.series[series].subsets {
                metrics.modify(subset, week, atHour: hour) { $0.add(value) }
            }
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
            return (
                key: MetricWeekKey(name: key.name, tags: key.tags, week: cell.week), count: cell.hours.total(\.count),
                hours: cell.hours.encoded
            )
        }
        return Batch(rows: rows)
    }

    public func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError) {
        try db.defineBlobFunction("hindsight_metric_hours_merge") { HourlyCells<MetricFigures>.merged($0, $1) }
        let metric = try db.statement(
            """
            INSERT INTO analytics_metric_week VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (week, name, tags) DO UPDATE SET count = count + excluded.count, hours = hindsight_metric_hours_merge(hours, excluded.hours)
            """)
        for (key, count, hours) in batch.rows {
            try metric.reset().bind(1, key.name).bind(2, key.tags).bind(3, key.week).bind(4, count).bind(5, blob: hours).run()
        }
    }

    // MARK: - Questions

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
        let subset = Analytics.subsets(of: tags).last ?? ""
        let step = stepSec * 1000
        let first = Int64((Double(from) / Double(step)).rounded(.down)) * step
        var steps: [Int64: MetricFigures] = [:]
        guard Analytics.hour(first) <= Analytics.hour(to) else { return [] }
        let hours = Analytics.hour(first)...Analytics.hour(to)
        let rows = try db.statement("SELECT hours FROM analytics_metric_week WHERE week = ? AND name = ? AND tags = ?")
        defer { rows.finish() }
        for week in try Analytics.weeks(of: hours, of: HourlyCells<MetricFigures>.self, in: "analytics_metric_week", db) {
            _ = rows.reset().bind(1, week).bind(2, name).bind(3, subset)
            guard try rows.step() else { continue }
            let weekStart = week * HourlyCells<MetricFigures>.hoursPerWeek
            guard let cells = HourlyCells<MetricFigures>(encoded: rows.blob(0)[...]) else {
                throw Analytics.unreadable("analytics_metric_week", name, model: "metrics")
            }
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
    /// shorter than the model's hours asks (and, with `occurredBy`, only the values that occurred
    /// by then). The values and tag filter are those of `metric`
    /// (the same subsets of a value's tags); the question reads the events of its range
    /// (found through the chunks' time index), so its time grows with the range.
    public static func metric(
        _ name: String, tags: [(name: String, value: String)], from: Int64, to: Int64, stepSec: Int64, throughSeq: UInt64,
        occurredBy: Int64? = nil, reader: LogReader
    ) throws(LogError) -> [(start: Int64, figures: MetricFigures)] {
        let subset = Analytics.subsets(of: tags).last ?? ""
        let step = stepSec * 1000
        let first = Int64((Double(from) / Double(step)).rounded(.down)) * step
        var query = ReadQuery()
        query.types = ["metric.recorded"]
        query.occurredFrom = first
        query.occurredTo = min(first + (to - first) / step * step + step - 1, occurredBy ?? .max)
        query.to = throughSeq
        var steps: [Int64: MetricFigures] = [:]
        try reader.read(query) { (event: StoredEvent) throws(LogError) in
            let data = StoredLine.DataFields(event.line)
            guard data["name"] == name, let value = data.number("value"), value.isFinite,
                subset.isEmpty || Analytics.subsets(of: data.strings(in: "tags") ?? []).contains(subset)
            else { return true }
            steps[first + (event.occurredAtMs - first) / step * step, default: MetricFigures()].add(value)
            return true
        }
        return steps.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

}

extension MetricsReadModel.MetricFigures: HourlyFigures {
    func encode(into out: inout [UInt8]) {
        Varint.append(UInt64(count), to: &out)
        Varint.append(signed: sumWhole, to: &out)
        Varint.append(signed: sumMicros, to: &out)
        Varint.appendCounted(to: &out) { values.encode(into: &$0) }
    }

    init?(from reader: inout ByteReader) {
        self.init()
        guard let count = reader.varint(), let sumWhole = reader.signedVarint(), let sumMicros = reader.signedVarint(),
            let length = reader.varint(), let sketch = reader.take(Int(clamping: length)), values.merge(encoded: sketch)
        else { return nil }
        (self.count, self.sumWhole, self.sumMicros) = (Int64(count), sumWhole, sumMicros)
    }

    static func skip(_ reader: inout ByteReader) -> Bool {
        guard reader.varint() != nil, reader.signedVarint() != nil, reader.signedVarint() != nil else { return false }
        return reader.varint().flatMap { reader.take(Int(clamping: $0)) } != nil
    }
}
