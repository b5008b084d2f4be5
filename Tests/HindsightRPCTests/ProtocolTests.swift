import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// The sample history, appended to a fresh data directory.
func historyDirectory() throws -> TemporaryDirectory {
    let dir = TemporaryDirectory()
    let history = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("EventSchemas/examples/history.ndjson").path
    let appended = try run(hindsightExecutable, ["append", "--data", dir.path, history])
    precondition(appended.status == 0, appended.stderr)
    return dir
}

/// A generated history (`hindsight-generate`) of `events` with `seed`, appended to a fresh
/// data directory.
func generatedDirectory(events: Int, seed: Int) throws -> TemporaryDirectory {
    let dir = TemporaryDirectory()
    let workload = try run(generateExecutable, ["--events", String(events), "--seed", String(seed)]).stdout
    let appended = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(workload.utf8))
    precondition(appended.status == 0, appended.stderr)
    return dir
}

extension RPCServer {
    /// The response to a request given as text, decoded.
    func call(_ text: String) -> JSONValue? {
        respond(to: Array(text.utf8)).map { JSONValue(parsing: $0)! }
    }
}

func errorCode(_ response: JSONValue?) -> Int64? {
    if case .integer(let code)? = response?["error"]?["code"] { return code }
    return nil
}

@Suite("JSON-RPC 2.0 as the specification says")
struct ProtocolTests {
    let dir: TemporaryDirectory
    let server: RPCServer

    init() throws {
        dir = try historyDirectory()
        server = RPCServer(directory: dir.path, engine: nil)
    }

    @Test func aRequestGetsItsResultWithItsIdAndPosition() throws {
        for id in [#"1"#, #""abc""#, #"null"#] {
            let response = try #require(server.call(#"{"jsonrpc":"2.0","id":\#(id),"method":"log.stats"}"#))
            #expect(response["jsonrpc"] == "2.0")
            #expect(response["id"] == JSONValue(parsing: Array(id.utf8)))
            #expect(response["result"]?["events"] == 372)
            #expect(response["result"]?["position"] == 372)
        }
    }

    @Test(arguments: [
        ("not json", -32700), (#"{"jsonrpc":"2.0","id":1,"method":"log.stats""#, -32700), ("\u{1}\u{2}\u{FF}", -32700),
        ("42", -32600), (#""log.stats""#, -32600), ("[]", -32600),
        (#"{"jsonrpc":"1.0","id":1,"method":"log.stats"}"#, -32600), (#"{"id":1,"method":"log.stats"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":true,"method":"log.stats"}"#, -32600), (#"{"jsonrpc":"2.0","id":{},"method":"log.stats"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":7}"#, -32600), (#"{"jsonrpc":"2.0","id":1}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"log.explode"}"#, -32601),
        (#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":[1,2]}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"limit":"ten"}}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"limit":0}}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"colour":"red"}}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"at":"yesterday"}}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"log.append","params":{"events":[]}}"#, -32602),
    ])
    func badRequestsGetTheRightError(text: String, code: Int64) throws {
        let response = try #require(server.call(text), "\(text) got no response")
        #expect(errorCode(response) == code, "\(text): \(response)")
        #expect(response["result"] == nil)
    }

    @Test func invalidParamsPointAtTheParameter() throws {
        let response = try #require(server.call(#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"types":["build.queued",7]}}"#))
        #expect(response["error"]?["data"]?["path"] == "/params/types/1")
    }

    @Test func notificationsGetNoResponseEvenWhenTheyFail() {
        #expect(server.call(#"{"jsonrpc":"2.0","method":"log.stats"}"#) == nil)
        #expect(server.call(#"{"jsonrpc":"2.0","method":"log.explode"}"#) == nil)
        #expect(server.call(#"[{"jsonrpc":"2.0","method":"log.stats"},{"jsonrpc":"2.0","method":"log.verify"}]"#) == nil)
    }

    @Test func aBatchAnswersEachRequestButTheNotifications() throws {
        let response = try #require(
            server.call(
                #"[{"jsonrpc":"2.0","id":1,"method":"log.stats"},{"jsonrpc":"2.0","method":"log.stats"},42,{"jsonrpc":"2.0","id":2,"method":"nope"}]"#
            ))
        guard case .array(let items) = response else {
            Issue.record("not an array: \(response)")
            return
        }
        #expect(items.count == 3)
        #expect(items[0]["id"] == 1 && items[0]["result"] != nil)
        #expect(items[1]["id"] == .null && errorCode(items[1]) == -32600)
        #expect(items[2]["id"] == 2 && errorCode(items[2]) == -32601)
    }

    @Test func systemMethodsListsEveryMethodWithWhatItTakes() throws {
        let response = try #require(server.call(#"{"jsonrpc":"2.0","id":1,"method":"system.methods"}"#))
        guard case .array(let methods)? = response["result"]?["methods"] else {
            Issue.record("\(response)")
            return
        }
        let names = methods.compactMap { method -> String? in
            if case .string(let name)? = method["name"] { return name }
            return nil
        }
        #expect(
            names == [
                "alerts.active", "alerts.history", "analytics.builds", "analytics.functions", "analytics.metrics", "audit.search",
                "backups.list", "backups.overdue", "databases.list", "export.accessReview", "export.audit", "export.backups",
                "export.tokens", "log.append", "log.read", "log.stats", "log.subscribe", "log.unsubscribe", "log.verify",
                "privacy.erase", "projections.rebuild", "projections.status", "rbac.changes", "rbac.check",
                "rbac.whatCan", "rbac.whoCan", "settings.builds", "settings.domains", "settings.env", "system.methods", "teams.activity",
                "teams.invitations", "teams.members", "tokens.list", "tokens.stale", "webhooks.deliveries",
            ])
        for method in methods { #expect(method["params"] != nil && method["summary"] != nil && method["writes"] != nil) }
    }
}

@Suite("Times in parameters")
struct TimeParameterTests {
    @Test("a time in any RFC 3339 form asks the same question as the same moment in UTC with milliseconds")
    func anyFormOfAMoment() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        let forms = ["2026-03-05T00:00:00.000Z", "2026-03-05T00:00:00Z", "2026-03-05t01:30:00.000+01:30", "2026-03-04T19:00:00-05:00"]
        for method in [
            #""audit.search","params":{"limit":5,"at":"#,
            #""rbac.whoCan","params":{"permission":"project:deploy","resource":"project/prj_storefront","at":"#,
        ] {
            let answers = forms.map { form in server.call(#"{"jsonrpc":"2.0","id":1,"method":"# + method + "\"\(form)\"}}") }
            #expect(answers[0]?["result"] != nil, "\(String(describing: answers[0]))")
            for (form, answer) in zip(forms, answers) { #expect(answer == answers[0], "\(method) \(form)") }
        }
        let refused = server.call(#"{"jsonrpc":"2.0","id":1,"method":"audit.search","params":{"at":"2026-03-05"}}"#)
        #expect(refused?["error"]?["data"]?["path"] == "/params/at")
    }
}

@Suite("Filters on event types")
struct TypeFilterTests {
    @Test("a type the catalogue does not hold is an error naming it, not an answer that finds nothing")
    func unknownTypesAreRefused() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        for (request, path) in [
            (#""log.read","params":{"types":["build.queued","build.quened"]}"#, "/params/types/1"),
            (#""audit.search","params":{"types":["nope"]}"#, "/params/types/0"),
            (#""audit.search","params":{"typePrefix":"bulid."}"#, "/params/typePrefix"),
            (#""export.audit","params":{"format":"jsonl","path":"x","types":["member.invite"]}"#, "/params/types/0"),
        ] {
            let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"# + request + "}")
            #expect(
                errorCode(response) == -32602 && response?["error"]?["data"]?["path"] == .string(path),
                "\(request): \(String(describing: response))")
        }
        #expect(server.call(#"{"jsonrpc":"2.0","id":1,"method":"audit.search","params":{"typePrefix":"build."}}"#)?["result"] != nil)
        let read = try run(hindsightExecutable, ["read", "--data", dir.path, "--type", "build.quened"])
        #expect(read.status == 64 && read.stderr.contains("not a type in the event catalogue"), "\(read.stderr)")
    }
}
