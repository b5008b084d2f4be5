import Foundation
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightLog
import HindsightReadSide
import HindsightTestSupport
import HindsightWorkload
import Testing

@testable import HindsightProjections

extension HourlyCells {
    mutating func add(_ figures: Figures, atHour hour: Int64) { modify(atHour: hour) { $0.merge(figures) } }
}

@Suite("Hourly figures kept in weekly rows")
struct HourlyCellsTests {
    private func invocation(_ durationMs: Int64, status: String = "ok", coldStart: Bool = false) -> FunctionsReadModel.InvocationFigures {
        var figures = FunctionsReadModel.InvocationFigures()
        figures.count(status: status, coldStart: coldStart, durationMs: durationMs)
        return figures
    }

    private func same(_ a: FunctionsReadModel.InvocationFigures, _ b: FunctionsReadModel.InvocationFigures) -> Bool {
        a.invocations == b.invocations && a.errors == b.errors && a.timeouts == b.timeouts && a.coldStarts == b.coldStarts
            && a.durations.encoded == b.durations.encoded
    }

    @Test func hoursFallInTheWeekOfTheirOwnOn168HourRunsFromTheEpoch() {
        typealias Cells = HourlyCells<FunctionsReadModel.InvocationFigures>
        #expect([0, 167, 168, 335, 336].map(Cells.week(ofHour:)) == [0, 0, 1, 1, 2])
        #expect([-1, -168, -169].map(Cells.week(ofHour:)) == [-1, -1, -2])
        var cells = Cells()
        cells.add(invocation(5), atHour: -1)
        cells.add(invocation(7), atHour: 169)
        #expect(cells.hours.map(\.hour) == [1, 167])
    }

    @Test func cellsReadBackAsWrittenAndStoredFormsMergeAsTheirFiguresAdd() throws {
        var random = SplitMix64(seed: 11)
        var first = HourlyCells<FunctionsReadModel.InvocationFigures>()
        var second = first
        var both = first
        for index in 0..<2_000 {
            let hour = 168 * 5 + Int64(random.next() % 168)
            let figures = invocation(
                Int64(random.next() % 3_600_000), status: ["ok", "error", "timeout"][Int(random.next() % 3)],
                coldStart: random.next() % 4 == 0)
            if index % 3 == 0 { first.add(figures, atHour: hour) } else { second.add(figures, atHour: hour) }
            both.add(figures, atHour: hour)
        }
        let read = try #require(HourlyCells<FunctionsReadModel.InvocationFigures>(encoded: first.encoded[...]))
        #expect(read.hours.map(\.hour) == first.hours.map(\.hour))
        #expect(zip(read.hours, first.hours).allSatisfy { same($0.figures, $1.figures) })

        let merged = try #require(HourlyCells<FunctionsReadModel.InvocationFigures>.merged(first.encoded, second.encoded))
        #expect(merged == both.encoded)
    }

    @Test func metricFiguresKeepTheirExactSumsThroughTheStoredForm() throws {
        var cells = HourlyCells<MetricsReadModel.MetricFigures>()
        for (hour, value) in [(3, -2.25), (3, 10.5), (4, 0.000001), (100, -7.0)] {
            var figures = MetricsReadModel.MetricFigures()
            figures.add(value)
            cells.add(figures, atHour: Int64(hour))
        }
        let read = try #require(HourlyCells<MetricsReadModel.MetricFigures>(encoded: cells.encoded[...]))
        #expect(read.hours.map(\.hour) == [3, 4, 100])
        #expect(read.hours.map(\.figures.count) == [2, 1, 1])
        #expect(read.hours.map(\.figures.average) == [4.125, 0.000001, -7.0])
    }

    @Test func bytesThatAreNotHourlyCellsAreRefused() {
        typealias Cells = HourlyCells<FunctionsReadModel.InvocationFigures>
        var cells = Cells()
        cells.add(invocation(250), atHour: 10)
        let stored = cells.encoded
        #expect(Cells(encoded: stored.dropLast()) == nil)
        #expect(Cells(encoded: [200] + stored.dropFirst()) == nil)  // an hour past the week's
        #expect(Cells(encoded: (stored + stored)[...]) == nil)  // the same hour twice
        #expect(Cells.merged(stored + stored, stored) == nil)
        #expect(Cells.merged(stored, [0xFF]) == nil)
        #expect(Cells(encoded: [][...])?.hours.isEmpty == true)
    }

    @Test func aDamagedWeeklyRowStopsTheModelInsteadOfLosingWhatABatchAdds() throws {
        let dir = TemporaryDirectory()
        func append(_ lines: [String]) throws {
            try Engine(directory: dir.path).append(
                try EnvelopeParser.parse(ndjson: Array(lines.joined(separator: "\n").utf8), catalog: .standard))
        }
        func invoked(at time: String) -> String {
            #"{"type":"function.invoked","stream":"function/fn_1","org":"org_1","actor":{"kind":"system","id":"invoker"},"data":{"function":"fn_1","project":"prj_1","mode":"sync","durationMs":40,"coldStart":false,"status":"ok"},"occurredAt":"\#(time)"}"#
        }
        try append([invoked(at: "2026-03-02T10:00:00.000Z")])
        let projections = try Projections(
            source: EventSource(directory: dir.path),
            models: [FunctionsReadModel()])
        try projections.catchUp(LogReader(directory: dir.path))
        let db = try #require(projections.database("functions"))
        try db.execute("UPDATE analytics_function_week SET hours = x'FF' WHERE scope = 'function/fn_1'")

        try append([invoked(at: "2026-03-02T11:00:00.000Z")])
        #expect(throws: LogError.self) { try projections.catchUp(LogReader(directory: dir.path)) }
        #expect(try projections.positions()["functions"] == 1)
    }
}
