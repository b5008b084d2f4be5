import Foundation
import HindsightCore
public import HindsightQuery
import HindsightRPC
import MCP

/// The query service as a Model Context Protocol server over standard input and output
/// (`hindsight mcp`): each method of `system.methods` a tool, named with `_` for `.`
/// (`rbac.check` is `rbac_check`, as every client accepts), whose input schema is the method's
/// own JSON Schema and whose result is the method's JSON answer, personal data as readers see
/// it. A method that writes is a tool only when the server is started to allow it.
public enum MCPServer {
    /// The tool a method is, and back.
    static func toolName(_ method: String) -> String { method.replacingOccurrences(of: ".", with: "_") }

    /// Methods whose answers come as notifications on the connection, which a tool's single
    /// result cannot carry.
    static let notifying: Set<String> = ["log.subscribe", "log.unsubscribe"]

    /// The methods offered as tools: the reading ones, and the writing ones if `writes`.
    public static func methods(writes: Bool) -> [MethodDescription] {
        QueryService.methods.filter { (writes || !$0.writes) && !notifying.contains($0.name) }
    }

    /// The version of the tools offered, which clients see in `initialize`: it changes when a
    /// tool's name or schema changes in a way a client would notice.
    static let version = "1.0.0"

    /// Serves until the client closes standard input.
    public static func run(_ service: QueryService, writes: Bool) async throws {
        let offered = methods(writes: writes)
        let byTool = Dictionary(uniqueKeysWithValues: offered.map { (toolName($0.name), $0) })
        let server = Server(
            name: "hindsight", version: version,
            instructions:
                "Hindsight answers questions about a deployment platform's audit log: who may do what and why (rbac_*), what happened (audit_search), how builds and functions went (analytics_*), the inventories (tokens, databases, backups, settings, teams) and the log itself (log_*). Every reading tool takes `at` (a seq or an RFC 3339 time) to ask about a past moment.",
            capabilities: .init(tools: .init(listChanged: false)))
        let tools = offered.map { method in
            Tool(
                name: toolName(method.name), title: method.name,
                description: method.summary + (method.writes ? " (writes)" : ""),
                inputSchema: value(method.paramsSchema),
                // Of the writers only an erasure cannot be undone (appends and exports add).
                annotations: .init(readOnlyHint: !method.writes, destructiveHint: method.writes ? method.name == "privacy.erase" : nil))
        }
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: tools) }
        await server.withMethodHandler(CallTool.self) { params in
            guard let method = byTool[params.name] else {
                throw MCPError.invalidParams("unknown tool \(params.name): tools/list names them")
            }
            return call(method.name, arguments: params.arguments ?? [:], on: service)
        }
        try await server.start(transport: LineTransport())
        await server.waitUntilCompleted()
    }

    /// A method's answer as a tool's result: its JSON as text; a refused request (bad
    /// arguments, an engine error) as an error result naming what was wrong and where.
    static func call(_ method: String, arguments: [String: Value], on service: QueryService) -> CallTool.Result {
        let answer: JSONValue
        do {
            answer = try service.call(method, arguments.mapValues(json))
        } catch {
            // The refusal as serve gives it: the code, the message, and `data.kind` and
            // `data.path` (the parameter at fault).
            let refusal = RPCError(error)
            var object: [String: JSONValue] = ["code": .integer(Int64(refusal.code)), "message": .string(refusal.message)]
            if let data = refusal.data { object["data"] = data }
            return .init(content: [text(.object(object))], isError: true)
        }
        return .init(content: [text(answer)], isError: false)
    }

    private static func text(_ json: JSONValue) -> Tool.Content {
        .text(text: String(decoding: json.text, as: UTF8.self), annotations: nil, _meta: nil)
    }

    /// A tool's argument as the query service reads parameters.
    static func json(_ value: Value) -> JSONValue {
        switch value {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .int(let number): .integer(Int64(number))
        case .double(let number): .number(number)
        case .string(let text): .string(text)
        case .data(_, let bytes): .string(bytes.base64EncodedString())
        case .array(let items): .array(items.map(json))
        case .object(let members): .object(members.mapValues(json))
        }
    }

    /// A JSON Schema as the protocol carries it.
    static func value(_ json: JSONValue) -> Value {
        switch json {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .integer(let number): .int(Int(number))
        case .number(let number): .double(number)
        case .string(let text): .string(text)
        case .array(let items): .array(items.map(value))
        case .object(let members): .object(members.mapValues(value))
        case .raw(let bytes): (try? JSONDecoder().decode(Value.self, from: Data(bytes))) ?? .null
        }
    }
}
