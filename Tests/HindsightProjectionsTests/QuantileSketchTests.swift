import Foundation
import HindsightProjections
import HindsightWorkload
import Testing

/// Samples of durations in milliseconds, from 1 ms to 1 hour, in shapes a platform sees.
enum Shape: String, CaseIterable, Sendable {
    case uniform, logUniform, logNormal, bimodal, constant, withZeros

    func samples(_ count: Int, seed: UInt64) -> [Double] {
        var random = SplitMix64(seed: seed)
        let unit = { Double(random.next() >> 11) / Double(1 << 53) }
        return (0..<count).map { _ in
            switch self {
            case .uniform: return 1 + unit() * (3_600_000 - 1)
            case .logUniform: return exp(unit() * log(3_600_000.0))
            case .logNormal:
                // Box–Muller around 120 ms, clamped to the range.
                let normal = sqrt(-2 * log(max(unit(), 1e-12))) * cos(2 * .pi * unit())
                return min(3_600_000, max(1, exp(log(120) + 1.2 * normal)))
            case .bimodal: return unit() < 0.9 ? 20 + unit() * 30 : 30_000 + unit() * 30_000
            case .constant: return 250
            case .withZeros: return unit() < 0.2 ? 0 : 1 + unit() * 1_000
            }
        }
    }
}

/// The nearest-rank percentile: the ⌈q·n⌉-th smallest (the smallest for q = 0).
private func exact(_ sorted: [Double], _ q: Double) -> Double { sorted[max(Int((q * Double(sorted.count)).rounded(.up)), 1) - 1] }

private func withinBound(_ estimate: Double, _ exact: Double) -> Bool {
    exact == 0 ? estimate == 0 : abs(estimate - exact) / exact <= QuantileSketch.relativeAccuracy + 1e-12
}

@Suite("Percentiles from mergeable sketches")
struct QuantileSketchTests {
    static let quantiles = [0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]

    @Test(arguments: Shape.allCases)
    func everyPercentileIsWithinHalfAPercentOfTheExactOne(shape: Shape) {
        let samples = shape.samples(50_000, seed: 7)
        var sketch = QuantileSketch()
        for sample in samples { sketch.add(sample) }
        let sorted = samples.sorted()
        for q in Self.quantiles {
            let estimate = sketch.quantile(q)!
            #expect(withinBound(estimate, exact(sorted, q)), "\(shape) p\(q * 100): \(estimate) for \(exact(sorted, q))")
        }
        #expect(sketch.count == UInt64(samples.count))
        #expect(sketch.min == sorted.first && sketch.max == sorted.last)
    }

    @Test func sketchesOfTimeBucketsMergeIntoTheSketchOfTheirRange() {
        // An hour's sketch per bucket, merged over a range, answers as one sketch of the range.
        let hours = (0..<48).map { hour in Shape.allCases[hour % Shape.allCases.count].samples(500 + hour * 37, seed: UInt64(hour)) }
        var merged = QuantileSketch()
        var whole = QuantileSketch()
        for hour in hours {
            var sketch = QuantileSketch()
            for sample in hour { sketch.add(sample) }
            merged.merge(sketch)
            for sample in hour { whole.add(sample) }
        }
        // The same counts in the same buckets, however the samples were cut.
        #expect(merged == whole)
        let sorted = hours.flatMap { $0 }.sorted()
        for q in Self.quantiles {
            #expect(merged.quantile(q) == whole.quantile(q))
            #expect(withinBound(merged.quantile(q)!, exact(sorted, q)))
        }
    }

    @Test func theStoredFormReadsBackAsTheSameSketch() {
        var sketch = QuantileSketch()
        for sample in Shape.withZeros.samples(10_000, seed: 3) + Shape.logUniform.samples(10_000, seed: 4) { sketch.add(sample) }
        sketch.add(0.0004)  // below a millisecond: a bucket of negative index
        let encoded = sketch.encoded
        #expect(QuantileSketch(encoded: encoded) == sketch)
        #expect(encoded.count < 4_000, "\(encoded.count) bytes")
        // Cut short, or with a byte changed in its counts, it is refused or reads differently.
        #expect(QuantileSketch(encoded: encoded.dropLast()) == nil)
        #expect(QuantileSketch(encoded: [UInt8]()) == nil)
        #expect(QuantileSketch().quantile(0.5) == nil)
        #expect(QuantileSketch(encoded: QuantileSketch().encoded) == QuantileSketch())
    }

    @Test func sketchesOfOneBucketMergeAndReadBackLikeAnyOther() throws {
        // One sample, the same value again, then others below and above it: merged in every
        // order and through the stored form, each gives the sketch of all the samples.
        let samples: [[Double]] = [[250], [250, 250], [3, 250], [250, 90_000], [0, 250]]
        var whole = QuantileSketch()
        for part in samples { for sample in part { whole.add(sample) } }
        for order in [samples, samples.reversed()] {
            var merged = QuantileSketch()
            var throughStoredForm = QuantileSketch()
            for part in order {
                var sketch = QuantileSketch()
                for sample in part { sketch.add(sample) }
                merged.merge(sketch)
                let read = throughStoredForm.merge(encoded: sketch.encoded)
                #expect(read)
                #expect(try #require(QuantileSketch(encoded: sketch.encoded)) == sketch)
            }
            #expect(merged == whole)
            #expect(throughStoredForm == whole)
            #expect(merged.encoded == whole.encoded)
        }
        #expect(whole.quantile(0) == 0 && whole.quantile(1) == 90_000)
        #expect(withinBound(whole.quantile(0.5)!, 250))
    }

    /// Nearest rank, as auditors recompute percentiles: of builds of 81 s and 254 s the p95 is
    /// 254 s and the median 81 s; of 1…100 the p95 is the 95th.
    @Test func percentilesAreNearestRank() {
        var two = QuantileSketch()
        two.add(81_000)
        two.add(254_000)
        #expect(two.quantile(0.95) == 254_000)
        #expect(two.quantile(0.5) == 81_000)
        var hundred = QuantileSketch()
        for value in 1...100 { hundred.add(Double(value)) }
        #expect(withinBound(hundred.quantile(0.95)!, 95))
        #expect(withinBound(hundred.quantile(0.5)!, 50))
        #expect(withinBound(hundred.quantile(0.99)!, 99))
        #expect(hundred.quantile(0) == 1 && hundred.quantile(1) == 100)
    }
}
