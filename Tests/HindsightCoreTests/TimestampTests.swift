import Foundation
import Testing

@testable import HindsightCore

@Suite("RFC 3339 times")
struct TimestampTests {
    @Test("every RFC 3339 form of a moment reads as the same millisecond, as Foundation's ISO 8601 reader has it")
    func formsOfOneMoment() throws {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let canonical = "2026-03-12T07:30:15.250Z"
        let ms = try #require(Timestamp.parse(canonical))
        #expect(Int64((reference.date(from: canonical)!.timeIntervalSince1970 * 1000).rounded()) == ms)
        for form in [
            "2026-03-12T07:30:15.250Z", "2026-03-12t07:30:15.25z", "2026-03-12 07:30:15.250Z", "2026-03-12T07:30:15.2509999Z",
            "2026-03-12T09:30:15.250+02:00", "2026-03-12T02:00:15.250-05:30", "2026-03-11T23:30:15.250-08:00",
        ] {
            #expect(Timestamp.parse(rfc3339: form) == ms, "\(form)")
        }
        #expect(Timestamp.parse(rfc3339: "2026-03-12T07:30:15Z") == ms - 250)
        #expect(Timestamp.parse(rfc3339: "2026-03-12T07:30:15+00:00") == ms - 250)
        // The envelope's own form is still the only one an event may carry.
        #expect(Timestamp.parse("2026-03-12T07:30:15Z") == nil)
    }

    @Test("RFC 3339 times agree with Foundation's reader across the years it can write, leap days included")
    func agreesWithFoundation() {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let ms = Int64.random(in: -2_208_988_800_000...253_402_300_799_999, using: &random)  // 1900 to 9999
            let text = Timestamp.format(ms)
            #expect(Timestamp.parse(rfc3339: text) == ms, "\(text)")
            #expect(Int64((reference.date(from: text)!.timeIntervalSince1970 * 1000).rounded()) == ms, "\(text)")
        }
        #expect(Timestamp.parse(rfc3339: "2024-02-29T00:00:00Z") != nil)
        #expect(Timestamp.parse(rfc3339: "2000-02-29T00:00:00Z") != nil)
    }

    @Test("what RFC 3339 does not allow, and times outside those UTC can write, are refused")
    func refusals() {
        for text in [
            "", "2026-03-12", "2026-03-12T07:30Z", "2026-03-12T07:30:15", "2026-03-12T07:30:15.Z", "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-03-12T24:00:00Z", "2026-03-12T07:60:00Z", "2026-03-12T07:30:60Z",
            "2026-03-12T07:30:15+2:00", "2026-03-12T07:30:15+02", "2026-03-12T07:30:15+24:00", "2026-03-12T07:30:15Z ",
            "2026-03-12X07:30:15Z", "+2026-03-12T07:30:15Z", "0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
        ] {
            #expect(Timestamp.parse(rfc3339: text) == nil, "\(text)")
        }
        #expect(Timestamp.parse(rfc3339: "0000-01-01T00:00:00Z") == Timestamp.earliest)
        #expect(Timestamp.parse(rfc3339: "9999-12-31T23:59:59.999Z") == Timestamp.latest)
    }
}
