import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// The inventory questions asked of the engine and of a naive replay written separately from
/// the contracts (`Tools/naive_*.py`), at moments spread over a history, their answers brought
/// to one form: each listed item's fields as text, times as milliseconds.
struct NaiveReplay {
    /// The replay tool, by its name in `Tools/`.
    let tool: String
    /// The history as `hindsight read` prints it, in a file the tool reads.
    let events: String
    let lines: [[String: Any]]
    /// Fields that hold times: the engine's RFC 3339 text is read as milliseconds.
    let timeFields: Set<String>

    init(tool: String, directory: TemporaryDirectory, timeFields: Set<String>) throws {
        self.tool =
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/\(tool)").path
        events = directory.path + "/events.ndjson"
        try run(hindsightExecutable, ["read", "--data", directory.path]).stdout.write(toFile: events, atomically: true, encoding: .utf8)
        lines = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        self.timeFields = timeFields
    }

    /// Moments spread over the history (a different spread for each seed), as `at` params and
    /// as the tool's arguments: after events, at events' times, at the last event, and at
    /// times `laterDays` after it; then now.
    func moments(seed: Int, laterDays: [Int64]) -> [(params: String, naive: [String])] {
        var moments: [(params: String, naive: [String])] = []
        for step in 1...5 {
            let seq = (step * 7919 + seed * 104_729) % lines.count + 1
            moments.append((#""at":\#(seq)"#, ["--at-seq", String(seq)]))
            let time = lines[(step * 6007 + seed * 3001) % lines.count]["occurredAt"] as! String
            moments.append((#""at":"\#(time)""#, ["--at-time", time]))
        }
        moments.append((#""at":\#(lines.count)"#, ["--at-seq", String(lines.count)]))
        let last = Timestamp.parse(lines.last!["occurredAt"] as! String)!
        for days in laterDays {
            let later = Timestamp.format(last + days * 86_400_000)
            moments.append((#""at":"\#(later)""#, ["--at-time", later]))
        }
        // Now: the replay of every event at the time the question is asked.
        moments.append(("", []))
        return moments
    }

    /// Asks `method` with `params` at a moment of the engine and of the replay (with its
    /// `arguments`), expects the same items under `key`, and returns the replay's.
    func expectSame(
        _ server: RPCServer, _ method: String, _ params: String, at moment: (params: String, naive: [String]), _ arguments: [String],
        key: String
    ) throws -> [[String: String]] {
        let joined = [moment.params, params].filter { !$0.isEmpty }.joined(separator: ",")
        let want = try replayed(key, moment.naive, arguments)
        #expect(answered(server, method, joined, key) == want, "\(method) {\(joined)}")
        return want
    }

    /// The replay's items under `key` at a moment (`[]` for now).
    func replayed(_ key: String, _ moment: [String], _ arguments: [String]) throws -> [[String: String]] {
        let when = moment.isEmpty ? ["--now-ms", String(Timestamp.now())] : moment
        let result = try run("/usr/bin/env", ["python3", tool, events] + when + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let answer = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        return (answer[key] as! [[String: Any]]).map { $0.mapValues(Self.text) }
    }

    private static func text(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if let list = value as? [String] { return list.joined(separator: ",") }
        if let list = value as? [Any] { return "[" + list.map(text).joined(separator: ";") + "]" }
        if let object = value as? [String: Any] {
            return "{" + object.keys.sorted().map { "\($0)=\(text(object[$0]!))" }.joined(separator: ",") + "}"
        }
        return "\(value)"
    }

    /// The engine's items under `key` in its answer to `method` with `params`.
    func answered(_ server: RPCServer, _ method: String, _ params: String, _ key: String) -> [[String: String]] {
        let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{\#(params)}}"#)
        guard case .array(let items)? = response?["result"]?[key] else {
            Issue.record("\(method) \(params): \(String(describing: response))")
            return []
        }
        return items.map { item in
            guard case .object(let members) = item else { return [:] }
            return members.reduce(into: [:]) { fields, member in fields[member.key] = text(member.value, field: member.key) }
        }
    }

    private func text(_ value: JSONValue, field: String) -> String {
        switch value {
        case .null: return "null"
        case .integer(let number): return String(number)
        // JSONSerialization gives the replay's booleans as the numbers 0 and 1.
        case .bool(let value): return value ? "1" : "0"
        case .string(let text):
            return timeFields.contains(field) ? Timestamp.parse(text).map(String.init) ?? "unreadable \(text)" : text
        case .array(let items):
            if items.allSatisfy({ if case .string = $0 { true } else { false } }) {
                return items.map { if case .string(let text) = $0 { text } else { "" } }.joined(separator: ",")
            }
            return "[" + items.map { text($0, field: field) }.joined(separator: ";") + "]"
        case .object(let members):
            return "{" + members.keys.sorted().map { "\($0)=\(text(members[$0]!, field: $0))" }.joined(separator: ",") + "}"
        default: return "\(value)"
        }
    }
}
