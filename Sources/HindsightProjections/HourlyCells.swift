/// Figures kept per UTC hour inside one row per week (a run of 168 hours since the epoch).
///
/// Most of the analytics model's cells are sparse: a function runs a few times a day, and a
/// metric series with one project's tags has a value every few hours. A row per hour would be
/// about a row per event, which is what building the model would spend its time on; a row per
/// week holds the hours that have figures, and a batch that adds to a week a row already holds
/// merges into it (`merged`, run as a SQL function). A range of hours reads the weeks it
/// touches and takes the hours inside it, so questions stay exact to the hour.
struct HourlyCells<Figures: HourlyFigures>: Sendable {
    static var hoursPerWeek: Int64 { 168 }

    /// Figures by hour of the week (0..<168).
    private(set) var hours: [Int64: Figures] = [:]

    init() {}

    /// The week (168-hour runs since the epoch) holding an hour (hours since the epoch).
    static func week(ofHour hour: Int64) -> Int64 {
        hour >= 0 ? hour / hoursPerWeek : (hour + 1) / hoursPerWeek - 1
    }

    /// Adds figures to an hour (hours since the epoch) of this row's week.
    mutating func add(_ figures: Figures, atHour hour: Int64) {
        hours[hour - Self.week(ofHour: hour) * Self.hoursPerWeek, default: Figures()].merge(figures)
    }

    /// The stored form: for each hour of the week that has figures, in order, a varint of the
    /// hour and the figures' own stored form.
    var encoded: [UInt8] {
        var out: [UInt8] = []
        for (hour, figures) in hours.sorted(by: { $0.key < $1.key }) {
            Varint.append(UInt64(hour), to: &out)
            figures.encode(into: &out)
        }
        return out
    }

    /// Reads `encoded`; nil when the bytes are not hourly cells.
    init?(encoded bytes: ArraySlice<UInt8>) {
        var reader = ByteReader(bytes)
        while !reader.atEnd {
            guard let hour = reader.varint(), hour < UInt64(Self.hoursPerWeek), let figures = Figures(from: &reader) else { return nil }
            hours[Int64(hour), default: Figures()].merge(figures)
        }
    }

    /// Two stored forms merged (an hour in both has its figures merged); nil when either is
    /// not hourly cells.
    static func merged(_ stored: [UInt8], _ added: [UInt8]) -> [UInt8]? {
        guard var cells = HourlyCells(encoded: stored[...]), let more = HourlyCells(encoded: added[...]) else { return nil }
        for (hour, figures) in more.hours { cells.hours[hour, default: Figures()].merge(figures) }
        return cells.encoded
    }
}

/// What `HourlyCells` keeps per hour: figures that merge by adding, with a stored form.
protocol HourlyFigures: Sendable {
    init()
    mutating func merge(_ other: Self)
    func encode(into out: inout [UInt8])
    /// Reads what `encode` wrote; nil when the bytes are not such figures.
    init?(from reader: inout ByteReader)
}
