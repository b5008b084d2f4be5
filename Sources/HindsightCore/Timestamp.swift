internal import CShim

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// RFC 3339 timestamps as milliseconds since the Unix epoch: the envelope's one form (UTC
/// with milliseconds, "2026-03-01T09:30:00.000Z"), and every form a person or tool may give
/// a question (`parse(rfc3339:)`).
public enum Timestamp {
    /// The envelope's form, exactly: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public static func parse(_ text: String) -> Int64? {
        var ms: Int64 = 0
        let utf8 = Array(text.utf8)
        let rc = utf8.withUnsafeBytes { hs_parse_timestamp($0.baseAddress?.assumingMemoryBound(to: CChar.self), utf8.count, &ms) }
        return rc == 0 ? ms : nil
    }

    /// Any RFC 3339 date-time (section 5.6): `T` or `t` (or, as its note allows, a space)
    /// between date and time, seconds with any fraction or none (read to the millisecond,
    /// further digits cut off), and `Z`, `z` or an offset `±HH:MM`. What every time in a
    /// request's parameters and the command line's options is read with.
    public static func parse(rfc3339 text: String) -> Int64? {
        let b = Array(text.utf8)
        func number(_ at: Int, _ count: Int) -> Int64? {
            guard at + count <= b.count else { return nil }
            var value: Int64 = 0
            for byte in b[at..<(at + count)] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(b[10]),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
            (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var index = 19
        var millis: Int64 = 0
        if b[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < b.count, b[index] >= UInt8(ascii: "0"), b[index] <= UInt8(ascii: "9") {
                if index - start < 3 { millis = millis * 10 + Int64(b[index] - UInt8(ascii: "0")) }
                index += 1
            }
            guard index > start else { return nil }
            for _ in min(3, index - start)..<3 { millis *= 10 }
        }
        guard index < b.count else { return nil }
        var offset: Int64 = 0
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == b.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == b.count, b[index + 3] == UInt8(ascii: ":"), let hours = number(index + 1, 2),
                let minutes = number(index + 4, 2),
                hours <= 23, minutes <= 59
            else { return nil }
            offset = (hours * 60 + minutes) * 60_000 * (b[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        let days = days(fromCivil: year, month, day)
        let ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis - offset
        // An offset can reach an hour or so past the times UTC can write: those are refused.
        return (earliest...latest).contains(ms) ? ms : nil
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][Int(month - 1)]
    }

    /// Howard Hinnant's days_from_civil.
    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The earliest and latest times RFC 3339 can write (0000-01-01T00:00:00.000Z and
    /// 9999-12-31T23:59:59.999Z): every time either parser reads lies between them.
    public static let earliest: Int64 = -62_167_219_200_000
    public static let latest: Int64 = 253_402_300_799_999

    /// The time as RFC 3339; any Int64 is written, a year outside 0000–9999 in ISO 8601's
    /// expanded form (a sign and its digits), which no parser here reads back.
    public static func format(_ ms: Int64) -> String {
        var bytes: [UInt8] = []
        append(ms, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the timestamp to `out`: 24 bytes for a year from 0000 to 9999.
    package static func append(_ ms: Int64, to out: inout [UInt8]) {
        // Floored division, written so that no step can overflow at Int64's ends.
        var seconds = ms / 1000
        var millis = ms % 1000
        if millis < 0 { (seconds, millis) = (seconds - 1, millis + 1000) }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { (days, secondOfDay) = (days - 1, secondOfDay + 86_400) }
        let (year, month, day) = civil(fromDays: days)
        func put(_ value: Int64, _ width: Int) {
            var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            var v = value
            for i in stride(from: width - 1, through: 0, by: -1) {
                digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            out.append(contentsOf: digits)
        }
        if (0...9999).contains(year) {
            put(year, 4)
        } else {
            out.append(year < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let magnitude = Int64(year.magnitude)  // years lie within ±3 × 10^11
            put(magnitude, max(4, String(magnitude).count))
        }
        out.append(UInt8(ascii: "-"))
        put(month, 2)
        out.append(UInt8(ascii: "-"))
        put(day, 2)
        out.append(UInt8(ascii: "T"))
        put(secondOfDay / 3600, 2)
        out.append(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, 2)
        out.append(UInt8(ascii: ":"))
        put(secondOfDay % 60, 2)
        out.append(UInt8(ascii: "."))
        put(millis, 3)
        out.append(UInt8(ascii: "Z"))
    }

    /// The current wall-clock time; the corresponding C function is `clock_gettime`.
    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Howard Hinnant's civil_from_days.
    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Array where Element == UInt8 {
    /// Appends the decimal digits of `value`, without allocating.
    public mutating func appendDecimal(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var v = value
            var i = 20
            repeat {
                i -= 1
                buffer[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0
            append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i...]))
        }
    }
}
