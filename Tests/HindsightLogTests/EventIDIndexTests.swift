import Testing
@testable import HindsightLog

@Suite("The event id index")
struct EventIDIndexTests {
    @Test("ids are found at their seqs, absent ones are not, and a second insert changes nothing")
    func lookups() {
        var index = EventIDIndex()
        // Time-based ids differ only in a few bits; they must still spread over the table.
        let ids = (0..<50_000).map { EventID(kind: 1, high: UInt64($0) << 32, low: 0x8000_0000_0000_0000) }
        for (seq, id) in ids.enumerated() {
            let inserted = index.insert(id, seq: UInt64(seq + 1))
            #expect(inserted)
        }
        #expect(index.count == ids.count)
        for (seq, id) in ids.enumerated() where seq % 97 == 0 { #expect(index[id] == UInt64(seq + 1)) }
        let again = index.insert(ids[10], seq: 999)
        #expect(!again)
        #expect(index[ids[10]] == 11)
        #expect(index[EventID(kind: 2, high: 0, low: 0x8000_0000_0000_0000)] == nil)
        #expect(index[EventID(kind: 1, high: 1, low: 1)] == nil)
    }

    @Test("removing ids keeps every other id findable, whatever the probe runs look like")
    func removals() {
        var index = EventIDIndex()
        var random = SystemRandomNumberGenerator()
        // Few distinct high words make long probe runs.
        let ids = (0..<20_000).map { EventID(kind: 1, high: UInt64($0 % 64), low: UInt64($0 / 64)) }
        for (seq, id) in ids.enumerated() { _ = index.insert(id, seq: UInt64(seq)) }
        var removed = Set<Int>()
        while removed.count < 8_000 { removed.insert(Int.random(in: 0..<ids.count, using: &random)) }
        for position in removed { index.remove(ids[position]) }
        #expect(index.count == ids.count - removed.count)
        for (seq, id) in ids.enumerated() {
            #expect(index[id] == (removed.contains(seq) ? nil : UInt64(seq)))
        }
    }
}
