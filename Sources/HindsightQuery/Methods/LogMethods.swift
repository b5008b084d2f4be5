public import HindsightCore
public import HindsightEngine
public import HindsightLog

/// The log's methods (QUERIES.md): append, read, verify, stats, and erasure of personal data.
enum LogMethods {
    static let all = [
        MethodDescription(writing: Append.self), MethodDescription(reading: Read.self), MethodDescription(reading: Verify.self),
        MethodDescription(reading: Stats.self), MethodDescription(writing: Erase.self),
    ]
}

/// `log.append`: the events as one all-or-nothing batch, acknowledged once durable.
public enum Append: WritingMethod {
    public static let name = "log.append"
    public static let summary = "Appends the events as one all-or-nothing batch, once durable."

    public struct Params: QueryParams {
        /// The events as NDJSON, exactly as the producer wrote them (the engine checks them).
        public var ndjson: [UInt8]
        public var expectedVersions: [String: ExpectedVersion]

        public init(ndjson: [UInt8], expectedVersions: [String: ExpectedVersion] = [:]) {
            self.ndjson = ndjson
            self.expectedVersions = expectedVersions
        }

        public static let parameters = [
            Parameter("events", .array(.anyObject(), "Envelopes as EVENTS.md describes them, appended in this order."), required: true),
            Parameter(
                "expectedVersions",
                .map(
                    .anyOf(
                        [.integer(0...Int64.max), .oneOf(["none", "any"])],
                        "A stream's last streamVersion (0 or \"none\": the stream must not exist yet), or \"any\"."),
                    "For each stream named, the version it must be at, or the batch is refused.")),
        ]

        public init(_ p: Parameters) throws(QueryError) {
            guard case .array(let events)? = p["events"], !events.isEmpty else {
                throw .params("events must be a non-empty array of envelopes", at: "/events")
            }
            var expected: [String: ExpectedVersion] = [:]
            if let value = p["expectedVersions"] {
                guard case .object(let streams) = value else {
                    throw .params("expectedVersions must be an object {stream: n | \"none\" | \"any\"}", at: "/expectedVersions")
                }
                for (stream, version) in streams {
                    switch version {
                    case .integer(let n) where n >= 0: expected[stream] = n == 0 ? .noStream : .exactly(UInt64(n))
                    case .string("none"): expected[stream] = .noStream
                    case .string("any"): expected[stream] = .any
                    default:
                        throw .params(
                            "an expected version is a non-negative integer, \"none\" or \"any\"", at: "/expectedVersions/\(stream)")
                    }
                }
            }
            // The events exactly as the producer sent them (the request's parser keeps their
            // text), one per line, for the engine to check.
            var ndjson: [UInt8] = []
            for (index, event) in events.enumerated() {
                guard case .raw(let text) = event else { throw .params("events must be envelopes as JSON text", at: "/events/\(index)") }
                if index > 0 { ndjson.append(UInt8(ascii: "\n")) }
                ndjson += text
            }
            self.init(ndjson: ndjson, expectedVersions: expected)
        }
    }

    public struct Answer: QueryAnswer {
        public let result: AppendResult
        public let position: UInt64?
        public var members: [String: JSONValue] {
            var out: [String: JSONValue] = [
                "firstSeq": .integer(Int64(result.firstSeq)), "lastSeq": .integer(Int64(result.lastSeq)),
                "count": .integer(Int64(result.count)),
            ]
            if result.isRetry { out["retry"] = true }
            return out
        }
        public static let schema = Schema.object(
            [
                "firstSeq": .integer(), "lastSeq": .integer(), "count": .integer(),
                "retry": .boolean("Present (true) when every event had been appended before: the positions are the original ones."),
            ], optional: ["retry"])
    }

    public static func perform(_ params: Params, with writing: Writing) throws(QueryError) -> Answer {
        let engine = try writing.engine()
        do throws(LogError) {
            let batch = try engine.parse(ndjson: params.ndjson)
            let result = try engine.append(batch, expectedVersions: params.expectedVersions)
            return Answer(result: result, position: engine.size)
        } catch {
            throw .events(error)
        }
    }
}

/// `log.read`: events in seq order, personal data shown as readers see it.
public enum Read: ReadingMethod {
    public static let name = "log.read"
    public static let summary = "Events in seq order, personal data shown as readers see it."
    public static let models: [String] = []

    public struct Params: QueryParams {
        public var query: ReadQuery
        /// Events per page.
        public var limit: Int
        public var upcast: Bool
        public var at: LogPosition?

        public static let parameters = [
            Parameter("from", .integer(1...Int64.max, "The first seq (default 1).")),
            Parameter("to", .integer(1...Int64.max, "The last seq.")),
            Parameter("limit", .integer(1...10_000, "Events per page (default 100).")),
            Parameter("types", .array(.string(), "Only these event types.")),
            Parameter("stream", .string("Only this stream.")),
            Parameter("org", .string("Only this org.")),
            Parameter("upcast", .boolean("Each event as the newest version of its type.")),
            Parameter("at", .position("The log as it stood then: up to that seq, or the events that occurred by that time.")),
        ]

        public init(_ p: Parameters) throws(QueryError) {
            var query = ReadQuery()
            query.from = UInt64(try p.integer("from", in: 1...Int64.max) ?? 1)
            query.to = UInt64(try p.integer("to", in: 1...Int64.max) ?? Int64.max)
            guard query.from <= query.to else { throw .params("from must not be after to", at: "/from") }
            limit = Int(try p.integer("limit", in: 1...10_000) ?? 100)
            query.types = try p.eventTypes("types").map(Set.init)
            query.stream = try p.string("stream")
            query.org = try p.string("org")
            self.query = query
            at = try p.position("at")
            upcast = try p.bool("upcast") ?? false
        }
    }

    public struct Answer: QueryAnswer {
        /// The events, each as stored, with personal data as readers see it.
        public let events: [StoredEvent]
        /// The seq to read from next, nil after the last page.
        public let next: UInt64?
        public let position: UInt64?
        public var members: [String: JSONValue] {
            ["events": .array(events.map { .raw(Array($0.line)) }), "next": next.map { .integer(Int64($0)) } ?? .null]
        }
        public static let schema = Schema.object([
            "events": .array(.anyObject("An event as EVENTS.md describes it.")),
            "next": .nullable(.integer(1...Int64.max, "The seq to read from next; null after the last page.")),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        var query = params.query
        query.limit = params.limit + 1  // one more, to know where the next page starts
        switch params.at {
        case .seq(let seq)?: query.to = min(query.to, seq)
        case .time(let ms)?: query.occurredTo = ms
        case nil: break
        }
        let reader = try reading.reader()
        let source = try reading.source()
        var events: [StoredEvent] = []
        var next: UInt64?
        try engine { () throws(LogError) in
            try reader.read(query) { (event: StoredEvent) throws(LogError) in
                if events.count == params.limit {
                    next = event.seq
                    return false
                }
                events.append(source.present(event, upcast: params.upcast))
                return true
            }
        }
        return Answer(events: events, next: next, position: reader.size)
    }
}

/// `log.verify`: every checksum, seq and Merkle root checked.
public enum Verify: ReadingMethod {
    public static let name = "log.verify"
    public static let summary = "Checks every checksum, seq and Merkle root."
    public static let models: [String] = []

    public struct Params: QueryParams {
        public init() {}
        public static let parameters = [
            Parameter(
                "from",
                .integer(
                    0...Int64.max,
                    "Accepted for compatibility: the whole log is always verified, since each tree head covers every earlier event.")),
            Parameter("to", .integer(0...Int64.max, "As from.")),
        ]
        public init(_ p: Parameters) throws(QueryError) {
            _ = try p.integer("from")
            _ = try p.integer("to")
        }
    }

    public struct Answer: QueryAnswer {
        public let report: VerifyReport
        public let position: UInt64?
        public var members: [String: JSONValue] {
            var out: [String: JSONValue] = ["ok": .bool(report.ok), "checked": .integer(Int64(report.checked))]
            if let bad = report.firstBad {
                out["firstBad"] = ["seq": .integer(Int64(bad.seq)), "reason": .string(bad.reason)]
            } else {
                out["head"] = ["seq": .integer(Int64(report.size)), "hash": .string(report.root.hex)]
            }
            return out
        }
        public static let schema = Schema.object(
            [
                "ok": .boolean(), "checked": .integer(),
                "head": .object(["seq": .integer(), "hash": .string("The Merkle root, hex.")], "The verified tree head (when ok)."),
                "firstBad": .object(
                    ["seq": .integer(), "reason": .string()], "The first seq that cannot be trusted, and why (when not ok)."),
            ], optional: ["head", "firstBad"])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let reader = try reading.reader()
        return Answer(report: reader.verify(), position: reader.size)
    }
}

/// `log.stats`: the log's size and tree head, now or as it stood at a moment.
public enum Stats: ReadingMethod {
    public static let name = "log.stats"
    public static let summary = "The log's size and tree head, now or as it stood at a seq or a time."
    public static let models: [String] = []

    public struct Params: QueryParams {
        public var at: LogPosition?
        public init(at: LogPosition? = nil) { self.at = at }
        public static let parameters = [
            Parameter(
                "at", .position("The log as it stood after that seq, or after the last event appended by that time (its recordedAt)."))
        ]
        public init(_ p: Parameters) throws(QueryError) { at = try p.position("at") }
    }

    public struct Answer: QueryAnswer {
        public let stats: LogStats
        public var position: UInt64? { stats.head.size }
        public var members: [String: JSONValue] {
            [
                "events": .integer(Int64(stats.events)), "bytes": .integer(Int64(stats.rawBytes)),
                "storedBytes": .integer(Int64(stats.storedBytes)),
                "ratio": .number(stats.ratio), "segments": .integer(Int64(stats.segments)),
                "head": ["seq": .integer(Int64(stats.head.size)), "hash": .string(stats.head.root.hex)],
            ]
        }
        public static let schema = Schema.object([
            "events": .integer(nil, "Events in the log (up to the moment asked)."),
            "bytes": .integer(nil, "Bytes of stored NDJSON (what lz4 -dc prints)."),
            "storedBytes": .integer(nil, "Bytes of the log's files (now, whatever the moment asked)."), "ratio": .number(),
            "segments": .integer(), "head": .object(["seq": .integer(), "hash": .string("The Merkle root, hex.")]),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let reader = try reading.reader()
        return Answer(stats: try engine { () throws(LogError) in try reader.stats(at: params.at) })
    }
}

/// `privacy.erase`: a person's personal data made unreadable everywhere.
public enum Erase: WritingMethod {
    public static let name = "privacy.erase"
    public static let summary = "Makes a person's personal data unreadable everywhere; the log still verifies."

    public struct Params: QueryParams {
        public var person: String
        public var actor: String
        public static let parameters = [
            Parameter("person", .string("A user id (usr_…) or an e-mail address."), required: true),
            Parameter(
                "actor",
                .string(
                    "Who asked, the actor of person.erased: a user (usr_…) or token (tok_…) as such, anything else as a system (default hindsight)."
                )),
        ]
        public init(_ p: Parameters) throws(QueryError) {
            person = try p.required("person")
            actor = try p.string("actor") ?? "hindsight"
        }
    }

    public struct Answer: QueryAnswer {
        public let report: ErasureReport
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "person": .string(report.person), "keysDestroyed": .integer(Int64(report.keysDestroyed)),
                "fieldsErased": .integer(Int64(report.fieldsErased)), "recorded": .array(report.recorded.map { .integer(Int64($0)) }),
            ]
        }
        public static let schema = Schema.object([
            "person": .string("As person.erased names them: the user id, or the keyed digest of the e-mail."),
            "keysDestroyed": .integer(), "fieldsErased": .integer(), "recorded": .array(.integer(), "Seqs of the person.erased events."),
        ])
    }

    public static func perform(_ params: Params, with writing: Writing) throws(QueryError) -> Answer {
        let engine = try writing.engine()
        let report = try HindsightQuery.engine { () throws(LogError) in try engine.erase(params.person, actor: params.actor) }
        return Answer(report: report, position: engine.size)
    }
}
