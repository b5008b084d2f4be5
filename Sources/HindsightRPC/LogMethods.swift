import HindsightCatalog
import HindsightEngine
public import HindsightCore
import HindsightLog

/// The log's methods (QUERIES.md): append, read, verify, stats, and erasure of personal data.
enum LogMethods {
    static let all: [RPCMethod] = [append, read, verify, stats, erase]

    static let append = RPCMethod(
        name: "log.append", params: "events: [envelope], expectedVersions?: {stream: n | \"none\" | \"any\"}",
        result: "firstSeq, lastSeq, count, retry?, position",
        summary: "Appends the events as one all-or-nothing batch, once durable.", writes: true
    ) { call throws(RPCError) in
        try call.params.only(["events", "expectedVersions"])
        guard case .array(let events)? = call.params.values["events"], !events.isEmpty else {
            throw RPCError.params("events must be a non-empty array of envelopes", path: "/params/events")
        }
        var expected: [String: ExpectedVersion] = [:]
        if let value = call.params.values["expectedVersions"], value != .null {
            guard case .object(let streams) = value else {
                throw RPCError.params("expectedVersions must be an object {stream: n | \"none\" | \"any\"}", path: "/params/expectedVersions")
            }
            for (stream, version) in streams {
                switch version {
                case .integer(let n) where n >= 0: expected[stream] = n == 0 ? .noStream : .exactly(UInt64(n))
                case .string("none"): expected[stream] = .noStream
                case .string("any"): expected[stream] = .any
                default: throw RPCError.params("an expected version is a non-negative integer, \"none\" or \"any\"", path: "/params/expectedVersions/\(stream)")
                }
            }
        }
        // The events exactly as the producer sent them (the request's parser keeps their
        // text), one per line, for the engine to check.
        var ndjson: [UInt8] = []
        ndjson.reserveCapacity(call.rawParams?.count ?? 0)
        for (index, event) in events.enumerated() {
            guard case .raw(let text) = event else { throw RPCError.params("events must be envelopes as JSON text", path: "/params/events/\(index)") }
            if index > 0 { ndjson.append(UInt8(ascii: "\n")) }
            ndjson += text
        }
        let engine = try call.store.writer()
        do throws(LogError) {
            let batch = try engine.parse(ndjson: consume ndjson)
            let result = try engine.append(batch, expectedVersions: expected)[0]
            var out: [String: JSONValue] = [
                "firstSeq": .integer(Int64(result.firstSeq)), "lastSeq": .integer(Int64(result.lastSeq)),
                "count": .integer(Int64(result.count)), "position": .integer(Int64(engine.size)),
            ]
            if result.isRetry { out["retry"] = true }
            return out
        } catch {
            throw RPCError(error, events: true)
        }
    }

    static let read = RPCMethod(
        name: "log.read", params: "from?, to?, limit? (100, at most 10000), types?, stream?, org?, upcast?, at?",
        result: "events, next (the seq to read from next, or null), position",
        summary: "Events in seq order, personal data shown as readers see it.", writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["from", "to", "limit", "types", "stream", "org", "upcast", "at"])
        var query = ReadQuery()
        query.from = UInt64(try p.integer("from", in: 1...Int64.max) ?? 1)
        query.to = UInt64(try p.integer("to", in: 1...Int64.max) ?? Int64.max)
        guard query.from <= query.to else { throw RPCError.params("from must not be after to", path: "/params/from") }
        let limit = Int(try p.integer("limit", in: 1...10_000) ?? 100)
        query.limit = limit + 1  // one more, to know where the next page starts
        query.types = try p.eventTypes("types", in: call.store.catalog).map(Set.init)
        query.stream = try p.string("stream")
        query.org = try p.string("org")
        switch try p.at() {
        case .seq(let seq)?: query.to = min(query.to, seq)
        case .time(let ms)?: query.occurredTo = ms
        case nil: break
        }
        let upcast: Bool
        switch p.values["upcast"] {
        case nil, .null?: upcast = false
        case .bool(let value)?: upcast = value
        default: throw RPCError.params("upcast must be a boolean", path: "/params/upcast")
        }
        let reader = try call.store.reader()
        let source = try call.store.source()
        var events: [JSONValue] = []
        var next: JSONValue = .null
        do {
            try reader.read(query) { event in
                if events.count == limit {
                    next = .integer(Int64(event.seq))
                    return false
                }
                events.append(.raw(Array(source.present(event, upcast: upcast).line)))
                return true
            }
        } catch let error as LogError {
            throw RPCError(error)
        } catch {
            throw RPCError(1009, "cannot read the log: \(error)", data: ["kind": "io_error"])
        }
        return ["events": .array(events), "next": next, "position": .integer(Int64(reader.size))]
    }

    static let verify = RPCMethod(
        name: "log.verify", params: "from?, to? (the whole log is always verified: each tree head covers every earlier event)",
        result: "ok, checked, head: {seq, hash} | ok: false, firstBad: {seq, reason}; position",
        summary: "Checks every checksum, seq and Merkle root.", writes: false
    ) { call throws(RPCError) in
        try call.params.only(["from", "to"])
        _ = try call.params.integer("from")
        _ = try call.params.integer("to")
        let reader = try call.store.reader()
        let report = reader.verify()
        var out: [String: JSONValue] = ["ok": .bool(report.ok), "checked": .integer(Int64(report.checked)), "position": .integer(Int64(reader.size))]
        if let bad = report.firstBad {
            out["firstBad"] = ["seq": .integer(Int64(bad.seq)), "reason": .string(bad.reason)]
        } else {
            out["head"] = ["seq": .integer(Int64(report.size)), "hash": .string(report.root.hex)]
        }
        return out
    }

    static let stats = RPCMethod(
        name: "log.stats", params: "", result: "events, bytes, storedBytes, ratio, segments, head: {seq, hash}, position",
        summary: "The log's size and tree head.", writes: false
    ) { call throws(RPCError) in
        try call.params.only([])
        let reader = try call.store.reader()
        let stats: LogStats
        do throws(LogError) {
            stats = try reader.stats()
        } catch {
            throw RPCError(error)
        }
        return [
            "events": .integer(Int64(stats.events)), "bytes": .integer(Int64(stats.rawBytes)),
            "storedBytes": .integer(Int64(stats.storedBytes)), "ratio": .number(stats.ratio),
            "segments": .integer(Int64(stats.segments)),
            "head": ["seq": .integer(Int64(stats.head.size)), "hash": .string(stats.head.root.hex)],
            "position": .integer(Int64(stats.events)),
        ]
    }

    static let erase = RPCMethod(
        name: "privacy.erase", params: "person (usr_… or an e-mail address), actor?",
        result: "person, keysDestroyed, fieldsErased, recorded (seqs of person.erased), position",
        summary: "Makes a person's personal data unreadable everywhere; the log still verifies.", writes: true
    ) { call throws(RPCError) in
        try call.params.only(["person", "actor"])
        let person = try call.params.required("person", call.params.string("person"))
        let actor = try call.params.string("actor") ?? "hindsight"
        let engine = try call.store.writer()
        do throws(LogError) {
            let report = try engine.erase(person, actor: actor)
            return [
                "person": .string(report.person), "keysDestroyed": .integer(Int64(report.keysDestroyed)),
                "fieldsErased": .integer(Int64(report.fieldsErased)),
                "recorded": .array(report.recorded.map { .integer(Int64($0)) }), "position": .integer(Int64(engine.size)),
            ]
        } catch {
            throw RPCError(error)
        }
    }
}
