import HindsightCore
import Synchronization

/// What the analytics read models (builds, functions, metrics, alerts, webhooks) share: the
/// UTC day and hour of a time, the cells of figures they add up, and the names of metric
/// series. The encodings they store (`QuantileSketch`, `HourlyCells`) sit beside this file.
public enum Analytics {
    /// The UTC day (days since 1970-01-01) of a time in milliseconds.
    static func day(_ ms: Int64) -> Int64 { ms >= 0 ? ms / 86_400_000 : (ms + 1) / 86_400_000 - 1 }
    /// The UTC hour (hours since the epoch) of a time in milliseconds.
    public static func hour(_ ms: Int64) -> Int64 { ms >= 0 ? ms / 3_600_000 : (ms + 1) / 3_600_000 - 1 }

    /// The names earlier batches met are kept for the next ones to start from, up to this many.
    static let mostNames = 500_000
    /// Sets of names kept, at most: one per batch prepared at once (read ahead).
    static let keptNames = 4

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

    /// A stored row that cannot be read: the read model needs rebuilding.
    static func unreadable(_ table: String, _ key: String, model: String) -> LogError {
        LogError(.logCorrupt, "a row of \(table) for \(key) cannot be read; rebuild the \(model) read model (hindsight rebuild \(model))")
    }

    /// The weeks a table keyed by week first holds that overlap a range of hours: a question
    /// reads each week's rows with a seek of its own.
    static func weeks<Figures>(of hours: ClosedRange<Int64>, of _: HourlyCells<Figures>.Type, in table: String, _ db: SQLiteDatabase)
        throws(LogError) -> Range<Int64>
    {
        // Two statements: SQLite finds a min or a max from the key alone, not both at once.
        func edge(_ aggregate: String) throws(LogError) -> Int64? {
            let held = try db.statement("SELECT \(aggregate)(week) FROM \(table)")
            defer { held.finish() }
            return try held.step() && !held.isNull(0) ? held.int(0) : nil
        }
        guard let oldest = try edge("min"), let newest = try edge("max") else { return 0..<0 }
        let first = max(oldest, HourlyCells<Figures>.week(ofHour: hours.lowerBound))
        let last = min(newest, HourlyCells<Figures>.week(ofHour: hours.upperBound))
        return first <= last ? first..<(last + 1) : 0..<0  // `last` is a stored week: no overflow
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

    /// Metric series batches meet again and again, numbered in the order met (`TextNumbers`),
    /// each with the subsets of its tags it counts in (numbers of `metricSubsets`). A batch's
    /// cells are keyed by these numbers; the names are kept from batch to batch.
    struct SeriesNames: Sendable {
        /// Whether to work out the subsets of each series' tags (the metrics model's cells;
        /// the alerts model needs only the series).
        let withSubsets: Bool
        var texts = TextNumbers()
        var series: [(series: MetricSeries, subsets: [Int])] = []
        var subsetByKey: [MetricSubsetKey: Int] = [:]
        var metricSubsets: [MetricSubsetKey] = []

        /// The number of the series of a metric value (`name` the text of its name, a string).
        mutating func series(_ data: StoredLine.DataFields, name: ArraySlice<UInt8>) -> Int {
            let (number, new) = texts.number(name, data.text("tags") ?? [])
            guard new else { return number }
            let tags = data.strings(in: "tags") ?? []
            let subsets: [Int] =
                !withSubsets
                ? []
                : Analytics.subsets(of: tags).map { subset in
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

    /// A metric with a subset of its values' tags: the rows of `analytics_metric_week` but their week.
    struct MetricSubsetKey: Hashable, Comparable {
        let name: String
        /// A subset of the value's tags, as `k=v` joined by commas in the order of the keys.
        let tags: String

        static func < (a: Self, b: Self) -> Bool { (a.name, a.tags) < (b.name, b.tags) }
    }
}

/// Names met by earlier batches, kept for the next ones (most of a batch's names were met
/// before): a prepare takes a set and puts it back; batches prepared side by side take one
/// each.
final class KnownNames<Names: Sendable>: Sendable {
    private let kept = Mutex<[Names]>([])
    private let count: @Sendable (Names) -> Int

    init(count: @escaping @Sendable (Names) -> Int) { self.count = count }

    /// A set to start a batch from, or nil (start empty) when none is kept or the one kept
    /// grew past `Analytics.mostNames`.
    func take() -> Names? { kept.withLock { $0.popLast() }.flatMap { count($0) > Analytics.mostNames ? nil : $0 } }

    func putBack(_ names: Names) { kept.withLock { if $0.count < Analytics.keptNames { $0.append(names) } } }
}
