/// The integers of the read models' compact stored forms (sketches, hourly cells): LEB128
/// varints, zigzag for signed ones, and little-endian 64-bit words.
enum Varint {
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    static func append(signed value: Int64, to out: inout [UInt8]) {
        append(UInt64(bitPattern: (value << 1) ^ (value >> 63)), to: &out)
    }

    /// A 64-bit word, little-endian.
    static func append(fixed value: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// Appends `body`'s bytes to `out` after a varint of their count (the stored forms that
    /// hold others: the count lets a reader pass over them).
    static func appendCounted(to out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        let start = out.count
        body(&out)
        let length = UInt64(out.count - start)
        if length < 0x80 {
            out.insert(UInt8(length), at: start)
        } else {
            var prefix: [UInt8] = []
            append(length, to: &prefix)
            out.insert(contentsOf: prefix, at: start)
        }
    }
}

/// Reads what `Varint` writes, from the start of some bytes; every read returns nil rather
/// than reading past the end.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    private(set) var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var atEnd: Bool { position == bytes.endIndex }
    var remaining: Int { bytes.endIndex - position }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.endIndex, shift < 64 {
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    mutating func signedVarint() -> Int64? {
        varint().map { Int64(bitPattern: $0 >> 1) ^ -Int64(bitPattern: $0 & 1) }
    }

    mutating func fixed64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        var value: UInt64 = 0
        for offset in 0..<8 { value |= UInt64(bytes[position + offset]) << (8 * UInt64(offset)) }
        position += 8
        return value
    }

    /// The next `count` bytes.
    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return bytes[position..<(position + count)]
    }
}
