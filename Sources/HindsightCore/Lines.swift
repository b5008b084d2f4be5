#if canImport(Glibc)
    import Glibc
#endif

extension UnsafeRawBufferPointer {
    /// The lines of the first `length` bytes, each without its "\n" (a last line without
    /// one counts too), found with `memchr`.
    public func lineRanges(length: Int? = nil) -> [Range<Int>] {
        let end = length ?? count
        var lines: [Range<Int>] = []
        lines.reserveCapacity(end / 256)
        guard let base = baseAddress else { return lines }
        var start = 0
        while start < end {
            let stop =
                memchr(base + start, Int32(UInt8(ascii: "\n")), end - start)
                .map { UnsafeRawPointer($0) - base } ?? end
            lines.append(start..<stop)
            start = stop + 1
        }
        return lines
    }
}
