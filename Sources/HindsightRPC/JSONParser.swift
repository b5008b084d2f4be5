public import HindsightCore

/// Reads a request's JSON text (RFC 8259, exactly) into `JSONValue`s, over its bytes.
///
/// Syntax errors (anything RFC 8259 refuses: trailing text, leading zeros, control
/// characters in strings, invalid UTF-8, …) end the reading: the text is not JSON. Valid JSON
/// that a request still cannot be read from is a *problem*, recorded with the JSON Pointer
/// of where it is, and reading goes on, so that the request's `id` can still be answered:
///
/// - a `\u` escape of a lone UTF-16 surrogate (the string holds U+FFFD there);
/// - a key that appears twice in one object (the later value is kept);
/// - nesting deeper than `depthLimit` arrays and objects: what lies deeper is checked for
///   syntax but not built (a `null` stands in its place).
///
/// The items of a request's `params.events` are checked for syntax only and kept as their
/// text (`.raw`): `log.append` hands them to the engine as sent, whose own reading of an
/// event refuses a key twice, a lone surrogate or deep nesting, naming the event and field.
///
/// At most one problem is kept per request (the whole text, or each element of a batch): the
/// first. Containers are kept on an explicit stack, so a deep text does not use the native
/// stack; nesting beyond the limit costs a bit per level.
struct JSONParser {
    /// How deeply arrays and objects may nest in a request, its own object (and a batch's
    /// array) included: comfortably above the 1,024 levels an event may have.
    static let depthLimit = 2048

    /// A step of a JSON Pointer.
    enum Step: Equatable {
        case key(String)
        case index(Int)
    }

    /// Valid JSON a request cannot be read from, and where.
    struct Problem {
        /// The value it concerns (for a key twice, the later member).
        let path: [Step]
        let message: String
        /// A key twice in an object: a problem of the object.
        let isDuplicateKey: Bool

        /// The value that holds the problem: for a key twice, its object.
        var location: ArraySlice<Step> { isDuplicateKey ? path.dropLast() : path[...] }

        /// The same problem, seen from the value at `path`'s first step.
        var inner: Problem { Problem(path: Array(path.dropFirst()), message: message, isDuplicateKey: isDuplicateKey) }

        /// The path as a JSON Pointer (RFC 6901).
        static func pointer(_ path: some Collection<Step>) -> String {
            var out = ""
            for step in path {
                switch step {
                case .index(let index): out += "/\(index)"
                case .key(let key): out += "/" + key.replacingSlashes()
                }
            }
            return out
        }
    }

    /// The text is not JSON: what was found where.
    struct SyntaxError: Error {
        let offset: Int
        let message: String
    }

    /// Where a value one or two levels down lies in the text (a request's members, a batch's
    /// requests and theirs), in the order the values end.
    struct Span {
        let level: Int
        let key: String?
        let range: Range<Int>
    }

    /// What a text holds.
    struct Document {
        let value: JSONValue
        let problems: [Problem]
        let spans: [Span]
    }

    /// Reads one JSON text.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(SyntaxError) -> Document {
        var parser = JSONParser(bytes.bindMemory(to: UInt8.self))
        let value = try parser.document()
        return Document(value: value, problems: parser.problems, spans: parser.spans)
    }

    static func parse(_ bytes: some Collection<UInt8>) throws(SyntaxError) -> Document {
        let document =
            bytes.withContiguousStorageIfAvailable { buffer in
                Result { () throws(SyntaxError) in try parse(UnsafeRawBufferPointer(buffer)) }
            }
            ?? Array(bytes).withUnsafeBytes { buffer in
                Result { () throws(SyntaxError) in try parse(buffer) }
            }
        return try document.get()
    }

    // MARK: - Reading

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    /// The arrays and objects being built, outermost first.
    private var frames: [Frame] = []
    /// The arrays and objects open beyond the depth limit, checked but not built.
    private var skipped = BitStack()
    private var problems: [Problem] = []
    /// The request the last problem was found in, to keep one per request.
    private var problemRequest = -1
    private var spans: [Span] = []
    /// A string's bytes, once it has an escape.
    private var scratch: [UInt8] = []
    /// Where the item being kept as text began.
    private var itemStart = 0

    private struct Frame {
        let isObject: Bool
        /// Where the container starts, for its span.
        let start: Int
        /// An array whose items are kept as their text (`.raw`), checked but not built: a
        /// request's `params.events`, which `log.append` hands to the engine as sent, and
        /// the engine reads (and refuses, naming the event and field) far faster.
        var keepsText = false
        var items: [JSONValue] = []
        var members: [String: JSONValue] = [:]
        /// The key of the member being read.
        var key = ""
    }

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private mutating func document() throws(SyntaxError) -> JSONValue {
        var value = JSONValue.null
        next: while true {
            // A value begins here.
            skipSpace()
            guard index < bytes.count else { throw error("a value was expected; the text ends") }
            var start = index
            let byte = bytes[index]
            let asText = skipped.count == 0 && frames.last?.keepsText == true
            if asText { itemStart = start }
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                let isObject = byte == UInt8(ascii: "{")
                index += 1
                if skipped.count > 0 || asText || frames.count >= Self.depthLimit {
                    if skipped.count == 0 && !asText { record("nesting deeper than \(Self.depthLimit) arrays and objects") }
                    skipped.push(isObject)
                } else {
                    frames.append(Frame(isObject: isObject, start: start, keepsText: !isObject && opensEvents))
                }
                skipSpace()
                if index < bytes.count && bytes[index] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    index += 1
                    (value, start) = close()
                } else {
                    if isObject { try key() }
                    continue next
                }
            } else {
                value = try scalar(building: skipped.count == 0 && !asText)
            }

            // A value ended: it joins its container, which may end in turn.
            while true {
                if skipped.count > 0 {
                    if try anotherItem(inObject: skipped.top) { continue next }
                    (value, start) = close()
                    continue
                }
                guard let last = frames.indices.last else {
                    skipSpace()
                    guard index == bytes.count else { throw error("the text goes on after its value") }
                    return value
                }
                if frames[last].keepsText { value = .raw(Array(bytes[itemStart..<index])) }
                let level = frames.count
                if level <= 2 {
                    spans.append(Span(level: level, key: frames[last].isObject ? frames[last].key : nil, range: start..<index))
                }
                if frames[last].isObject {
                    if frames[last].members.updateValue(value, forKey: frames[last].key) != nil {
                        record("the key \(frames[last].key.debugDescription) appears twice in its object", duplicateKey: true)
                    }
                } else {
                    frames[last].items.append(value)
                }
                if try anotherItem(inObject: frames[last].isObject) { continue next }
                (value, start) = close()
            }
        }
    }

    /// Reads what follows an item of the innermost container: a comma (and, in an object,
    /// the next key), which returns true, or the container's closing bracket, false.
    private mutating func anotherItem(inObject isObject: Bool) throws(SyntaxError) -> Bool {
        skipSpace()
        guard index < bytes.count else { throw error("the text ends inside an \(isObject ? "object" : "array")") }
        if bytes[index] == UInt8(ascii: ",") {
            index += 1
            if isObject { try key() }
            return true
        }
        guard bytes[index] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
            throw error("\(isObject ? "',' or '}'" : "',' or ']'") was expected")
        }
        index += 1
        return false
    }

    /// Ends the innermost container (its closing byte read): its value and where it began.
    private mutating func close() -> (JSONValue, Int) {
        if skipped.count > 0 {
            skipped.pop()
            return (.null, 0)
        }
        let frame = frames.removeLast()
        return (frame.isObject ? .object(frame.members) : .array(frame.items), frame.start)
    }

    /// Reads `"key" :` of an object's member.
    private mutating func key() throws(SyntaxError) {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("a key (a string) was expected") }
        if skipped.count > 0 {
            _ = try string(building: false)
        } else {
            let (key, lone) = try string(building: true)
            frames[frames.count - 1].key = key
            if lone { record("a \\u escape of a lone UTF-16 surrogate in a key") }
        }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("':' was expected after a key") }
        index += 1
    }

    /// Whether the value beginning now is a request's `params.events`: the member `events` of
    /// the member `params` of a request (the text's object, or one of a batch's).
    private var opensEvents: Bool {
        let count = frames.count
        guard count >= 2, frames[count - 1].isObject, frames[count - 1].key == "events",
            frames[count - 2].isObject, frames[count - 2].key == "params"
        else { return false }
        return count == 2 || (count == 3 && !frames[0].isObject)
    }

    /// Reads a string, number, `true`, `false` or `null`; without `building`, only checks it.
    private mutating func scalar(building: Bool) throws(SyntaxError) -> JSONValue {
        switch bytes[index] {
        case UInt8(ascii: "\""):
            let (text, lone) = try string(building: building)
            if lone && building { record("a \\u escape of a lone UTF-16 surrogate") }
            return .string(text)
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number(building: building)
        default:
            throw error("a value was expected")
        }
    }

    private mutating func literal(_ word: StaticString) throws(SyntaxError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw error("a value was expected") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw error("a value was expected") }
        index += count
    }

    /// Reads a number (RFC 8259's grammar): an integer that fits Int64 as `.integer`, any
    /// other as `.number` (beyond Double's range, an infinity, which no parameter takes).
    private mutating func number(building: Bool) throws(SyntaxError) -> JSONValue {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("a digit was expected") }
        var magnitude: UInt64 = 0
        var overflow = false
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[index] &- UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                magnitude = sum
                index += 1
            }
        }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("a digit was expected after '.'") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("a digit was expected in the exponent") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        guard building else { return .null }
        if integral && !overflow {
            if !negative && magnitude <= UInt64(Int64.max) { return .integer(Int64(magnitude)) }
            if negative && magnitude <= UInt64(Int64.max) + 1 {
                return .integer(magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude))
            }
        }
        // The standard library's conversion rounds correctly; beyond range it gives ±infinity.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        return .number(Double(text) ?? .nan)
    }

    /// Reads a string (at its opening quote): its text, and whether it had a `\u` escape of a
    /// lone surrogate. Without `building`, only checks it.
    private mutating func string(building: Bool) throws(SyntaxError) -> (String, Bool) {
        index += 1
        let start = index
        var escaped = false  // the text is in `scratch` from `start` up to `index`
        var lone = false
        while true {
            guard index < bytes.count else { throw error("the text ends inside a string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text: String
                if !building {
                    text = ""
                } else if escaped {
                    text = String(decoding: scratch, as: UTF8.self)
                } else {
                    text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                }
                index += 1
                return (text, lone)
            }
            if byte == UInt8(ascii: "\\") {
                if building && !escaped {
                    scratch.removeAll(keepingCapacity: true)
                    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                    escaped = true
                }
                try escape(into: building, lone: &lone)
                continue
            }
            guard byte >= 0x20 else { throw error("a control character in a string must be escaped") }
            let length = byte < 0x80 ? 1 : try utf8Sequence()
            if escaped { scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<(index + length)])) }
            index += length
        }
    }

    /// The length of the UTF-8 sequence at `index` (a byte of 0x80 or more), refused unless
    /// it is well-formed (Unicode's table 3-7: no overlong forms, surrogates or values beyond
    /// U+10FFFF).
    private func utf8Sequence() throws(SyntaxError) -> Int {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF  // the second byte's range
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: (length, low) = (3, 0xA0)
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: (length, high) = (3, 0x9F)
        case 0xF0: (length, low) = (4, 0x90)
        case 0xF1...0xF3: length = 4
        case 0xF4: (length, high) = (4, 0x8F)
        default: throw error("invalid UTF-8")
        }
        guard bytes.count - index >= length, (low...high).contains(bytes[index + 1]) else { throw error("invalid UTF-8") }
        for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 { throw error("invalid UTF-8") }
        return length
    }

    /// Reads an escape (at its backslash), appending what it stands for to `scratch` when
    /// building.
    private mutating func escape(into building: Bool, lone: inout Bool) throws(SyntaxError) {
        index += 1
        guard index < bytes.count else { throw error("the text ends inside a string") }
        let byte = bytes[index]
        index += 1
        let plain: UInt8
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): plain = byte
        case UInt8(ascii: "b"): plain = 0x08
        case UInt8(ascii: "f"): plain = 0x0C
        case UInt8(ascii: "n"): plain = 0x0A
        case UInt8(ascii: "r"): plain = 0x0D
        case UInt8(ascii: "t"): plain = 0x09
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate counts only with the low one that must follow.
                if bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                    let mark = index
                    index += 2
                    let second = try hex4()
                    if (0xDC00...0xDFFF).contains(second) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (second - 0xDC00)
                    } else {
                        index = mark  // the next escape stands on its own
                        (scalar, lone) = (0xFFFD, true)
                    }
                } else {
                    (scalar, lone) = (0xFFFD, true)
                }
            } else if (0xDC00...0xDFFF).contains(scalar) {
                (scalar, lone) = (0xFFFD, true)
            }
            if building { appendUTF8(scalar) }
            return
        default:
            throw error("an unknown escape in a string")
        }
        if building { scratch.append(plain) }
    }

    private mutating func hex4() throws(SyntaxError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("\\u takes four hexadecimal digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("\\u takes four hexadecimal digits")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private func error(_ message: String) -> SyntaxError { SyntaxError(offset: index, message: message) }

    // MARK: - Problems

    /// Where the value being read lies.
    private var path: [Step] {
        frames.map { $0.isObject ? .key($0.key) : .index($0.items.count) }
    }

    /// Keeps a problem of the value being read, unless the request it is in has one already.
    private mutating func record(_ message: String, duplicateKey: Bool = false) {
        let request = frames.first.map { $0.isObject ? 0 : $0.items.count } ?? 0
        guard request != problemRequest else { return }
        problemRequest = request
        problems.append(Problem(path: path, message: message, isDuplicateKey: duplicateKey))
    }
}

/// A stack of bits: the kinds (object or array) of the containers open beyond the depth limit.
private struct BitStack {
    private var words: [UInt64] = []
    private(set) var count = 0

    mutating func push(_ bit: Bool) {
        if count % 64 == 0 { words.append(0) }
        if bit { words[count / 64] |= 1 << UInt64(count % 64) }
        count += 1
    }

    var top: Bool { words[(count - 1) / 64] & (1 << UInt64((count - 1) % 64)) != 0 }

    mutating func pop() {
        count -= 1
        words[count / 64] &= ~(1 << UInt64(count % 64))
        if count % 64 == 0 { words.removeLast() }
    }
}

extension JSONValue {
    /// Parses one JSON text (RFC 8259); nil when it is not JSON, or holds what a request
    /// could not be read from: a lone surrogate escape, a key twice in an object, nesting
    /// deeper than 2,048 levels (`JSONParser` says which, and where).
    public init?(parsing bytes: some Collection<UInt8>) {
        guard let document = try? JSONParser.parse(bytes), document.problems.isEmpty else { return nil }
        self = document.value
    }
}
