import Foundation

/// Finds values inside JSON text without decoding it: a stored line's `data` for the few
/// edits the engine makes (upcasting, sealing), and a stored line's `id`. The text must
/// already be known to be valid JSON.
public enum JSONText {
    /// A string as a JSON string literal, quotes included.
    public static func quoted(_ text: String) -> String {
        "\"" + String(decoding: jsonStringContents(text), as: UTF8.self) + "\""
    }

    public static func skipSpace(_ bytes: [UInt8], _ index: Int) -> Int {
        var index = index
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        return index
    }

    /// The index just after the value that starts at `start`.
    public static func valueEnd(_ bytes: [UInt8], from start: Int) -> Int {
        valueEnd(bytes[...], from: start)
    }

    /// The index just after the value that starts at `start` (an index of the slice's base).
    public static func valueEnd(_ bytes: ArraySlice<UInt8>, from start: Int) -> Int {
        var index = start
        var depth = 0
        var inString = false
        while index < bytes.endIndex {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 { return index + 1 }
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                depth += 1
            } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                if depth == 0 { return index }
                depth -= 1
                if depth == 0 { return index + 1 }
            } else if depth == 0 && (byte == UInt8(ascii: ",") || [0x20, 0x09, 0x0A, 0x0D].contains(byte)) {
                return index
            }
            index += 1
        }
        return index
    }

    /// The span of the value that starts at or after `start` (after white space).
    public static func value(_ bytes: [UInt8], at start: Int) -> Range<Int> {
        let begin = skipSpace(bytes, start)
        return begin..<valueEnd(bytes, from: begin)
    }

    /// The value of member `name` of the object spanning `object`.
    public static func member(_ name: String, of object: Range<Int>, in bytes: [UInt8]) -> Range<Int>? {
        var index = skipSpace(bytes, object.lowerBound + 1)
        while index < object.upperBound, bytes[index] == UInt8(ascii: "\"") {
            let keyEnd = valueEnd(bytes, from: index)
            let key = Array(bytes[index..<keyEnd])
            let valueSpan = value(bytes, at: skipSpace(bytes, keyEnd) + 1)  // past the colon
            if key == Array("\"\(name)\"".utf8) || (key.contains(UInt8(ascii: "\\")) && decoded(key) == name) {
                return valueSpan
            }
            index = skipSpace(bytes, skipSpace(bytes, valueSpan.upperBound) + 1)  // past the comma
        }
        return nil
    }

    private static func decoded(_ key: [UInt8]) -> String? {
        try? JSONDecoder().decode(String.self, from: Data(key))
    }
}

/// A string's JSON encoding without the surrounding quotes.
package func jsonStringContents(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): out += Array(#"\""#.utf8)
        case UInt8(ascii: "\\"): out += Array(#"\\"#.utf8)
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out += Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]]
        default: out.append(byte)
        }
    }
    return out
}
