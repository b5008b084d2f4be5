import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// QUERIES.md: every read method takes `at`. Asked `at` a seq, a method answers as a log that
/// ended there would: the same answer as a data directory holding only the events up to it.
/// (Access and build questions as of a seq are held to the reference evaluator and to a naive
/// roll-up in their own tests: their "now" depends on the clock.)
@Suite("Answers as of a past seq")
struct AsOfTests {
    static let questions: [(method: String, params: String)] = [
        ("analytics.functions", #""org":"org_acme""#), ("analytics.functions", #""project":"prj_pipeline","from":"2026-03-03T00:00:00Z""#),
        ("analytics.metrics", #""name":"http.latency_ms","from":"2026-03-01T00:00:00Z","to":"2026-03-31T00:00:00Z","stepSec":3600"#),
        (
            "analytics.metrics",
            #""name":"http.latency_ms","tags":{"project":"prj_checkout"},"from":"2026-03-11T00:00:00Z","to":"2026-03-12T00:00:00Z","stepSec":900"#
        ),
        ("webhooks.deliveries", #""webhook":"wh_slack""#),
        ("alerts.history", #""from":"2026-03-01T00:00:00Z","to":"2026-03-31T00:00:00Z""#), ("alerts.active", ""),
        ("log.stats", ""),
    ]

    /// The answer without what differs between two data directories holding the same events:
    /// the files' sizes, and the tree head (each stored line holds the moment it was appended).
    static func comparable(_ result: JSONValue?) -> String {
        guard case .object(var members)? = result else { return "no result" }
        members["storedBytes"] = nil
        members["ratio"] = nil
        members["head"] = members["head"]?["seq"]
        return String(decoding: JSONValue.object(members).text, as: UTF8.self)
    }

    @Test(arguments: [1, 120, 287, 330])
    func anAnswerAtASeqIsTheAnswerOfTheLogUpToIt(seq: Int) throws {
        let full = try historyDirectory()
        let history = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("EventSchemas/examples/history.ndjson").path
        let lines = try String(contentsOfFile: history, encoding: .utf8).split(separator: "\n")
        let shorter = TemporaryDirectory()
        let appended = try run(
            hindsightExecutable, ["append", "--data", shorter.path], stdin: Data((lines.prefix(seq).joined(separator: "\n") + "\n").utf8))
        #expect(appended.status == 0, "\(appended.stderr)")
        let (asOf, upTo) = (RPCServer(directory: full.path, engine: nil), RPCServer(directory: shorter.path, engine: nil))
        for (method, params) in Self.questions {
            let separator = params.isEmpty ? "" : ","
            let then = asOf.call(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{\#(params)\#(separator)"at":\#(seq)}}"#)?[
                "result"]
            let now = upTo.call(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{\#(params)}}"#)?["result"]
            #expect(then?["position"] == .integer(Int64(seq)), "\(method) at \(seq): \(Self.comparable(then))")
            #expect(Self.comparable(then) == Self.comparable(now), "\(method) \(params) at \(seq)")
        }
        // The tree head as of the seq: RFC 6962's hash of the first `seq` stored lines, worked
        // out here by a few lines of Python over what `read --stored` prints.
        let stored = try run(hindsightExecutable, ["read", "--data", full.path, "--stored", "--to", String(seq)]).stdout
        let script = """
            import hashlib, sys
            lines = sys.stdin.buffer.read().split(b"\\n")[:-1]
            def root(d):
                if len(d) == 1: return hashlib.sha256(b"\\x00" + d[0]).digest()
                k = 1
                while k * 2 < len(d): k *= 2
                return hashlib.sha256(b"\\x01" + root(d[:k]) + root(d[k:])).digest()
            print(root(lines).hex())
            """
        let expected = try run("/usr/bin/env", ["python3", "-c", script], stdin: Data(stored.utf8)).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let head = asOf.call(#"{"jsonrpc":"2.0","id":1,"method":"log.stats","params":{"at":\#(seq)}}"#)?["result"]?["head"]?["hash"]
        #expect(head == .string(expected), "log.stats at \(seq)")
    }

    /// A log appended in batches of 25 events has a chunk per batch, so a window that starts
    /// on 5 March is folded from the chunk holding its first event (seq 101), after fn_resize
    /// was deployed (seq 67): its invocations there ran the runtime that deployment set,
    /// which the fold takes from the deployments the model keeps.
    @Test(arguments: [120, 160, 250, 372])
    func functionsAsOfASeqFoldTheirWindowWithTheRuntimesDeployedBeforeIt(seq: Int) throws {
        let history = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("EventSchemas/examples/history.ndjson").path
        let lines = try String(contentsOfFile: history, encoding: .utf8).split(separator: "\n")
        let (chunked, shorter) = (TemporaryDirectory(), TemporaryDirectory())
        for start in stride(from: 0, to: lines.count, by: 25) {
            let batch = lines[start..<min(lines.count, start + 25)].joined(separator: "\n") + "\n"
            let appended = try run(hindsightExecutable, ["append", "--data", chunked.path], stdin: Data(batch.utf8))
            #expect(appended.status == 0, "\(appended.stderr)")
        }
        let appended = try run(
            hindsightExecutable, ["append", "--data", shorter.path], stdin: Data((lines.prefix(seq).joined(separator: "\n") + "\n").utf8))
        #expect(appended.status == 0, "\(appended.stderr)")
        let (asOf, upTo) = (RPCServer(directory: chunked.path, engine: nil), RPCServer(directory: shorter.path, engine: nil))
        for params in [#""org":"org_acme","from":"2026-03-05T00:00:00Z""#, #""org":"org_acme","from":"2026-03-03T12:00:00Z""#] {
            let then = asOf.call(#"{"jsonrpc":"2.0","id":1,"method":"analytics.functions","params":{\#(params),"at":\#(seq)}}"#)?["result"]
            let now = upTo.call(#"{"jsonrpc":"2.0","id":1,"method":"analytics.functions","params":{\#(params)}}"#)?["result"]
            #expect(Self.comparable(then) == Self.comparable(now), "\(params) at \(seq)")
        }
        if seq >= 160 {
            let then = asOf.call(
                #"{"jsonrpc":"2.0","id":1,"method":"analytics.functions","params":{"function":"fn_resize","from":"2026-03-05T00:00:00Z","at":\#(seq)}}"#
            )
            #expect(
                then?["result"]?["byRuntime"]?["python"]?["invocations"] != nil,
                "fn_resize ran python on 5 March: \(String(describing: then))")
        }
    }

    @Test func theChangesOfAccessAsKnownAtASeqAreThoseItsEventsHadCaused() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        func changes(_ at: String) -> [JSONValue] {
            let result = server.call(
                #"{"jsonrpc":"2.0","id":1,"method":"rbac.changes","params":{"from":"2026-03-01T00:00:00Z","to":"2026-03-31T00:00:00Z"\#(at)}}"#
            )?["result"]
            guard case .array(let found)? = result?["changes"] else { return [] }
            return found
        }
        let all = changes("")
        let then = changes(#","at":150"#)
        #expect(!then.isEmpty && then.count < all.count)
        // Each change known at seq 150 is one the whole history has, caused by an event up to it.
        let allTexts = Set(all.map { String(decoding: $0.text, as: UTF8.self) })
        for change in then {
            #expect(allTexts.contains(String(decoding: change.text, as: UTF8.self)))
            if case .integer(let seq)? = change["seq"] { #expect(seq <= 150) }
        }
    }

    @Test func anAnswerAtATimeCountsTheEventsThatOccurredByThen() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        func attempts(_ at: String) -> JSONValue? {
            server.call(#"{"jsonrpc":"2.0","id":1,"method":"webhooks.deliveries","params":{"webhook":"wh_slack"\#(at)}}"#)?["result"]?[
                "attempts"]
        }
        // Every delivery occurred in March 2026: none by its start, all by its end.
        #expect(attempts(#","at":"2026-03-01T00:00:00Z""#) == .integer(0))
        #expect(attempts(#","at":"2026-04-01T00:00:00Z""#) == attempts(""))
        let all = attempts("")
        let some = attempts(#","at":"2026-03-10T12:00:00Z""#)
        guard case .integer(let total)? = all, case .integer(let part)? = some else {
            Issue.record("no answer: \(String(describing: all)) \(String(describing: some))")
            return
        }
        #expect(total > 0 && part <= total)
    }
}
