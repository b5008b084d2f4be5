/// Numbers for the texts a batch of events meets again and again (the JSON text of a few
/// fields of an event: a metric's name and tags, a function with its project and mode), in
/// the order first met.
///
/// A text is found by a 64-bit hash of its bytes and then checked byte for byte, so
/// that an event costs one pass over a few bytes it already has: making a string of the
/// fields and hashing it cost several times as much, and was most of what reading a batch
/// of metric values did.
struct TextNumbers: Sendable {
    /// Each number's text: its parts, each ended by a zero byte (which JSON text never
    /// holds), and the tag it was met with; and its hash.
    private var texts: [(bytes: [UInt8], tag: String)] = []
    private var hashes: [UInt64] = []
    /// The numbers by hash, in open addressing: a slot holds a number plus one (0: empty),
    /// a text whose slot is taken goes to the next free one; never more than half full.
    /// (A `Dictionary` hashed the hash again, and cost more than the rest of the lookup.)
    private var slots = [Int32](repeating: 0, count: 1024)

    var count: Int { texts.count }

    /// The number of the text made of the parts, met with `tag` (a string the event has
    /// already, such as its org), and whether it is new.
    mutating func number(_ first: ArraySlice<UInt8>, _ second: ArraySlice<UInt8>, _ third: ArraySlice<UInt8> = [], tag: String = "")
        -> (number: Int, new: Bool)
    {
        var tagged = tag
        let hash = tagged.withUTF8 { tag in
            Self.hash(UnsafeRawBufferPointer(tag), Self.hash(third, Self.hash(second, Self.hash(first, 0x9e37_79b9_7f4a_7c15))))
        }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 {
            let known = Int(slots[slot]) - 1
            if hashes[known] == hash, texts[known].tag == tag, Self.text(texts[known].bytes, is: first, second, third) {
                return (known, false)
            }
            slot = (slot + 1) & mask
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(first.count + second.count + third.count + 3)
        for part in [first, second, third] {
            bytes += part
            bytes.append(0)
        }
        texts.append((bytes, tag))
        hashes.append(hash)
        slots[slot] = Int32(texts.count)
        if 2 * texts.count > slots.count { grow() }
        return (texts.count - 1, true)
    }

    /// Twice the slots, each number placed again by its hash.
    private mutating func grow() {
        slots = [Int32](repeating: 0, count: 2 * slots.count)
        let mask = slots.count - 1
        for (number, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(number + 1)
        }
    }

    /// Mixes the bytes of a part, eight at a time, into a hash (a multiply-and-rotate mix:
    /// these are small tables, which need spread, not strength).
    private static func hash(_ part: ArraySlice<UInt8>, _ seed: UInt64) -> UInt64 {
        part.withUnsafeBytes { hash($0, seed) }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer, _ seed: UInt64) -> UInt64 {
        var hash = seed ^ UInt64(bytes.count)
        var at = 0
        while at + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) &* 0xff51_afd7_ed55_8ccd
            hash = hash << 29 | hash >> 35
            at += 8
        }
        var tail: UInt64 = 0
        while at < bytes.count {
            tail = tail << 8 | UInt64(bytes[at])
            at += 1
        }
        hash = (hash ^ tail) &* 0xc4ce_b9fe_1a85_ec53
        return hash ^ hash >> 31
    }

    private static func text(_ bytes: [UInt8], is first: ArraySlice<UInt8>, _ second: ArraySlice<UInt8>, _ third: ArraySlice<UInt8>) -> Bool
    {
        guard bytes.count == first.count + second.count + third.count + 3 else { return false }
        var at = 0
        func next(_ part: ArraySlice<UInt8>) -> Bool {
            defer { at += part.count + 1 }
            return bytes[at..<(at + part.count)].elementsEqual(part) && bytes[at + part.count] == 0
        }
        return next(first) && next(second) && next(third)
    }
}
