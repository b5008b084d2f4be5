/// Every stored event id and its seq: an open-addressing hash table. An id's 128 bits are
/// mostly random already, so one multiplication by a per-process random odd number spreads
/// them (also the sequential parts of time-based UUIDs). A million lookups cost
/// milliseconds, where `Dictionary`'s SipHash cost a quarter of a second per million on
/// the append path.
struct EventIDIndex: Sendable {
    private static let multiplier = UInt64.random(in: 1...UInt64.max) | 1

    private var keys: [EventID?]
    private var seqs: [UInt64]
    private var shift: UInt64
    private var mask: Int { keys.count - 1 }
    private(set) var count = 0

    init(capacity: Int = 0) {
        var slots = 16
        while slots < capacity * 2 { slots <<= 1 }
        keys = [EventID?](repeating: nil, count: slots)
        seqs = [UInt64](repeating: 0, count: slots)
        shift = UInt64(64 - slots.trailingZeroBitCount)
    }

    /// The first slot to probe: the top bits of the multiplied id (Fibonacci hashing).
    private func home(_ id: EventID) -> Int {
        Int(truncatingIfNeeded: ((id.low ^ id.high) &* Self.multiplier) >> shift)
    }

    subscript(id: EventID) -> UInt64? {
        var slot = home(id)
        while let key = keys[slot] {
            if key == id { return seqs[slot] }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// Records `id` at `seq`; returns false, changing nothing, if it is already there.
    @discardableResult
    mutating func insert(_ id: EventID, seq: UInt64) -> Bool {
        if (count + 1) * 2 > keys.count { grow() }
        var slot = home(id)
        while let key = keys[slot] {
            if key == id { return false }
            slot = (slot + 1) & mask
        }
        keys[slot] = id
        seqs[slot] = seq
        count += 1
        return true
    }

    /// Forgets `id`, moving later entries of its probe run back so that lookups still find
    /// them (backward-shift deletion).
    mutating func remove(_ id: EventID) {
        var slot = home(id)
        while let key = keys[slot], key != id { slot = (slot + 1) & mask }
        guard keys[slot] != nil else { return }
        keys[slot] = nil
        count -= 1
        var hole = slot, next = slot
        while true {
            next = (next + 1) & mask
            guard let key = keys[next] else { return }
            let wanted = home(key)
            // The entry may move into the hole unless its home lies cyclically in (hole, next].
            let staysPut = hole <= next ? (hole < wanted && wanted <= next) : (hole < wanted || wanted <= next)
            if staysPut { continue }
            keys[hole] = key
            seqs[hole] = seqs[next]
            keys[next] = nil
            hole = next
        }
    }

    mutating func reserveCapacity(_ capacity: Int) {
        while capacity * 2 > keys.count { grow() }
    }

    private mutating func grow() {
        var bigger = EventIDIndex(capacity: keys.count)
        for (key, seq) in zip(keys, seqs) { if let key { bigger.insert(key, seq: seq) } }
        self = bigger
    }
}
