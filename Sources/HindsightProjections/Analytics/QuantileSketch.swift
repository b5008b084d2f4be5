import Foundation

/// Percentiles over any time range without keeping every sample: a log-bucketed histogram
/// (the DDSketch construction). A value x > 0 falls in bucket ⌈log_γ x⌉ with
/// γ = (1 + α) / (1 − α), and a bucket stands for 2γ^i / (γ + 1), which is within α of every
/// value in it. Sketches of different time buckets merge by adding their counts, so the
/// percentile of a range is that of the merged sketch, with the same bound.
///
/// It keeps no sum: a sum of doubles depends on the order of its additions, so a read model
/// that needs one keeps it exactly beside the sketch, and the stored sketch is the same however
/// the samples were cut into batches.
///
/// With α = 0.5%, a percentile is within 0.5% (relative) of the exact one — the sample of the
/// same rank — for any value the sketch holds; durations from 1 ms to 1 hour take at most
/// about 1,500 buckets. Values at or below `smallest` (zero durations) are counted apart and
/// read as 0.
public struct QuantileSketch: Sendable, Equatable {
    /// The relative accuracy of every percentile.
    public static let relativeAccuracy = 0.005
    /// Values at or below this count as zero.
    static let smallest = 1e-9
    private static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    private static let logGamma = log(gamma)

    /// Counts per bucket index, densely: `counts[i]` is bucket `offset + i` (merging many
    /// sketches is then adding arrays). Empty while all the samples are in one bucket.
    private var counts: [UInt64] = []
    /// The count of the only bucket, `offset`, while there is one: most of a read model's
    /// sketches (an hour of a function that runs a few times a day) hold a sample or two, and
    /// need no array.
    private var lone: UInt64 = 0
    private var offset: Int32 = 0
    private var zeros: UInt64 = 0
    public private(set) var count: UInt64 = 0
    public private(set) var min: Double = .infinity
    public private(set) var max: Double = -.infinity

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public mutating func add(_ value: Double, count times: UInt64 = 1) {
        guard times > 0, value.isFinite else { return }
        if value <= Self.smallest {
            zeros += times
        } else {
            add(times, at: Self.index(of: value))
        }
        count += times
        min = Swift.min(min, value)
        max = Swift.max(max, value)
    }

    /// Adds `times` (more than 0) to bucket `index`, growing the array to hold it.
    private mutating func add(_ times: UInt64, at index: Int32) {
        if counts.isEmpty {
            if lone == 0 || index == offset {
                offset = index
                lone += times
                return
            }
            spread()
        }
        makeRoom(for: index)
        counts[Int(index - offset)] += times
    }

    /// Moves the lone bucket into the array.
    private mutating func spread() {
        guard counts.isEmpty, lone > 0 else { return }
        counts = [lone]
        lone = 0
    }

    /// Grows the array (which holds a bucket) to hold bucket `index`.
    private mutating func makeRoom(for index: Int32) {
        if index < offset {
            counts.insert(contentsOf: repeatElement(0, count: Int(offset - index)), at: 0)
            offset = index
        } else if Int(index - offset) >= counts.count {
            counts.append(contentsOf: repeatElement(0, count: Int(index - offset) - counts.count + 1))
        }
    }

    /// Adds every sample of another sketch.
    public mutating func merge(_ other: QuantileSketch) {
        guard count > 0 else {
            self = other
            return
        }
        other.forEachBucket { index, times in
            add(times, at: index)
            return true
        }
        zeros += other.zeros
        count += other.count
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// The nearest-rank percentile, as auditors recompute it: the ⌈q·count⌉-th smallest sample
    /// (the smallest for q = 0), so p95 of two samples is the larger one and the median of an
    /// even count the lower middle one; within `relativeAccuracy` of that sample, and exact
    /// when it is the smallest or largest. Nil when the sketch is empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        // 0-based: ⌈q·count⌉ − 1, kept within the samples.
        let rank = UInt64(Swift.max((Swift.min(Swift.max(q, 0), 1) * Double(count)).rounded(.up), 1)) - 1
        if rank == 0 { return min }
        if rank == count - 1 { return max }
        if rank < zeros { return 0 }
        var seen = zeros
        var found: Double?
        forEachBucket { index, times in
            seen += times
            if seen > rank { found = Self.value(of: index) }
            return found == nil
        }
        return found.map { Swift.min(Swift.max($0, min), max) } ?? max
    }

    /// Equal when they hold the same samples in the same buckets, however their arrays grew.
    public static func == (a: QuantileSketch, b: QuantileSketch) -> Bool {
        a.zeros == b.zeros && a.count == b.count && a.min == b.min && a.max == b.max && a.buckets.elementsEqual(b.buckets, by: ==)
    }

    /// The buckets that hold samples: index and count, ascending.
    private var buckets: [(index: Int32, count: UInt64)] {
        var buckets: [(index: Int32, count: UInt64)] = []
        forEachBucket { index, times in
            buckets.append((index, times))
            return true
        }
        return buckets
    }

    /// Calls `body` with each bucket that holds samples (index, count), ascending, until it
    /// returns false.
    private func forEachBucket(_ body: (_ index: Int32, _ count: UInt64) -> Bool) {
        guard !counts.isEmpty else {
            if lone > 0 { _ = body(offset, lone) }
            return
        }
        for (position, times) in counts.enumerated() where times > 0 {
            guard body(offset + Int32(position), times) else { return }
        }
    }

    private static func index(of value: Double) -> Int32 { Int32((log(value) / logGamma).rounded(.up)) }
    private static func value(of index: Int32) -> Double { 2 * pow(gamma, Double(index)) / (gamma + 1) }

    // MARK: - Stored form

    /// The sketch as bytes for a read model's table: count, min, max, the zeros, then
    /// each bucket as a varint of its index's distance from the previous one and a varint
    /// of its count.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + 4 * counts.count)
        encode(into: &out)
        return out
    }

    /// Appends `encoded` to `out` (a row's stored form holds many sketches).
    func encode(into out: inout [UInt8]) {
        Varint.append(count, to: &out)
        Varint.append(fixed: min.bitPattern, to: &out)
        Varint.append(fixed: max.bitPattern, to: &out)
        Varint.append(zeros, to: &out)
        Varint.append(UInt64(counts.isEmpty ? (lone > 0 ? 1 : 0) : counts.lazy.filter { $0 > 0 }.count), to: &out)
        var previous: Int64 = 0
        forEachBucket { index, times in
            Varint.append(signed: Int64(index) - previous, to: &out)  // the first may be negative
            Varint.append(times, to: &out)
            previous = Int64(index)
            return true
        }
    }

    /// Reads `encoded`; nil when the bytes are not a sketch.
    public init?(encoded bytes: [UInt8]) {
        self.init(encoded: bytes[...])
    }

    /// Reads `encoded`; nil when the bytes are not a sketch.
    public init?(encoded bytes: ArraySlice<UInt8>) {
        guard merge(encoded: bytes) else { return nil }
    }

    /// Adds the samples of an encoded sketch.
    @discardableResult
    public mutating func merge(encoded bytes: [UInt8]) -> Bool { merge(encoded: bytes[...]) }

    /// Adds the samples of an encoded sketch, read straight into this one's buckets (no
    /// sketch is made of them): what a query over many time buckets does. False, and this
    /// sketch unchanged, when the bytes are not a sketch. The buckets are read twice: once to
    /// check them and find their range, then to add them once the array has room.
    @discardableResult
    public mutating func merge(encoded bytes: ArraySlice<UInt8>) -> Bool {
        var reader = ByteReader(bytes)
        guard let count = reader.varint(), let low = reader.fixed64(), let high = reader.fixed64(), let zeros = reader.varint(),
            let bucketCount = reader.varint(), bucketCount <= UInt64(reader.remaining)
        else { return false }
        let buckets = reader
        var previous: Int64 = 0
        var total = zeros
        var first: Int32 = 0
        var last: Int32 = 0
        for position in 0..<bucketCount {
            guard let delta = reader.signedVarint(), let times = reader.varint(), let index = Int32(exactly: previous &+ delta) else {
                return false
            }
            if position == 0 { first = index }
            last = index
            total &+= times
            previous = Int64(index)
        }
        guard reader.atEnd, total == count else { return false }
        if bucketCount == 1 {
            var only = buckets
            _ = only.signedVarint()
            add(only.varint()!, at: first)
        } else if bucketCount > 1 {
            // Make room once, then add.
            if counts.isEmpty && lone == 0 {
                offset = first
                counts = [0]
            }
            spread()
            makeRoom(for: first)
            makeRoom(for: last)
            reader = buckets
            previous = 0
            for _ in 0..<bucketCount {
                let index = previous + reader.signedVarint()!
                let times = reader.varint()!
                counts[Int(Int32(index) - offset)] += times
                previous = index
            }
        }
        self.zeros += zeros
        self.count += count
        min = Swift.min(min, Double(bitPattern: low))
        max = Swift.max(max, Double(bitPattern: high))
        return true
    }
}
