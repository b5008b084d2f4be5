import Foundation

/// One stored event as a reader hands it out: the engine's fields, parsed, and the stored
/// line exactly as it is hashed into the Merkle tree.
public struct StoredEvent: Sendable {
    public let seq: UInt64
    public let streamVersion: UInt64
    public let type: String
    public let stream: String
    public let org: String
    /// The actor's kind (user, token, system) and id.
    public let actorKind: String
    public let actorID: String
    /// `occurredAt` in milliseconds since the Unix epoch.
    public let occurredAtMs: Int64
    /// The version of the type's schema the event was written in (1 when the line has none).
    public let schemaVersion: Int
    /// The event's `id`, read from the line when asked: few readers need it, and making a
    /// string of it for every event read cost an allocation each.
    public var id: String? { stringMember("id") }

    /// The event's `correlationId`, read from the line when asked (as `id`); most events have
    /// none, and a line without the name is passed over without parsing it.
    public var correlationID: String? {
        StoredLine.firstIndex(of: Array(#""correlationId""#.utf8), in: line) == nil ? nil : stringMember("correlationId")
    }

    /// A top-level string member of the line.
    private func stringMember(_ name: String) -> String? {
        let text = Array(line)
        guard let value = JSONText.member(name, of: 0..<text.count, in: text), text[value].first == UInt8(ascii: "\"") else { return nil }
        return StoredLine.decodedString(text[(value.lowerBound + 1)..<(value.upperBound - 1)])
    }

    /// The stored NDJSON line, without its newline: a slice of the decompressed chunk it was
    /// read from (or of its own copy), so that reading many events copies no lines.
    public let line: ArraySlice<UInt8>

    /// Where `line` starts in the log's content (the NDJSON of every chunk, in seq order),
    /// when the event was read from the log: with it, `LogReader.lines(at:)` reads the line
    /// again by itself. Compaction joins chunks but keeps their content, so the offset stays
    /// valid for the log's life. Nil for an event whose line was rewritten on reading
    /// (upcast, personal data revealed).
    public package(set) var contentOffset: UInt64?

    package init(
        seq: UInt64, streamVersion: UInt64, type: String, stream: String, org: String, actorKind: String, actorID: String,
        occurredAtMs: Int64, schemaVersion: Int, line: ArraySlice<UInt8>
    ) {
        self.seq = seq
        self.streamVersion = streamVersion
        self.type = type
        self.stream = stream
        self.org = org
        self.actorKind = actorKind
        self.actorID = actorID
        self.occurredAtMs = occurredAtMs
        self.schemaVersion = schemaVersion
        self.line = line
    }
}

/// What a reader may filter on; every filter is optional and they combine with AND.
public struct ReadQuery: Sendable {
    public var from: UInt64 = 1
    public var to: UInt64 = .max
    public var stream: String?
    public var types: Set<String>?
    public var org: String?
    /// `occurredAt` bounds in milliseconds, inclusive.
    public var occurredFrom: Int64?
    public var occurredTo: Int64?
    public var limit: Int = .max

    public init() {}

    /// Whether a stored event passes every filter but the limit.
    package func matches(_ event: StoredEvent) -> Bool {
        from <= event.seq && event.seq <= to
            && stream.map { event.stream == $0 } ?? true
            && types.map { $0.contains(event.type) } ?? true
            && org.map { event.org == $0 } ?? true
            && occurredFrom.map { event.occurredAtMs >= $0 } ?? true
            && occurredTo.map { event.occurredAtMs <= $0 } ?? true
    }
}
