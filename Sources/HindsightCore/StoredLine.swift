internal import CShim
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads and edits the `data` of an event's canonical JSON (a stored line, or a parsed
/// envelope's body): minified, `data` after `actor`, `schemaVersion` last when present
/// (docs/log-format.md). Small scans, for the few events that need an edit.
public enum StoredLine {
    /// Readable bytes the JSON parser needs after a line's text (it may read past the end):
    /// every buffer of lines it parses is followed by this many spaces.
    public static let padding = hs_padding()

    /// The range of the `data` object, braces included.
    package static func data(in bytes: ArraySlice<UInt8>) -> Range<Int>? {
        // `,"data":{` cannot occur inside a string (a quote there is escaped), so the first
        // one is the envelope's.
        let marker = Array(#","data":{"#.utf8)
        guard let found = firstIndex(of: marker, in: bytes) else { return nil }
        return (found + marker.count - 1)..<JSONText.valueEnd(bytes, from: found + marker.count - 1)
    }

    /// A stored line's type as its bytes, read without parsing the line: canonical order puts
    /// `type` right after the engine's fields, `recordedAt` last of them with its fixed 24
    /// characters (docs/log-format.md). Nil when the line does not read so (an escaped type,
    /// say), and must be parsed to tell.
    package static func plainType(of line: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let recorded = Array(#""recordedAt":""#.utf8)
        let member = Array(#"","type":""#.utf8)
        guard let found = firstIndex(of: recorded, in: line) else { return nil }
        let start = found + recorded.count + 24  // at the closing quote of recordedAt
        guard start + member.count <= line.endIndex, line[start..<(start + member.count)].elementsEqual(member),
            let end = line[(start + member.count)...].firstIndex(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }),
            line[end] == UInt8(ascii: "\"")
        else { return nil }
        return line[(start + member.count)..<end]
    }

    /// The top-level fields of a stored line's `data`, found in one scan, each read when asked
    /// for: strings unescaped, integers and booleans as such.
    public struct DataFields {
        private let line: ArraySlice<UInt8>
        private let fields: [(name: Range<Int>, value: Range<Int>)]

        public init(_ line: ArraySlice<UInt8>) {
            self.line = line
            var scan = Self.members(of: line, room: 32)  // room for more members than most data has
            if scan.count > 32 { scan = Self.members(of: line, room: scan.count) }
            fields = scan.fields
        }

        /// The members of a line's data as ranges of it (one C scan), when there are no more
        /// than `room`; how many there are.
        private static func members(of line: ArraySlice<UInt8>, room: Int) -> (count: Int, fields: [(name: Range<Int>, value: Range<Int>)])
        {
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 4 * room) { out in
                let count = line.withUnsafeBufferPointer { hs_data_members($0.baseAddress, $0.count, out.baseAddress, room) }
                guard count <= room else { return (count, []) }
                let base = line.startIndex
                return (
                    count,
                    (0..<max(count, 0)).map { member in
                        let at = 4 * member
                        return (base + Int(out[at])..<base + Int(out[at + 1]), base + Int(out[at + 2])..<base + Int(out[at + 3]))
                    }
                )
            }
        }

        private func value(_ field: String) -> Range<Int>? {
            var name = field
            return name.withUTF8 { wanted in fields.first { line[$0.name].elementsEqual(wanted) }?.value }
        }

        /// The JSON text of `field`'s value, as the line has it (a string with its quotes);
        /// nil when it is absent. What a reader that meets the same values again and again
        /// can key on without making strings of them.
        public func text(_ field: String) -> ArraySlice<UInt8>? {
            value(field).map { line[$0] }
        }

        /// The value of `field`; nil when it is absent or not a string.
        public subscript(_ field: String) -> String? {
            guard let value = value(field), line[value.lowerBound] == UInt8(ascii: "\"") else { return nil }
            return StoredLine.decodedString(line[(value.lowerBound + 1)..<(value.upperBound - 1)])
        }

        /// The value of `field` as an integer; nil when it is absent or not one.
        public func integer(_ field: String) -> Int64? {
            guard let digits = value(field), !digits.isEmpty else { return nil }
            // JSON's own form: an optional minus, then digits (no plus, no fraction).
            let negative = line[digits.lowerBound] == UInt8(ascii: "-")
            let start = negative ? digits.lowerBound + 1 : digits.lowerBound
            guard start < digits.upperBound else { return nil }
            var magnitude: Int64 = 0
            for byte in line[start..<digits.upperBound] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                let (times, overflowA) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflowB) = times.subtractingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflowA, !overflowB else { return nil }
                magnitude = sum  // kept negative, so that Int64.min reads too
            }
            if negative { return magnitude }
            return magnitude == .min ? nil : -magnitude
        }

        /// The value of `field` as a number; nil when it is absent or not one.
        public func number(_ field: String) -> Double? {
            value(field).flatMap { Double(String(decoding: line[$0], as: UTF8.self)) }
        }

        /// The string members of `field`, an object (such as a metric's tags), in order; nil
        /// when it is absent or not an object.
        public func strings(in field: String) -> [(name: String, value: String)]? {
            guard let object = value(field), line[object.lowerBound] == UInt8(ascii: "{") else { return nil }
            var members: [(name: String, value: String)] = []
            StoredLine.members(of: line, data: object) { name, value in
                if line[value.lowerBound] == UInt8(ascii: "\"") {
                    members.append(
                        (
                            StoredLine.decodedString(line[name]),
                            StoredLine.decodedString(line[(value.lowerBound + 1)..<(value.upperBound - 1)])
                        ))
                }
                return true
            }
            return members
        }

        /// The value of `field` as a boolean; nil when it is absent or not one.
        public func bool(_ field: String) -> Bool? {
            guard let value = value(field) else { return nil }
            if line[value].elementsEqual("true".utf8) { return true }
            if line[value].elementsEqual("false".utf8) { return false }
            return nil
        }
    }

    /// The contents (between the quotes) of the string value of `field`, a top-level field of
    /// `data`; nil when the field is absent or not a string.
    package static func stringField(_ field: String, in bytes: ArraySlice<UInt8>, data: Range<Int>) -> Range<Int>? {
        let name = Array(field.utf8)
        var found: Range<Int>?
        members(of: bytes, data: data) { member, value in
            guard bytes[member].elementsEqual(name) else { return true }
            found = bytes[value.lowerBound] == UInt8(ascii: "\"") ? (value.lowerBound + 1)..<(value.upperBound - 1) : nil
            return false
        }
        return found
    }

    /// Walks the members of the object at `data` (a stored line's `data`, or the whole line) in
    /// order, handing `body` each one's name (between the quotes) and value, until it returns false.
    public static func members(of bytes: ArraySlice<UInt8>, data: Range<Int>, _ body: (_ name: Range<Int>, _ value: Range<Int>) -> Bool) {
        var index = data.lowerBound + 1
        while index < data.upperBound - 1, bytes[index] == UInt8(ascii: "\"") {
            let nameEnd = JSONText.valueEnd(bytes, from: index)
            let valueStart = nameEnd + 1  // after the colon
            let end = JSONText.valueEnd(bytes, from: valueStart)
            guard body((index + 1)..<(nameEnd - 1), valueStart..<end) else { return }
            index = end + 1  // after the comma
        }
    }

    package static func upcast(_ line: [UInt8], adding fields: [(field: String, json: String)], version: Int) -> [UInt8] {
        guard let data = data(in: line[...]) else { return line }
        let end = data.upperBound - 1  // the closing brace
        var out = Array(line[..<end])
        for (index, field) in fields.enumerated() {
            if index > 0 || data.count > 2 { out.append(UInt8(ascii: ",")) }
            out += Array("\"\(field.field)\":\(field.json)".utf8)
        }
        out += line[end...].dropLast()  // up to the line's closing brace
        let versionField = Array(#","schemaVersion":"#.utf8)
        if let existing = out.lastRange(of: versionField), existing.lowerBound > end {
            out.removeSubrange(existing.lowerBound...)
        }
        out += versionField + Array("\(version)}".utf8)
        return out
    }

    /// The entities an event's `data` names, as `KIND/ID`, each once, in order of
    /// appearance: identifiers with a kind's prefix (`prj_9` is `project/prj_9`), `KIND/ID`
    /// references and `domain` values. Sealed personal data names nothing.
    public static func references(in line: ArraySlice<UInt8>) -> [String] {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { out in
            let count = line.withUnsafeBufferPointer { bytes in
                hs_references(
                    bytes.baseAddress, bytes.count, UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self), out.count
                )
            }
            var references: [String] = []
            var start = 0
            for end in 0..<count where out[end] == 0x0A {
                references.append(String(decoding: UnsafeBufferPointer(rebasing: out[start..<end]), as: UTF8.self))
                start = end + 1
            }
            return references
        }
    }

    /// A JSON string's contents, unescaped.
    public static func decodedString(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.contains(UInt8(ascii: "\\")) else { return String(decoding: bytes, as: UTF8.self) }
        return (try? JSONDecoder().decode(String.self, from: Data([UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")])))
            ?? String(decoding: bytes, as: UTF8.self)
    }

    /// Where `pattern` first occurs in `bytes` (an index of the slice's base; a plain scan:
    /// the lines are short).
    package static func firstIndex(of pattern: [UInt8], in bytes: ArraySlice<UInt8>) -> Int? {
        guard let first = pattern.first, bytes.count >= pattern.count else { return nil }
        return bytes.withUnsafeBufferPointer { text in
            pattern.withUnsafeBufferPointer { wanted in
                for index in 0...(text.count - wanted.count)
                where text[index] == first
                    && memcmp(text.baseAddress! + index, wanted.baseAddress!, wanted.count) == 0
                {
                    return bytes.startIndex + index
                }
                return nil
            }
        }
    }
}

extension Array where Element == UInt8 {
    func lastRange(of pattern: [UInt8]) -> Range<Int>? {
        guard pattern.count <= count else { return nil }
        for start in stride(from: count - pattern.count, through: 0, by: -1)
        where self[start..<(start + pattern.count)].elementsEqual(pattern) {
            return start..<(start + pattern.count)
        }
        return nil
    }
}
