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
    /// Every question at every moment, answered by the engine and by the replay.
    private func expectSameAnswers(_ dir: TemporaryDirectory, seed: Int) throws -> Int {
        let replay = try NaiveReplay(
            tool: "naive_tokens.py", directory: dir, timeFields: ["createdAt", "lastRotatedAt", "expiresAt", "revokedAt"])
        let owners = replay.lines.compactMap { ($0["data"] as? [String: Any])?["owner"] as? String }
        let owner = Dictionary(grouping: owners, by: { $0 }).max { $0.value.count < $1.value.count }?.key ?? "usr_none"
        let server = RPCServer(directory: dir.path, engine: nil)
        var compared = 0
        var stale = 0
        var statuses: Set<String> = []
        // Long after the last event, tokens have aged past 90 days and some expired.
        for moment in replay.moments(seed: seed, laterDays: [45, 100, 200]) {
            for (method, extra, arguments) in [
                ("tokens.list", "", [String]()), ("tokens.list", #""owner":"\#(owner)""#, ["--owner", owner]),
                ("tokens.stale", "", ["--stale", "90"]), ("tokens.stale", #""olderThanDays":30"#, ["--stale", "30"]),
                ("tokens.stale", #""olderThanDays":0"#, ["--stale", "0"]),
            ] {
                let want = try replay.expectSame(server, method, extra, at: moment, arguments, key: "tokens")
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
        let dir = try generatedDirectory(events: 20000, seed: 13)
        #expect(try expectSameAnswers(dir, seed: 5) > 100)
    }

    /// The platform's mistake, kept in the log: a token created again under its id, rotated,
    /// revoked, and created once more. Each creation starts a lifetime that replaces the one
    /// before, as the replay takes it.
    @Test func aTokenCreatedAgainAnswersAsAReplayDoes() throws {
        let dir = try historyDirectory()
        func token(_ type: String, _ time: String, _ data: String) -> String {
            #"{"type":"\#(type)","stream":"token/tok_deploy_bot","occurredAt":"\#(time)","actor":{"kind":"user","id":"usr_bob"},"org":"org_acme","data":{"token":"tok_deploy_bot"\#(data)}}"#
        }
        let created = #","owner":"usr_bob","scopes":["project:deploy"],"fingerprint":"\#(String(repeating: "a", count: 64))""#
        let again = [
            token("token.created", "2026-03-21T09:00:00.000Z", created + #","expiresAt":"2026-06-01T00:00:00.000Z""#),
            token("token.rotated", "2026-03-22T09:00:00.000Z", #","fingerprint":"\#(String(repeating: "b", count: 64))""#),
            token("token.revoked", "2026-03-23T09:00:00.000Z", #","reason":"leaked""#),
            token("token.created", "2026-03-24T09:00:00.000Z", created.replacingOccurrences(of: "usr_bob", with: "usr_carol")),
        ]
        let appended = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(again.joined(separator: "\n").utf8))
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(try expectSameAnswers(dir, seed: 11) > 0)
        let now = try run(hindsightExecutable, ["tokens", "--data", dir.path, "--owner", "usr_carol", "--json"]).stdout
        #expect(now.contains(#""token":"tok_deploy_bot""#) && now.contains(#""status":"active""#))
    }

    @Test func theCommandPrintsATableAndRefusesABadDayCount() throws {
        let dir = try historyDirectory()
        let table = try run(hindsightExecutable, ["tokens", "--data", dir.path, "--at", "2026-03-05T00:00:00Z"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("tok_ci_checkout") && table.stdout.contains("active"))
        let refused = try run(hindsightExecutable, ["tokens", "--data", dir.path, "--stale", "--older-than-days=-3"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--older-than-days must be from 0 to 36500"))
    }
}
