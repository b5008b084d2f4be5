internal import CShim
import Dispatch
public import HindsightCatalog

/// A producer's event id reduced to its 128 bits, so that retries are recognised whatever
/// the letter case, and the durable id set stays small.
struct EventID: Equatable, Sendable {
    // The byte last, so that an optional id takes 24 bytes in the id table, not 32.
    let high: UInt64
    let low: UInt64
    let kind: UInt8

    init(kind: UInt8, high: UInt64, low: UInt64) {
        self.kind = kind
        self.high = high
        self.low = low
    }

    init?(_ id: hs_event_id) {
        guard id.kind != Int32(HS_ID_NONE.rawValue) else { return nil }
        kind = UInt8(id.kind)
        high = id.high
        low = id.low
    }
}

/// A stream name and its hash, computed once while parsing (on any core), so that the
/// writer's per-event version lookups hash one number instead of the whole name.
struct StreamKey: Equatable, Sendable {
    let name: String
    let hash: UInt64

    init(name: String, hash: UInt64) {
        self.name = name
        self.hash = hash
    }

    /// Hashes the name as the parser does (64-bit FNV-1a).
    init(_ name: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.init(name: name, hash: hash)
    }

    static func == (a: StreamKey, b: StreamKey) -> Bool { a.hash == b.hash && a.name == b.name }
}

/// One validated envelope: its minified JSON inside `EnvelopeBatch.bodies`, and the fields the
/// writer needs.
struct ParsedEnvelope: Sendable {
    var bodyStart: Int
    var bodyLength: Int
    /// Whether the body lives in `EnvelopeBatch.sealedBodies` (sealing made it longer).
    var isSealed = false
    /// Where the stream's name sits in the body (no escapes: the parser writes it decoded).
    let streamOffset: Int
    let streamLength: Int
    let streamHash: UInt64
    let id: EventID?
    let occurredAt: Int64
    /// 1-based line it came from, for error messages.
    let line: Int
    /// The index of the catalogue schema that checked it, or -1 when parsed without a catalogue.
    let schema: Int32
    /// Whether its schema marks personal fields (which must be sealed before it is stored).
    let personal: Bool
}

/// Producer envelopes that passed validation, ready to append.
public struct EnvelopeBatch: Sendable {
    /// The minified envelopes, each at its `bodyStart`; bytes between them mean nothing.
    var bodies: [UInt8] = []
    /// Bodies rewritten by sealing, which grew: kept apart so that the large `bodies` buffer
    /// is never copied to make room.
    var sealedBodies: [UInt8] = []
    var events: [ParsedEnvelope] = []
    /// Events whose schema marks personal fields, which must be sealed (`sealPersonalData`)
    /// before the batch may be stored.
    var unsealed: [Int] = []

    public var count: Int { events.count }
    public var isEmpty: Bool { events.isEmpty }

    /// The minified JSON of event `index`.
    func body(_ index: Int) -> ArraySlice<UInt8> {
        let event = events[index]
        return (event.isSealed ? sealedBodies : bodies)[event.bodyStart..<(event.bodyStart + event.bodyLength)]
    }

    /// Calls `body` with both body buffers; `pick` gives an event's own body within them.
    func withBodies<R>(_ body: (_ pick: (ParsedEnvelope) -> UnsafeRawBufferPointer) -> R) -> R {
        bodies.withUnsafeBytes { plain in
            sealedBodies.withUnsafeBytes { sealed in
                body { event in
                    UnsafeRawBufferPointer(rebasing: (event.isSealed ? sealed : plain)[event.bodyStart..<(event.bodyStart + event.bodyLength)])
                }
            }
        }
    }

    /// The batch cut into consecutive batches of at most `size` events, for loading a large
    /// history in steps that are each all or nothing.
    public func split(every size: Int) -> [EnvelopeBatch] {
        precondition(size > 0, "a batch size must be positive")
        return stride(from: 0, to: events.count, by: size).map { start in
            let slice = start..<min(start + size, events.count)
            var part = EnvelopeBatch(unsealed: unsealed.filter(slice.contains).map { $0 - start })
            for index in slice {
                var event = events[index]
                event.bodyStart = part.bodies.count
                event.isSealed = false
                part.bodies += body(index)
                part.events.append(event)
            }
            return part
        }
    }
}

/// Validates NDJSON envelopes against the catalogue's envelope rules (EVENTS.md) and, given a
/// catalogue, each event's `data` against its type's schema, on all cores, refusing the whole
/// input at the first bad line.
public enum EnvelopeParser {
    /// Lines longer than this are refused before parsing.
    public static let maxLineBytes = 1 << 20

    /// Spare capacity the parser needs after the text (simdjson reads past the last line).
    public static let padding = hs_padding()

    /// Parses NDJSON text: one envelope per line; a final newline is optional. The text's
    /// storage becomes the batch's: give it `padding` bytes of spare capacity to avoid a copy.
    /// Without a catalogue only the envelope is checked (the log's own tests do that).
    public static func parse(ndjson input: consuming [UInt8], catalog: Catalog?) throws(LogError) -> EnvelopeBatch {
        let lines = splitLines(input)
        input.append(contentsOf: repeatElement(0x20, count: padding))
        return try parse(inPlace: consume input, lines: lines, catalog: catalog)
    }

    /// Reads and parses an NDJSON file, reading it straight into the batch's storage.
    public static func parse(file path: String, catalog: Catalog?) throws(LogError) -> EnvelopeBatch {
        try parse(ndjson: FileIO.readFile(path, spareCapacity: padding), catalog: catalog)
    }

    /// Line ranges without their "\n" (or "\r\n"); a final newline does not start a line.
    static func splitLines(_ input: [UInt8]) -> [Range<Int>] {
        input.withUnsafeBytes { bytes in
            bytes.lineRanges().map { line in
                line.isEmpty || bytes[line.upperBound - 1] != UInt8(ascii: "\r") ? line : line.lowerBound..<(line.upperBound - 1)
            }
        }
    }

    /// Validates every line on all cores, writing each line's canonical form over the line
    /// itself (it is never longer), so the batch keeps the input's storage. A worker's first
    /// line is written back only after every worker is done, because the worker before it
    /// reads past its own last line into that one (the parser's padding).
    private static func parse(inPlace text: consuming [UInt8], lines: [Range<Int>], catalog: Catalog?) throws(LogError) -> EnvelopeBatch {
        let workers = lines.count < 4096 ? 1 : 2
        let share = (lines.count + workers - 1) / workers
        var firstBodies = [Result<[UInt8], LogError>](repeating: .success([]), count: workers)
        var buffer = consume text
        // Each worker fills its own part of one array: no per-worker arrays to join.
        let events = [ParsedEnvelope](unsafeUninitializedCapacity: lines.count) { events, initialized in
            buffer.withUnsafeMutableBytes { bytes in
                firstBodies.withUnsafeMutableBufferPointer { out in
                    let shared = UnsafeSendable((bytes, out, events))
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        let (bytes, out, events) = shared.value
                        let part = (worker * share)..<min(lines.count, (worker + 1) * share)
                        out[worker] = parseSlice(bytes, lines[part], into: UnsafeMutableBufferPointer(rebasing: events[part]), catalog: catalog)
                    }
                }
            }
            // ParsedEnvelope is plain data: a refused batch leaves nothing to deinitialise.
            initialized = firstBodies.allSatisfy { (try? $0.get()) != nil } ? lines.count : 0
        }
        for (worker, result) in firstBodies.enumerated() {
            let firstBody = try result.get()
            let first = worker * share
            guard first < events.count else { continue }
            buffer.replaceSubrange(events[first].bodyStart..<(events[first].bodyStart + events[first].bodyLength), with: firstBody)
        }
        return EnvelopeBatch(bodies: buffer, events: events, unsealed: events.indices.filter { events[$0].personal })
    }

    /// Parses one worker's lines into `out` (one slot per line) and returns the canonical
    /// form of its first line, held back (see `parse(inPlace:)`).
    private static func parseSlice(
        _ text: UnsafeMutableRawBufferPointer, _ lines: ArraySlice<Range<Int>>, into out: UnsafeMutableBufferPointer<ParsedEnvelope>,
        catalog: Catalog?
    ) -> Result<[UInt8], LogError> {
        guard let parser = hs_parser_create() else {
            return .failure(LogError(.io, "cannot allocate a JSON parser"))
        }
        defer { hs_parser_destroy(parser) }
        var firstBody: [UInt8] = []
        var envelope = hs_envelope()
        var error = hs_error()
        let base = text.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for (slot, (index, range)) in zip(lines.indices, lines).enumerated() {
            let lineNumber = index + 1
            if range.isEmpty || text[range].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                return .failure(LogError(.invalidEnvelope, "empty line; every line must hold one event", location: "line \(lineNumber)", fieldPath: ""))
            }
            if range.count > maxLineBytes {
                return .failure(LogError(.invalidEnvelope, "line is \(range.count) bytes; the limit is \(maxLineBytes) bytes", location: "line \(lineNumber)", fieldPath: ""))
            }
            let isFirst = slot == 0
            if isFirst { firstBody = [UInt8](repeating: 0, count: range.count) }
            let rc = firstBody.withUnsafeMutableBufferPointer { held in
                hs_parse_envelope(parser, catalog?.handle, base + range.lowerBound, range.count,
                                  isFirst ? held.baseAddress! : base + range.lowerBound, &envelope, &error)
            }
            if rc != 0 { return .failure(refusal(rc, &error, line: lineNumber)) }
            if isFirst { firstBody.removeLast(range.count - envelope.minified_length) }
            (out.baseAddress! + slot).initialize(to: ParsedEnvelope(
                bodyStart: range.lowerBound, bodyLength: envelope.minified_length,
                streamOffset: envelope.stream_offset, streamLength: envelope.stream_length, streamHash: envelope.stream_hash,
                id: EventID(envelope.event_id), occurredAt: envelope.occurred_at_ms, line: lineNumber,
                schema: envelope.schema_index, personal: envelope.personal != 0))
        }
        return .success(firstBody)
    }

    /// The error for a refused line, with the code that says which kind of rule it broke.
    private static func refusal(_ kind: Int32, _ error: inout hs_error, line: Int) -> LogError {
        let code: LogError.Code = switch UInt32(kind) {
        case HS_ERR_SCHEMA.rawValue: .schemaViolation
        case HS_ERR_SECRET.rawValue: .secretInPayload
        case HS_ERR_UNKNOWN_TYPE.rawValue: .unknownType
        default: .invalidEnvelope
        }
        let type = cString(&error.type)
        return LogError(code, cString(&error.message), location: "line \(line)", fieldPath: cString(&error.path),
                        rule: cString(&error.rule), eventType: type.isEmpty ? nil : type)
    }
}

/// Reads the engine's fields out of stored lines; one per thread.
final class StoredLineParser {
    private let parser: OpaquePointer
    private var stored = hs_stored()
    private var error = hs_error()

    init() throws(LogError) {
        guard let parser = hs_parser_create() else { throw LogError(.io, "cannot allocate a JSON parser") }
        self.parser = parser
    }

    deinit { hs_parser_destroy(parser) }

    /// Parses one stored line, which must lie inside a decompressed chunk: the chunk's text is
    /// followed by `EnvelopeParser.padding` readable bytes, which the parser may read past it.
    func parse(_ line: ArraySlice<UInt8>) throws(LogError) -> StoredEvent {
        try line.withUnsafeBytes { bytes in Result { () throws(LogError) in try run(bytes) } }.get()
        return StoredEvent(
            seq: stored.seq, streamVersion: stored.stream_version, type: cString(&stored.type),
            stream: cString(&stored.stream), org: cString(&stored.org),
            actorKind: cString(&stored.actor_kind), actorID: cString(&stored.actor_id),
            occurredAtMs: stored.occurred_at_ms, schemaVersion: Int(stored.schema_version), line: line)
    }

    /// What the writer must remember of a stored line (within a chunk, as for `parse`).
    func identity(_ line: UnsafeRawBufferPointer) throws(LogError) -> StoredIdentity {
        try run(line)
        return StoredIdentity(stream: StreamKey(name: cString(&stored.stream), hash: stored.stream_hash),
                              version: stored.stream_version, id: EventID(stored.event_id))
    }

    private func run(_ line: UnsafeRawBufferPointer) throws(LogError) {
        let rc = hs_parse_stored(parser, line.baseAddress!.assumingMemoryBound(to: UInt8.self), line.count, &stored, &error)
        guard rc == 0 else {
            throw LogError(.logCorrupt, "stored line is not a stored event: \(cString(&error.message))", fieldPath: cString(&error.path))
        }
    }
}

extension StoredEvent {
    /// Parses a stored line kept outside the log (a read model's copy).
    public init(storedLine line: [UInt8]) throws(LogError) {
        let padded = line + [UInt8](repeating: 0x20, count: EnvelopeParser.padding)
        let parser = try StoredLineParser()
        self = try parser.parse(padded[0..<line.count])
    }
}

/// A C `char[N]` field as a Swift string.
func cString<T>(_ field: inout T) -> String {
    withUnsafeBytes(of: &field) { raw in
        String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
    }
}

/// Lets a worker closure write its own slot of a buffer that outlives it.
public struct UnsafeSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
