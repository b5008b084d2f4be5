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

    /// An hour of the week (0..<168) and its figures.
    struct Hour: Sendable {
        let hour: Int64
        var figures: Figures
    }

    /// The hours that have figures, in order: a row holds a few, so a sorted array serves
    /// better than a table.
    private(set) var hours: [Hour] = []

    init() {}

    /// The week (168-hour runs since the epoch) holding an hour (hours since the epoch).
    static func week(ofHour hour: Int64) -> Int64 {
        hour >= 0 ? hour / hoursPerWeek : (hour + 1) / hoursPerWeek - 1
    }

    /// Changes the figures of an hour (hours since the epoch) of this row's week, in place.
    mutating func modify(atHour hour: Int64, _ change: (inout Figures) -> Void) {
        modify(at: hour - Self.week(ofHour: hour) * Self.hoursPerWeek, change)
    }

    /// Adds the figures of another row of the same week.
    mutating func merge(_ other: HourlyCells) {
        guard !hours.isEmpty else {
            self = other
            return
        }
        for index in other.hours.indices { modify(at: other.hours[index].hour) { $0.merge(other.hours[index].figures) } }
    }

    /// The sum of a figure over the hours (a row's total, kept readable beside its hours).
    func total(_ figure: (Figures) -> Int64) -> Int64 { hours.reduce(0) { $0 + figure($1.figures) } }

    private mutating func modify(at hour: Int64, _ change: (inout Figures) -> Void) {
        // Figures mostly arrive in time order: look from the end.
        var index = hours.endIndex
        while index > hours.startIndex, hours[index - 1].hour > hour { index -= 1 }
        if index == hours.startIndex || hours[index - 1].hour != hour {
            hours.insert(Hour(hour: hour, figures: Figures()), at: index)
            index += 1
        }
        change(&hours[index - 1].figures)
    }

    /// The stored form: for each hour of the week that has figures, in order, a varint of the
    /// hour and the figures' own stored form.
    var encoded: [UInt8] {
        var out: [UInt8] = []
        for entry in hours {
            Varint.append(UInt64(entry.hour), to: &out)
            entry.figures.encode(into: &out)
        }
        return out
    }

    /// Reads `encoded`; nil when the bytes are not hourly cells (hours in order, each once).
    init?(encoded bytes: ArraySlice<UInt8>) {
        var reader = ByteReader(bytes)
        while !reader.atEnd {
            guard let hour = reader.varint().map(Int64.init), hour < Self.hoursPerWeek, hour > hours.last?.hour ?? -1,
                let figures = Figures(from: &reader)
            else { return nil }
            hours.append(Hour(hour: hour, figures: figures))
        }
    }

    /// Two stored forms merged; nil when either is not hourly cells. An hour only one of them
    /// has is copied as it is stored; only the hours both have are read and merged.
    static func merged(_ stored: [UInt8], _ added: [UInt8]) -> [UInt8]? {
        guard let first = entries(stored[...]), let second = entries(added[...]) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(stored.count + added.count)
        var (i, j) = (first.startIndex, second.startIndex)
        while i < first.endIndex || j < second.endIndex {
            if j == second.endIndex || (i < first.endIndex && first[i].hour < second[j].hour) {
                out += stored[first[i].bytes]
                i += 1
            } else if i == first.endIndex || second[j].hour < first[i].hour {
                out += added[second[j].bytes]
                j += 1
            } else {
                var one = ByteReader(stored[first[i].figures])
                var other = ByteReader(added[second[j].figures])
                guard var figures = Figures(from: &one), let more = Figures(from: &other) else { return nil }
                figures.merge(more)
                Varint.append(UInt64(first[i].hour), to: &out)
                figures.encode(into: &out)
                (i, j) = (i + 1, j + 1)
            }
        }
        return out
    }

    /// Where each hour's entry lies in a stored form (whole, and its figures), without
    /// reading the figures; nil when the bytes are not hourly cells in order.
    private static func entries(_ bytes: ArraySlice<UInt8>) -> [(hour: UInt64, bytes: Range<Int>, figures: Range<Int>)]? {
        var reader = ByteReader(bytes)
        var entries: [(hour: UInt64, bytes: Range<Int>, figures: Range<Int>)] = []
        while !reader.atEnd {
            let start = reader.position
            guard let hour = reader.varint(), hour < UInt64(hoursPerWeek), entries.last.map({ hour > $0.hour }) ?? true else { return nil }
            let figuresStart = reader.position
            guard Figures.skip(&reader) else { return nil }
            entries.append((hour, start..<reader.position, figuresStart..<reader.position))
        }
        return entries
    }
}

/// What `HourlyCells` keeps per hour: figures that merge by adding, with a stored form.
protocol HourlyFigures: Sendable {
    init()
    mutating func merge(_ other: Self)
    func encode(into out: inout [UInt8])
    /// Reads what `encode` wrote; nil when the bytes are not such figures.
    init?(from reader: inout ByteReader)
    /// Moves past what `encode` wrote without reading it all; false when the bytes cannot be
    /// such figures.
    static func skip(_ reader: inout ByteReader) -> Bool
}
