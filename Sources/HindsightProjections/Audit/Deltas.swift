/// Numbers kept as their differences from the one before, each in LEB128 (zigzag first when
/// a difference may be negative): the audit model's blocks of seqs, times and places, where
/// neighbours are close and a difference takes one to three bytes.
enum Deltas {
    /// Appends `values` to `bytes`, each as its difference from the one before it (the first
    /// from `previous`). Without `signed`, the values must not decrease.
    static func append(_ values: some Sequence<Int64>, to bytes: inout [UInt8], after previous: Int64, signed: Bool = false) {
        var last = previous
        for value in values {
            let difference = value &- last
            var code = signed ? UInt64(bitPattern: (difference << 1) ^ (difference >> 63)) : UInt64(bitPattern: difference)
            while code >= 0x80 {
                bytes.append(UInt8(code & 0x7F) | 0x80)
                code >>= 7
            }
            bytes.append(UInt8(code))
            last = value
        }
    }

    /// The values `append` wrote after `previous`, in order.
    static func values(in bytes: [UInt8], after previous: Int64, signed: Bool = false) -> [Int64] {
        var values: [Int64] = []
        values.reserveCapacity(bytes.count)
        var value = previous
        var code: UInt64 = 0
        var shift: UInt64 = 0
        for byte in bytes {
            code |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 != 0 {
                shift += 7
                continue
            }
            let difference = signed ? Int64(bitPattern: code >> 1) ^ -Int64(bitPattern: code & 1) : Int64(bitPattern: code)
            value &+= difference
            values.append(value)
            code = 0
            shift = 0
        }
        return values
    }
}
