public import HindsightCore
import HindsightLog

/// A key whose 64-bit hash is already known: an event id's bits are mostly random, and a
/// stream name is hashed once, while parsing, on any core.
protocol PrehashedKey: Equatable, Sendable {
    var hash64: UInt64 { get }
}

extension EventID: PrehashedKey {
    var hash64: UInt64 { low ^ high }
}

extension StreamKey: PrehashedKey {
    var hash64: UInt64 { hash }
}

/// A number per key (an event id's seq, a stream's version) in an open-addressing hash
/// table. One multiplication by a per-process random odd number spreads the prehashed keys
/// (also the sequential parts of time-based UUIDs). A million operations cost milliseconds,
/// where `Dictionary`'s SipHash cost a quarter of a second per million on the append path.
struct NumberTable<Key: PrehashedKey>: Sendable {
    private static var multiplier: UInt64 { tableMultiplier }

    /// A key and its number side by side, so that a lookup touches one cache line.
    private struct Slot {
        var key: Key?
        var value: UInt64
    }

    private var slots: [Slot]
    private var shift: UInt64
    private var mask: Int { slots.count - 1 }
    private(set) var count = 0

    init(capacity: Int = 0) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(key: nil, value: 0), count: size)
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    /// The first slot to probe: the top bits of the multiplied hash (Fibonacci hashing).
    private func home(_ key: Key) -> Int {
        Int(truncatingIfNeeded: (key.hash64 &* Self.multiplier) >> shift)
    }

    /// The slot holding `key`, or the empty slot where it would go.
    private func slot(of key: Key) -> Int {
        var slot = home(key)
        while let found = slots[slot].key, found != key { slot = (slot + 1) & mask }
        return slot
    }

    subscript(key: Key) -> UInt64? {
        let slot = slots[slot(of: key)]
        return slot.key == nil ? nil : slot.value
    }

    /// Records `value` for `key` unless the key is there already; returns whether it was new.
    @discardableResult
    mutating func insert(_ key: Key, _ value: UInt64) -> Bool {
        if (count + 1) * 2 > slots.count { grow(to: count + 1) }
        let slot = slot(of: key)
        guard slots[slot].key == nil else { return false }
        slots[slot] = Slot(key: key, value: value)
        count += 1
        return true
    }

    /// Sets `value` for `key`, adding the key if it is new.
    mutating func set(_ key: Key, _ value: UInt64) {
        if (count + 1) * 2 > slots.count { grow(to: count + 1) }
        let slot = slot(of: key)
        if slots[slot].key == nil { count += 1 }
        slots[slot] = Slot(key: key, value: value)
    }

    /// Forgets `key`, moving later entries of its probe run back so that lookups still find
    /// them (backward-shift deletion).
    mutating func remove(_ key: Key) {
        let slot = slot(of: key)
        guard slots[slot].key != nil else { return }
        slots[slot].key = nil
        count -= 1
        var hole = slot
        var next = slot
        while true {
            next = (next + 1) & mask
            guard let moved = slots[next].key else { return }
            let wanted = home(moved)
            // The entry may move into the hole unless its home lies cyclically in (hole, next].
            let staysPut = hole <= next ? (hole < wanted && wanted <= next) : (hole < wanted || wanted <= next)
            if staysPut { continue }
            slots[hole] = slots[next]
            slots[next].key = nil
            hole = next
        }
    }

    mutating func reserveCapacity(_ capacity: Int) {
        if capacity * 2 > slots.count { grow(to: capacity) }
    }

    /// Every key and its value, in no particular order.
    var entries: some Sequence<(Key, UInt64)> {
        slots.lazy.compactMap { slot in slot.key.map { ($0, slot.value) } }
    }

    /// Moves every entry into a table with room for at least `capacity` keys (twice the
    /// present room at least, so that growing one key at a time stays cheap).
    private mutating func grow(to capacity: Int) {
        var bigger = NumberTable(capacity: max(capacity, slots.count))
        for (key, value) in entries { bigger.insert(key, value) }
        self = bigger
    }
}

/// Chosen once per process, so that nobody can pick keys that all collide.
private let tableMultiplier = UInt64.random(in: 1...UInt64.max) | 1
