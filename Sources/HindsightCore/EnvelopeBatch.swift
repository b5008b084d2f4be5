package import CShim

/// A producer's event id reduced to its 128 bits, so that retries are recognised whatever
/// the letter case, and the durable id set stays small.
package struct EventID: Equatable, Sendable {
    // The byte last, so that an optional id takes 24 bytes in the id table, not 32.
    package let high: UInt64
    package let low: UInt64
    package let kind: UInt8

    package init(kind: UInt8, high: UInt64, low: UInt64) {
        self.kind = kind
        self.high = high
        self.low = low
    }

    package init?(_ id: hs_event_id) {
        guard id.kind != Int32(HS_ID_NONE.rawValue) else { return nil }
        kind = UInt8(id.kind)
        high = id.high
        low = id.low
    }
}

/// A stream name and its hash, computed once while parsing (on any core), so that the
/// writer's per-event version lookups hash one number instead of the whole name.
package struct StreamKey: Equatable, Sendable {
    package let name: String
    package let hash: UInt64

    package init(name: String, hash: UInt64) {
        self.name = name
        self.hash = hash
    }

    /// Hashes the name as the parser does (64-bit FNV-1a).
    package init(_ name: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.init(name: name, hash: hash)
    }

    package static func == (a: StreamKey, b: StreamKey) -> Bool { a.hash == b.hash && a.name == b.name }
}

/// One validated envelope: its minified JSON inside `EnvelopeBatch.bodies`, and the fields the
/// writer needs.
package struct ParsedEnvelope: Sendable {
    package var bodyStart: Int
    package var bodyLength: Int
    /// Whether the body lives in `EnvelopeBatch.sealedBodies` (sealing made it longer).
    package var isSealed = false
    /// Where the stream's name sits in the body (no escapes: the parser writes it decoded).
    package let streamOffset: Int
    package let streamLength: Int
    package let streamHash: UInt64
    package let id: EventID?
    package let occurredAt: Int64
    /// 1-based line it came from, for error messages.
    package let line: Int
    /// The index of the catalogue schema that checked it, or -1 when parsed without a catalogue.
    package let schema: Int32
    /// Whether its schema marks personal fields (which must be sealed before it is stored).
    package let personal: Bool

    package init(
        bodyStart: Int, bodyLength: Int, streamOffset: Int, streamLength: Int, streamHash: UInt64, id: EventID?,
        occurredAt: Int64, line: Int, schema: Int32, personal: Bool
    ) {
        self.bodyStart = bodyStart
        self.bodyLength = bodyLength
        self.streamOffset = streamOffset
        self.streamLength = streamLength
        self.streamHash = streamHash
        self.id = id
        self.occurredAt = occurredAt
        self.line = line
        self.schema = schema
        self.personal = personal
    }
}

/// Producer envelopes that passed validation, ready to append.
public struct EnvelopeBatch: Sendable {
    /// The minified envelopes, each at its `bodyStart`; bytes between them mean nothing.
    package var bodies: [UInt8] = []
    /// Bodies rewritten by sealing, which grew: kept apart so that the large `bodies` buffer
    /// is never copied to make room.
    package var sealedBodies: [UInt8] = []
    package var events: [ParsedEnvelope] = []
    /// Events whose schema marks personal fields, which must be sealed (`sealPersonalData`)
    /// before the batch may be stored.
    package var unsealed: [Int] = []

    package init(bodies: [UInt8], events: [ParsedEnvelope], unsealed: [Int]) {
        self.bodies = bodies
        self.events = events
        self.unsealed = unsealed
    }

    public var count: Int { events.count }
    public var isEmpty: Bool { events.isEmpty }
    /// Whether some event still holds personal data as its producer sent it: the catalogue
    /// marks such events when it validates them, the vault seals them, and the log refuses a
    /// batch that still has one.
    public var hasUnsealedPersonalData: Bool { !unsealed.isEmpty }

    /// The minified JSON of event `index`.
    package func body(_ index: Int) -> ArraySlice<UInt8> {
        let event = events[index]
        return (event.isSealed ? sealedBodies : bodies)[event.bodyStart..<(event.bodyStart + event.bodyLength)]
    }

    /// Calls `body` with both body buffers; `pick` gives an event's own body within them.
    package func withBodies<R>(_ body: (_ pick: (ParsedEnvelope) -> UnsafeRawBufferPointer) -> R) -> R {
        bodies.withUnsafeBytes { plain in
            sealedBodies.withUnsafeBytes { sealed in
                body { event in
                    UnsafeRawBufferPointer(
                        rebasing: (event.isSealed ? sealed : plain)[event.bodyStart..<(event.bodyStart + event.bodyLength)])
                }
            }
        }
    }
}
