public import HindsightCore
public import HindsightQuery

/// A JSON-RPC error: the protocol's own codes, or the engine's (from 1000) with a stable
/// `data.kind` and, for bad input, `data.path` (QUERIES.md, Errors).
public struct RPCError: Error, Sendable {
    public let code: Int
    public let message: String
    public let data: JSONValue?

    public static let parseError = -32700
    public static let invalidRequest = -32600
    public static let methodNotFound = -32601
    public static let invalidParams = -32602

    public init(_ code: Int, _ message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// The engine names a request's field by its own name (`/person`); a response points into
    /// the request (`/params/person`).
    private static func inParams(_ path: String) -> String {
        path.hasPrefix("/params/") ? path : "/params" + path
    }

    /// Bad parameters, with a JSON Pointer into the request's `params`.
    static func params(_ message: String, path: String) -> RPCError {
        RPCError(invalidParams, message, data: ["kind": "invalid_params", "path": .string(path)])
    }

    /// The query service's refusal, in JSON-RPC's terms.
    public init(_ error: QueryError) {
        switch error {
        case .invalidParams(let message, let path): self = .params(message, path: path)
        case .methodNotFound: self.init(Self.methodNotFound, error.message)
        case .engine(let error): self.init(error)
        case .events(let error): self.init(error, events: true)
        }
    }

    /// The engine's error codes, one per kind of `LogError`, stable for tools to match on.
    static let engineCodes: [LogError.Code: Int] = [
        .invalidEnvelope: 1001, .schemaViolation: 1002, .secretInPayload: 1003, .unknownType: 1004,
        .wrongExpectedVersion: 1005, .idempotencyConflict: 1006, .logCorrupt: 1007, .writerLocked: 1008,
        .io: 1009, .noLog: 1010, .outOfRange: 1011, .signingKey: 1012, .pathRefused: 1013, .readModelDamaged: 1014,
    ]

    /// An engine error; `events` says the request's events were parsed as NDJSON lines, so a
    /// line number is reported as the index in `params.events`.
    init(_ error: LogError, events: Bool = false) {
        var data: [String: JSONValue] = ["kind": .string(error.code.rawValue)]
        var message = error.message
        if let location = error.location {
            if events, location.hasPrefix("line "), let line = Int(location.dropFirst(5)) {
                data["index"] = .integer(Int64(line - 1))
                if let path = error.fieldPath { data["path"] = .string("/params/events/\(line - 1)\(path)") }
                message = "events[\(line - 1)]\(error.eventType.map { " (\($0))" } ?? ""): \(message)"
            } else {
                data["location"] = .string(location)
                if let path = error.fieldPath { data["path"] = .string(Self.inParams(path)) }
            }
        } else if let path = error.fieldPath {
            data["path"] = .string(Self.inParams(path))
        }
        if let rule = error.rule, !rule.isEmpty { data["rule"] = .string(rule) }
        if let type = error.eventType { data["type"] = .string(type) }
        self.init(Self.engineCodes[error.code] ?? 1000, message, data: .object(data))
    }
}

/// Answers JSON-RPC 2.0 requests, one JSON text at a time: single requests, batches and
/// notifications as the specification says. A bad request gets an error response and never
/// changes stored data; nothing here ends the process.
public final class RPCServer: Sendable {
    let service: QueryService

    /// Answers with `service`: its engine (if any) is the writer, its export policy says
    /// where exports may go.
    public init(_ service: QueryService) {
        self.service = service
    }

    /// The response to one JSON text (a request or a batch), or nil when nothing is to be
    /// sent back (notifications only). Text that is not JSON gets a parse error with a null
    /// `id`; a request whose text is JSON but cannot be read whole (`JSONParser`'s problems)
    /// gets an error with its own `id` saying what is wrong and where.
    public func respond(to text: [UInt8]) -> [UInt8]? {
        let document: JSONParser.Document
        do {
            document = try JSONParser.parse(text)
        } catch {
            return Self.error(
                RPCError(
                    RPCError.parseError, "parse error: the request is not valid JSON (byte \(error.offset): \(error.message))",
                    data: ["kind": "parse_error", "offset": .integer(Int64(error.offset))]), id: .null)
        }
        guard case .array(let items) = document.value else {
            return respond(to: document.value, problem: document.problems.first, spans: document.spans.filter { $0.level == 1 }, text: text)
        }
        guard !items.isEmpty else { return Self.error(RPCError(RPCError.invalidRequest, "invalid request: an empty batch"), id: .null) }
        // Each request's members end before it does.
        var members: [[JSONParser.Span]] = []
        var current: [JSONParser.Span] = []
        for span in document.spans {
            if span.level == 2 {
                current.append(span)
            } else {
                members.append(current)
                current.removeAll()
            }
        }
        var problems: [Int: JSONParser.Problem] = [:]
        for problem in document.problems {
            if case .index(let index)? = problem.path.first { problems[index] = problem.inner }
        }
        let responses = items.indices.compactMap { respond(to: items[$0], problem: problems[$0], spans: members[$0], text: text) }
        guard !responses.isEmpty else { return nil }
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (index, response) in responses.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += response
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The response to one request; `spans` are where its members lie in `text`.
    private func respond(to request: JSONValue, problem: JSONParser.Problem?, spans: [JSONParser.Span], text: [UInt8]) -> [UInt8]? {
        guard case .object(let members) = request else {
            return Self.error(RPCError(RPCError.invalidRequest, "invalid request: a request is a JSON object"), id: .null)
        }
        let pointer = problem.map { JSONParser.Problem.pointer($0.path) } ?? ""
        if let problem, problem.path.first == .key("id") {
            return Self.error(
                RPCError(
                    RPCError.invalidRequest, "invalid request: \(problem.message)",
                    data: ["kind": "invalid_request", "path": .string(pointer)]),
                id: .null)
        }
        let id = members["id"]
        let replyID: JSONValue
        switch id {
        case nil, .null?: replyID = .null
        case .string(let value)?: replyID = .string(value)
        case .integer?, .number?:
            // A number goes back as it was written: 12345678901234567890 is no Int64, and a
            // Double would round it.
            replyID = spans.last(where: { $0.key == "id" }).map { .raw(Array(text[$0.range])) } ?? id!
        default: return Self.error(RPCError(RPCError.invalidRequest, "invalid request: id must be a string, a number or null"), id: .null)
        }
        if let problem, problem.location.first != .key("params") {
            return Self.error(
                RPCError(
                    RPCError.invalidRequest, "invalid request: \(problem.message)",
                    data: ["kind": "invalid_request", "path": .string(pointer)]),
                id: replyID)
        }
        guard members["jsonrpc"] == .string("2.0") else {
            return Self.error(RPCError(RPCError.invalidRequest, "invalid request: jsonrpc must be \"2.0\""), id: replyID)
        }
        guard case .string(let name)? = members["method"] else {
            return Self.error(RPCError(RPCError.invalidRequest, "invalid request: method must be a string"), id: replyID)
        }
        let isNotification = id == nil
        let outcome = Result { () throws(RPCError) -> JSONValue in
            if let problem {
                guard QueryService.methods.contains(where: { $0.name == name }) else { throw RPCError(.methodNotFound(name)) }
                throw RPCError.params(problem.message, path: pointer)
            }
            let params: [String: JSONValue]
            switch members["params"] {
            case nil: params = [:]
            case .object(let values)?: params = values
            default:
                guard QueryService.methods.contains(where: { $0.name == name }) else { throw RPCError(.methodNotFound(name)) }
                throw RPCError.params("params must be an object of named parameters", path: "/params")
            }
            do throws(QueryError) {
                return try service.call(name, params)
            } catch {
                throw RPCError(error)
            }
        }
        if isNotification { return nil }
        switch outcome {
        case .success(let result): return Self.envelope(id: replyID, key: "result", value: result)
        case .failure(let error): return Self.error(error, id: replyID)
        }
    }

    /// Hands `send` the `log.event` notifications the connection's subscriptions are due,
    /// `{"subscription": ID, "event": EVENT}`, each event as readers see it; called after each
    /// request, since in `serve` only a request appends. False when `send` was refused.
    public func notifications(_ send: ([UInt8]) -> Bool) -> Bool {
        do {
            return try service.dueEvents { subscription, event in
                var out = Array(#"{"jsonrpc":"2.0","method":"log.event","params":{"subscription":"#.utf8)
                JSONValue.string(subscription).write(to: &out)
                out += Array(#","event":"#.utf8) + event.line + Array("}}".utf8)
                return send(out)
            }
        } catch {
            // Reading the log failed: the next request's answer names why.
            return true
        }
    }

    static func error(_ error: RPCError, id: JSONValue) -> [UInt8] {
        var body: [String: JSONValue] = ["code": .integer(Int64(error.code)), "message": .string(error.message)]
        if let data = error.data { body["data"] = data }
        return envelope(id: id, key: "error", value: .object(body))
    }

    private static func envelope(id: JSONValue, key: String, value: JSONValue) -> [UInt8] {
        var out = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
        id.write(to: &out)
        out += Array(",\"\(key)\":".utf8)
        value.write(to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
