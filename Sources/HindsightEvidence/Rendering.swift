import HindsightCore
import HindsightLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The readable file an export carries beside its stored lines: the events as readers see
/// them, personal data revealed (or `[erased]`), as JSON lines or CSV.
///
/// It differs from the stored lines only inside sealed personal values (`"enc:v1:…"`), so a
/// verifier checks it against them byte for byte everywhere else: what it says about every
/// other field is proven by the stored lines' Merkle proofs.
public enum ExportFormat: String, Sendable, CaseIterable {
    case jsonl
    case csv

    /// The rendering's file name in a bundle.
    public var file: String { "events.\(rawValue)" }
}

enum Rendering {
    /// The CSV columns: the envelope's fields, then `data` as JSON.
    static let csvColumns = ["seq", "recordedAt", "occurredAt", "type", "org", "actorKind", "actorId", "stream", "id", "data"]

    /// The fields of a stored (or revealed) line that the CSV shows, as byte ranges of the
    /// line: string values without their quotes, `seq` and `data` as JSON.
    struct Fields {
        var ranges: [Range<Int>?] = Array(repeating: nil, count: csvColumns.count)

        init(_ line: [UInt8]) {
            StoredLine.members(of: line[...], data: 0..<line.count) { name, value in
                let key = line[name]
                if key.elementsEqual("actor".utf8) {
                    StoredLine.members(of: line[...], data: value) { member, inner in
                        if line[member].elementsEqual("kind".utf8) { ranges[5] = Self.contents(inner, line) }
                        if line[member].elementsEqual("id".utf8) { ranges[6] = Self.contents(inner, line) }
                        return true
                    }
                } else if let column = Rendering.csvColumns.firstIndex(where: { key.elementsEqual($0.utf8) }) {
                    ranges[column] = column == 0 || column == 9 ? value : Self.contents(value, line)
                }
                return true
            }
        }

        /// A string value's contents, between its quotes.
        private static func contents(_ value: Range<Int>, _ line: [UInt8]) -> Range<Int> {
            line[value.lowerBound] == UInt8(ascii: "\"") ? (value.lowerBound + 1)..<(value.upperBound - 1) : value
        }
    }

    /// Whether a stored line holds a sealed personal value (`"enc:v1:…"`).
    static func holdsSealedValue(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let base = line.baseAddress, line.count >= sealedMarker.count else { return false }
        var start = 0
        while let quote = memchr(base + start, Int32(UInt8(ascii: "\"")), line.count - start - sealedMarker.count + 1) {
            let at = base.distance(to: UnsafeRawPointer(quote))
            if memcmp(base + at, sealedMarker, sealedMarker.count) == 0 { return true }
            start = at + 1
            if start > line.count - sealedMarker.count { return false }
        }
        return false
    }

    /// How a sealed value begins, its opening quote included.
    static let sealedMarker = Array("\"enc:v1:".utf8)

    static var csvHeader: [UInt8] { Array((csvColumns.joined(separator: ",") + "\r\n").utf8) }

    /// The CSV row of an event, from its line as readers see it.
    static func csvRow(_ revealed: [UInt8]) -> [UInt8] {
        let fields = Fields(revealed)
        var row: [UInt8] = []
        row.reserveCapacity(revealed.count + 64)
        for (column, range) in fields.ranges.enumerated() {
            if column > 0 { row.append(UInt8(ascii: ",")) }
            guard let range else { continue }
            let text = column == 9 ? Array(revealed[range]) : Array(StoredLine.decodedString(revealed[range]).utf8)
            appendCSVField(text, to: &row)
        }
        row += [0x0D, 0x0A]
        return row
    }

    /// A field, quoted (quotes doubled) when it holds a comma, quote or line break.
    static func appendCSVField(_ text: [UInt8], to row: inout [UInt8]) {
        guard text.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) else {
            row += text
            return
        }
        row.append(UInt8(ascii: "\""))
        for byte in text {
            if byte == UInt8(ascii: "\"") { row.append(byte) }
            row.append(byte)
        }
        row.append(UInt8(ascii: "\""))
    }

    /// Where a CSV row (its fields, unquoted) says something else than the stored line: the
    /// first column that differs, nil when none does.
    static func csvDifference(_ row: [[UInt8]], stored: [UInt8]) -> String? {
        guard row.count == csvColumns.count else { return "it has \(row.count) fields where there are \(csvColumns.count) columns" }
        let fields = Fields(stored)
        for (column, range) in fields.ranges.enumerated() {
            let same: Bool
            if let range {
                same =
                    column == 9
                    ? stored[range].withUnsafeBytes { s in row[column].withUnsafeBytes { r in sameExceptSealed(stored: s, rendered: r) } }
                    : stored[range].contains(UInt8(ascii: "\\"))
                        ? row[column].elementsEqual(StoredLine.decodedString(stored[range]).utf8)
                        : row[column].elementsEqual(stored[range])
            } else {
                same = row[column].isEmpty
            }
            if !same { return "its \(csvColumns[column]) is not the stored event's" }
        }
        return nil
    }

    /// Whether `rendered` is `stored` with only the contents of sealed strings (`"enc:v1:…"`)
    /// replaced, each by any JSON string contents. Most events hold no personal data: their
    /// rendering is the stored line itself, found equal at once.
    static func sameExceptSealed(stored: UnsafeRawBufferPointer, rendered: UnsafeRawBufferPointer) -> Bool {
        if stored.count == rendered.count, stored.count == 0 || memcmp(stored.baseAddress!, rendered.baseAddress!, stored.count) == 0 {
            return true
        }
        let sealed = sealedMarker
        var i = 0
        var j = 0
        while i < stored.count {
            // The next sealed value, or the end.
            var next = i
            while next < stored.count,
                !(stored[next] == sealed[0] && next + sealed.count <= stored.count
                    && memcmp(stored.baseAddress! + next, sealed, sealed.count) == 0)
            {
                next += 1
            }
            let run = next - i
            guard rendered.count - j >= run, run == 0 || memcmp(stored.baseAddress! + i, rendered.baseAddress! + j, run) == 0 else {
                return false
            }
            i = next
            j += run
            guard i < stored.count else { break }
            // Both strings open here; each runs to its closing quote (base64 has no escapes).
            guard j < rendered.count, rendered[j] == UInt8(ascii: "\"") else { return false }
            i += 1
            j += 1
            while i < stored.count, stored[i] != UInt8(ascii: "\"") { i += 1 }
            while j < rendered.count, rendered[j] != UInt8(ascii: "\"") { j += rendered[j] == UInt8(ascii: "\\") ? 2 : 1 }
            guard i < stored.count, j < rendered.count else { return false }
        }
        return j == rendered.count
    }

    /// The rows of CSV text (RFC 4180), each without its line end; a line break inside a
    /// quoted field belongs to its row. Nil when a quoted field does not end.
    static func csvRowRanges(_ text: UnsafeRawBufferPointer) -> [Range<Int>]? {
        var rows: [Range<Int>] = []
        var start = 0
        var index = 0
        var quoted = false
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if !quoted, byte == 0x0A || byte == 0x0D {
                rows.append(start..<index)
                if byte == 0x0D, index + 1 < text.count, text[index + 1] == 0x0A { index += 1 }
                start = index + 1
            }
            index += 1
        }
        guard !quoted else { return nil }
        if start < text.count { rows.append(start..<text.count) }
        return rows
    }

    /// The fields of one CSV row, unquoted (a doubled quote inside a quoted field is one
    /// quote). Nil when a quote stands inside an unquoted field.
    static func csvFields(_ row: UnsafeRawBufferPointer) -> [[UInt8]]? {
        var fields: [[UInt8]] = []
        var field: [UInt8] = []
        var index = 0
        var quoted = false
        while index < row.count {
            let byte = row[index]
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < row.count, row[index + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(byte)
                }
            } else if byte == UInt8(ascii: "\"") {
                guard field.isEmpty else { return nil }
                quoted = true
            } else if byte == UInt8(ascii: ",") {
                fields.append(field)
                field = []
            } else {
                field.append(byte)
            }
            index += 1
        }
        fields.append(field)
        return fields
    }
}
