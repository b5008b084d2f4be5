import HindsightCatalog
import HindsightTestSupport
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

@Suite("The number tables behind event ids and stream versions")
struct NumberTableTests {
    @Test("ids are found at their seqs, absent ones are not, and a second insert changes nothing")
    func lookups() {
        var index = NumberTable<EventID>()
        // Time-based ids differ only in a few bits; they must still spread over the table.
        let ids = (0..<50_000).map { EventID(kind: 1, high: UInt64($0) << 32, low: 0x8000_0000_0000_0000) }
        for (seq, id) in ids.enumerated() {
            let inserted = index.insert(id, UInt64(seq + 1))
            #expect(inserted)
        }
        #expect(index.count == ids.count)
        for (seq, id) in ids.enumerated() where seq % 97 == 0 { #expect(index[id] == UInt64(seq + 1)) }
        let again = index.insert(ids[10], 999)
        #expect(!again)
        #expect(index[ids[10]] == 11)
        #expect(index[EventID(kind: 2, high: 0, low: 0x8000_0000_0000_0000)] == nil)
        #expect(index[EventID(kind: 1, high: 1, low: 1)] == nil)
        #expect(MemoryLayout<EventID?>.stride == 24, "an id slot grew; the table is memory-bound")
    }

    @Test("removing ids keeps every other id findable, whatever the probe runs look like")
    func removals() {
        var index = NumberTable<EventID>()
        var random = SystemRandomNumberGenerator()
        // Few distinct high words make long probe runs.
        let ids = (0..<20_000).map { EventID(kind: 1, high: UInt64($0 % 64), low: UInt64($0 / 64)) }
        for (seq, id) in ids.enumerated() { _ = index.insert(id, UInt64(seq)) }
        var removed = Set<Int>()
        while removed.count < 8_000 { removed.insert(Int.random(in: 0..<ids.count, using: &random)) }
        for position in removed { index.remove(ids[position]) }
        #expect(index.count == ids.count - removed.count)
        for (seq, id) in ids.enumerated() {
            #expect(index[id] == (removed.contains(seq) ? nil : UInt64(seq)))
        }
    }

    @Test("set replaces a stream's version; insert does not")
    func setAndInsert() {
        var versions = NumberTable<StreamKey>()
        let stream = StreamKey("build/b_1")
        versions.set(stream, 1)
        versions.set(stream, 2)
        let inserted = versions.insert(stream, 9)
        #expect(!inserted)
        #expect(versions[stream] == 2)
        #expect(versions.count == 1)
        #expect(versions[StreamKey("build/b_2")] == nil)
        #expect(Array(versions.entries).map(\.1) == [2])
    }
}
