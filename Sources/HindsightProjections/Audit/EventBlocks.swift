import HindsightCore

/// A row of `audit_events`: when each of up to `AuditReadModel.blockSize` consecutive events
/// occurred and where its stored line starts in the log's content, rows starting at seq 1,
/// 513, … Each number is kept as its difference from the one before (`Deltas`): about nine
/// bytes an event, where a row per event (with its org, actor and type) took 51.
struct EventBlock {
    let first: Int64
    let times: [Int64]
    let places: [Int64]

    init(first: Int64, times: [UInt8], places: [UInt8]) {
        self.first = first
        self.times = Deltas.values(in: times, after: 0, signed: true)
        self.places = Deltas.values(in: places, after: 0)
    }

    /// The first seq of the block that holds `seq`.
    static func first(of seq: Int64) -> Int64 {
        (seq - 1) / Int64(AuditReadModel.blockSize) * Int64(AuditReadModel.blockSize) + 1
    }

    /// The last seq the block holds.
    var last: Int64 { first + Int64(times.count) - 1 }

    func time(of seq: Int64) -> Int64? { first <= seq && seq <= last ? times[Int(seq - first)] : nil }
    func place(of seq: Int64) -> Int64? { first <= seq && seq <= last && Int(seq - first) < places.count ? places[Int(seq - first)] : nil }

    /// The block holding `seq`; nil when the model has none.
    static func read(holding seq: Int64, in db: SQLiteDatabase) throws(LogError) -> EventBlock? {
        let first = first(of: seq)
        let row = try db.statement(AuditReadModel.SQL.eventBlock).bind(1, first)
        defer { row.finish() }
        guard try row.step() else { return nil }
        return EventBlock(first: first, times: row.blob(0), places: row.blob(1))
    }

    /// Adds events to their blocks: their seqs must follow, one by one, those the model holds.
    static func append(_ events: [ProjectedEvent], in db: SQLiteDatabase) throws(LogError) {
        let write = try db.statement("INSERT OR REPLACE INTO audit_events VALUES (?, ?, ?)")
        var index = 0
        while index < events.count {
            let seq = Int64(events[index].stored.seq)
            let first = first(of: seq)
            var times: [UInt8] = []
            var places: [UInt8] = []
            var held = first
            var lastTime: Int64 = 0
            var lastPlace: Int64 = 0
            if seq > first {
                let row = try db.statement(AuditReadModel.SQL.eventBlock).bind(1, first)
                if try row.step() {
                    times = row.blob(0)
                    places = row.blob(1)
                }
                row.finish()
                let block = EventBlock(first: first, times: times, places: places)
                held = block.last + 1
                lastTime = block.times.last ?? 0
                lastPlace = block.places.last ?? 0
            }
            let taken = events[index..<min(events.count, index + Int(first + Int64(AuditReadModel.blockSize) - seq))]
            var expected = held
            var offsets: [Int64] = []
            for event in taken {
                guard Int64(event.stored.seq) == expected else {
                    throw LogError(
                        .io, "the audit read model was given event \(event.stored.seq) where it expected \(expected); rebuild it")
                }
                guard let offset = event.stored.contentOffset else {
                    throw LogError(.io, "event \(event.stored.seq) reached the audit read model without its place in the log")
                }
                offsets.append(Int64(offset))
                expected += 1
            }
            Deltas.append(taken.map(\.stored.occurredAtMs), to: &times, after: lastTime, signed: true)
            Deltas.append(offsets, to: &places, after: lastPlace)
            try write.reset().bind(1, first).bind(2, blob: times).bind(3, blob: places).run()
            index += taken.count
        }
    }
}
