internal import CShim

/// What the writer must remember of a stored event.
package struct StoredIdentity: Sendable {
    package let stream: StreamKey
    package let version: UInt64
    package let id: EventID?
}

/// Reads the engine's fields out of stored lines; one per thread.
package final class StoredLineParser {
    private let parser: OpaquePointer
    private var stored = hs_stored()
    private var error = hs_error()

    package init() throws(LogError) {
        guard let parser = hs_parser_create() else { throw LogError(.io, "cannot allocate a JSON parser") }
        self.parser = parser
    }

    deinit { hs_parser_destroy(parser) }

    /// Parses one stored line, which must lie inside a decompressed chunk: the chunk's text is
    /// followed by `StoredLine.padding` readable bytes, which the parser may read past it.
    package func parse(_ line: ArraySlice<UInt8>) throws(LogError) -> StoredEvent {
        try line.withUnsafeBytes { bytes in Result { () throws(LogError) in try run(bytes) } }.get()
        return StoredEvent(
            seq: stored.seq, streamVersion: stored.stream_version, type: cString(&stored.type),
            stream: cString(&stored.stream), org: cString(&stored.org),
            actorKind: cString(&stored.actor_kind), actorID: cString(&stored.actor_id),
            occurredAtMs: stored.occurred_at_ms, schemaVersion: Int(stored.schema_version), line: line)
    }

    /// What the writer must remember of a stored line (within a chunk, as for `parse`).
    package func identity(_ line: UnsafeRawBufferPointer) throws(LogError) -> StoredIdentity {
        try run(line)
        return StoredIdentity(
            stream: StreamKey(name: cString(&stored.stream), hash: stored.stream_hash),
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
        let padded = line + [UInt8](repeating: 0x20, count: StoredLine.padding)
        let parser = try StoredLineParser()
        self = try parser.parse(padded[0..<line.count])
    }
}

/// A C `char[N]` field as a Swift string.
package func cString<T>(_ field: inout T) -> String {
    withUnsafeBytes(of: &field) { raw in
        String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
    }
}

/// Lets a worker closure write its own slot of a buffer that outlives it.
public struct UnsafeSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
