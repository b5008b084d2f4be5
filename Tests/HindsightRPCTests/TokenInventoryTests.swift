import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// `tokens.list` and `tokens.stale` against a naive replay written separately from the
/// contract (`Tools/naive_tokens.py`), at many moments of the sample history and of a
/// generated one: after an event (by seq), at a time, and now.
@Suite("The tokens inventory")
struct TokenInventoryTests {
    private static let naive = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tools/naive_tokens.py").path

    /// The naive replay's tokens at a moment, each field as text or milliseconds.
    private func replayed(_ events: String, _ arguments: [String]) throws -> [[String: String]] {
        let result = try run("/usr/bin/env", ["python3", Self.naive, events] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let answer = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        return (answer["tokens"] as! [[String: Any]]).map { token in
            token.mapValues { value in
                if value is NSNull { return "null" }
                if let list = value as? [String] { return list.joined(separator: ",") }
                return "\(value)"
            }
        }
    }

    /// The engine's tokens in an answer, in the same form.
    private func answered(_ server: RPCServer, _ method: String, _ params: String) -> [[String: String]] {
        let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{\#(params)}}"#)
        guard case .array(let tokens)? = response?["result"]?["tokens"] else {
            Issue.record("\(method) \(params): \(String(describing: response))")
            return []
        }
        return tokens.map { token in
            var fields: [String: String] = [:]
            guard case .object(let members) = token else { return fields }
            for (name, value) in members {
                switch value {
                case .null: fields[name] = "null"
                case .integer(let number): fields[name] = String(number)
                case .string(let text):
                    let isTime = ["createdAt", "lastRotatedAt", "expiresAt", "revokedAt"].contains(name)
                    fields[name] = isTime ? Timestamp.parse(text).map(String.init) ?? "unreadable \(text)" : text
                case .array(let items):
                    fields[name] = items.map { if case .string(let text) = $0 { text } else { "?" } }.joined(separator: ",")
                default: fields[name] = "\(value)"
                }
            }
            return fields
        }
    }

    /// Every question at every moment, answered by the engine and by the replay.
    private func expectSameAnswers(_ dir: TemporaryDirectory, seed: Int) throws -> Int {
        let events = dir.path + "/events.ndjson"
        try run(hindsightExecutable, ["read", "--data", dir.path]).stdout.write(toFile: events, atomically: true, encoding: .utf8)
        let lines = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let owners = lines.compactMap { ($0["data"] as? [String: Any])?["owner"] as? String }
        let owner = Dictionary(grouping: owners, by: { $0 }).max { $0.value.count < $1.value.count }?.key ?? "usr_none"
        // Moments spread over the history, a different spread for each seed.
        var moments: [(params: String, naive: [String])] = []
        for step in 1...5 {
            let seq = (step * 7919 + seed * 104_729) % lines.count + 1
            moments.append((#""at":\#(seq)"#, ["--at-seq", String(seq)]))
            let time = lines[(step * 6007 + seed * 3001) % lines.count]["occurredAt"] as! String
            moments.append((#""at":"\#(time)""#, ["--at-time", time]))
        }
        moments.append((#""at":\#(lines.count)"#, ["--at-seq", String(lines.count)]))
        // Long after the last event, when tokens have aged past 90 days and some expired.
        let last = Timestamp.parse(lines.last!["occurredAt"] as! String)!
        for days: Int64 in [45, 100, 200] {
            let later = Timestamp.format(last + days * 86_400_000)
            moments.append((#""at":"\#(later)""#, ["--at-time", later]))
        }
        let server = RPCServer(directory: dir.path, engine: nil)
        var compared = 0
        var stale = 0
        var statuses: Set<String> = []
        for (params, naive) in moments + [("", [])] {
            // Now: the replay of every event at the time the question is asked.
            let moment = naive.isEmpty ? ["--now-ms", String(Timestamp.now())] : naive
            let separator = params.isEmpty ? "" : ","
            for (method, extra, naiveExtra) in [
                ("tokens.list", "", [String]()), ("tokens.list", #""owner":"\#(owner)""#, ["--owner", owner]),
                ("tokens.stale", "", ["--stale", "90"]), ("tokens.stale", #""olderThanDays":30"#, ["--stale", "30"]),
                ("tokens.stale", #""olderThanDays":0"#, ["--stale", "0"]),
            ] {
                let joined = [params, extra].filter { !$0.isEmpty }.joined(separator: separator.isEmpty ? "," : separator)
                let want = try replayed(events, moment + naiveExtra)
                let got = answered(server, method, joined)
                #expect(got == want, "\(method) {\(joined)}")
                compared += want.count
                if method == "tokens.stale" { stale += want.count }
                for token in want { statuses.insert(token["status"] ?? "") }
            }
        }
        #expect(stale > 0, "no stale token at any moment")
        #expect(statuses == ["active", "revoked", "expired"], "statuses met: \(statuses)")
        return compared
    }

    @Test func theSampleHistoryAnswersAsAReplayDoes() throws {
        let dir = try historyDirectory()
        #expect(try expectSameAnswers(dir, seed: 3) > 0)
    }

    @Test func aGeneratedHistoryAnswersAsAReplayDoes() throws {
        let dir = TemporaryDirectory()
        let workload = try run(generateExecutable, ["--events", "20000", "--seed", "13"]).stdout
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(workload.utf8)).status == 0)
        #expect(try expectSameAnswers(dir, seed: 5) > 100)
    }

    @Test func theCommandPrintsATableAndRefusesABadDayCount() throws {
        let dir = try historyDirectory()
        let table = try run(hindsightExecutable, ["tokens", "--data", dir.path, "--at", "2026-03-05T00:00:00Z"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("tok_ci_checkout") && table.stdout.contains("active"))
        let refused = try run(hindsightExecutable, ["tokens", "--data", dir.path, "--stale", "--older-than-days=-3"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("olderThanDays"))
    }
}
