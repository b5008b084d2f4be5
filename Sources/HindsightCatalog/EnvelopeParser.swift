internal import CShim
import Dispatch
public import HindsightCore
import HindsightFiles

#if canImport(Glibc)
    import Glibc
#endif

/// Validates NDJSON envelopes against the catalogue's envelope rules (EVENTS.md) and, given a
/// catalogue, each event's `data` against its type's schema, two workers at a time, refusing the whole
/// input at the first bad line.
public enum EnvelopeParser {
    /// Lines longer than this are refused before parsing.
    public static let maxLineBytes = 1 << 20

    /// Spare capacity the parser needs after the text (simdjson reads past the last line).
    public static let padding = StoredLine.padding

    /// Parses NDJSON text: one envelope per line; a final newline is optional. The text's
    /// storage becomes the batch's: give it `padding` bytes of spare capacity to avoid a copy.
    /// Without a catalogue only the envelope is checked (the log's own tests do that).
    /// `firstLine` is the number errors give the text's first line (a piece of a longer input).
    public static func parse(ndjson input: consuming [UInt8], catalog: Catalog?, firstLine: Int = 1) throws(LogError) -> EnvelopeBatch {
        let lines = splitLines(input)
        input.append(contentsOf: repeatElement(0x20, count: padding))
        return try parse(inPlace: consume input, lines: lines, catalog: catalog, firstLine: firstLine)
    }

    /// Reads and parses an NDJSON file, reading it straight into the batch's storage.
    public static func parse(file path: String, catalog: Catalog?) throws(LogError) -> EnvelopeBatch {
        try parse(ndjson: FileIO.readFile(path, spareCapacity: padding), catalog: catalog)
    }

    /// Reads NDJSON from a file descriptor a piece of `lines` lines at a time, in memory
    /// bounded by two pieces whatever the input's length, and hands each piece, parsed, to
    /// `body`, in order: a load larger than memory, validated and stored piece by piece. A
    /// piece is parsed on another thread while `body` stores the one before it. Errors give
    /// line numbers of the whole input; a bad piece is reported once `body` has had every
    /// piece before it. An empty input is one empty piece.
    public static func forEachPiece(
        of fd: Int32, named name: String, lines: Int, catalog: Catalog?, _ body: (consuming EnvelopeBatch) throws(LogError) -> Void
    ) throws(LogError) {
        precondition(lines > 0, "a piece holds at least one line")
        var pending: [UInt8] = []
        var scanned = 0
        var ends: [Int] = []  // the offsets just past each "\n" of `pending` found so far
        var firstLine = 1
        var handed = false
        var parsing: PieceParse?
        var block = [UInt8](repeating: 0, count: 1 << 22)
        /// Gives `body` the piece being parsed, if any.
        func store() throws(LogError) {
            guard let piece = parsing else { return }
            parsing = nil
            try body(try piece.batch())
        }
        /// Starts parsing the first `count` bytes of `pending` as a piece, once the piece
        /// before it is stored.
        func hand(_ count: Int) throws(LogError) {
            var piece = [UInt8]()
            piece.reserveCapacity(count + padding)
            piece += pending[..<count]
            pending.removeFirst(count)
            ends = ends.dropFirst(lines).map { $0 - count }
            scanned -= count
            let next = PieceParse(piece, catalog: catalog, firstLine: firstLine)
            firstLine += lines
            handed = true
            try store()
            parsing = next
        }
        while true {
            let read = block.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if read < 0 {
                if errno == EINTR { continue }
                let failure = LogError(.io, "cannot read: \(String(cString: strerror(errno)))", location: name)
                try store()
                throw failure
            }
            if read == 0 { break }
            pending += block[..<read]
            while let newline = pending[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                ends.append(newline + 1)
                scanned = newline + 1
                if ends.count == lines { try hand(ends[lines - 1]) }
            }
            scanned = pending.count
            // A line that never ends would hold ever more memory: it is refused once too long.
            if pending.count - (ends.last ?? 0) > maxLineBytes + 1 {
                try store()
                throw LogError(
                    .invalidEnvelope, "line is over \(maxLineBytes) bytes, the limit", location: "line \(firstLine + ends.count)",
                    fieldPath: "")
            }
        }
        if !pending.isEmpty || !handed { try hand(pending.count) }
        try store()
    }

    /// A piece of a longer input being parsed on another thread (`forEachPiece`).
    private final class PieceParse: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Result<EnvelopeBatch, LogError>?
        /// The text until the parse takes it: the only reference, so that the batch keeps its
        /// storage without a copy.
        private var text: [UInt8]

        init(_ text: consuming [UInt8], catalog: Catalog?, firstLine: Int) {
            self.text = text
            DispatchQueue.global().async { [self] in
                var input: [UInt8] = []
                swap(&input, &self.text)
                do throws(LogError) {
                    result = .success(try parse(ndjson: input, catalog: catalog, firstLine: firstLine))
                } catch {
                    result = .failure(error)
                }
                done.signal()
            }
        }

        /// The piece, parsed, once it is; what parsing it threw.
        func batch() throws(LogError) -> EnvelopeBatch {
            done.wait()
            return try result!.get()
        }
    }

    /// Line ranges without their "\n" (or "\r\n"); a final newline does not start a line.
    static func splitLines(_ input: [UInt8]) -> [Range<Int>] {
        input.withUnsafeBytes { bytes in
            bytes.lineRanges().map { line in
                line.isEmpty || bytes[line.upperBound - 1] != UInt8(ascii: "\r") ? line : line.lowerBound..<(line.upperBound - 1)
            }
        }
    }

    /// Validates every line (two workers for large inputs), writing each line's canonical form over the line
    /// itself (it is never longer), so the batch keeps the input's storage. A worker's first
    /// line is written back only after every worker is done, because the worker before it
    /// reads past its own last line into that one (the parser's padding).
    private static func parse(inPlace text: consuming [UInt8], lines: [Range<Int>], catalog: Catalog?, firstLine: Int) throws(LogError)
        -> EnvelopeBatch
    {
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
                        out[worker] = parseSlice(
                            bytes, lines[part], into: UnsafeMutableBufferPointer(rebasing: events[part]), catalog: catalog,
                            firstLine: firstLine)
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
        catalog: Catalog?, firstLine: Int
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
            let lineNumber = firstLine + index
            if range.isEmpty || text[range].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                return .failure(
                    LogError(.invalidEnvelope, "empty line; every line must hold one event", location: "line \(lineNumber)", fieldPath: ""))
            }
            if range.count > maxLineBytes {
                return .failure(
                    LogError(
                        .invalidEnvelope, "line is \(range.count) bytes; the limit is \(maxLineBytes) bytes",
                        location: "line \(lineNumber)", fieldPath: ""))
            }
            let isFirst = slot == 0
            if isFirst { firstBody = [UInt8](repeating: 0, count: range.count) }
            let rc = firstBody.withUnsafeMutableBufferPointer { held in
                hs_parse_envelope(
                    parser, catalog?.handle, base + range.lowerBound, range.count,
                    isFirst ? held.baseAddress! : base + range.lowerBound, &envelope, &error)
            }
            if rc != 0 { return .failure(refusal(rc, &error, line: lineNumber)) }
            if isFirst { firstBody.removeLast(range.count - envelope.minified_length) }
            (out.baseAddress! + slot).initialize(
                to: ParsedEnvelope(
                    bodyStart: range.lowerBound, bodyLength: envelope.minified_length,
                    streamOffset: envelope.stream_offset, streamLength: envelope.stream_length, streamHash: envelope.stream_hash,
                    id: EventID(envelope.event_id), occurredAt: envelope.occurred_at_ms, line: lineNumber,
                    schema: envelope.schema_index, personal: envelope.personal != 0))
        }
        return .success(firstBody)
    }

    /// The error for a refused line, with the code that says which kind of rule it broke.
    private static func refusal(_ kind: Int32, _ error: inout hs_error, line: Int) -> LogError {
        let code: LogError.Code =
            switch UInt32(kind) {
            case HS_ERR_SCHEMA.rawValue: .schemaViolation
            case HS_ERR_SECRET.rawValue: .secretInPayload
            case HS_ERR_UNKNOWN_TYPE.rawValue: .unknownType
            default: .invalidEnvelope
            }
        let type = cString(&error.type)
        return LogError(
            code, cString(&error.message), location: "line \(line)", fieldPath: cString(&error.path),
            rule: cString(&error.rule), eventType: type.isEmpty ? nil : type)
    }
}
