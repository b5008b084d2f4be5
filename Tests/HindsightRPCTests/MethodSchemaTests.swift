import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// `system.methods` publishes each method's parameters and result as JSON Schema; a tool that
/// trusts it (an MCP client, a form) must find every real request and answer fitting it. A
/// standard validator (python3-jsonschema) is the judge, not our own reading of the schema.
@Suite("system.methods as JSON Schema")
struct MethodSchemaTests {
    /// Requests to every method on the sample history, with an answer each (writing ones last).
    static let requests: [(method: String, params: String)] = [
        ("log.read", #"{"limit":3,"types":["build.queued"],"upcast":true}"#), ("log.verify", "{}"), ("log.stats", "{}"),
        ("log.stats", #"{"at":100}"#), ("log.stats", #"{"at":"2026-03-05T00:00:00Z"}"#),
        ("rbac.check", #"{"subject":"usr_erin","permission":"project:deploy","resource":"project/prj_storefront"}"#),
        ("rbac.check", #"{"subject":"usr_erin","permission":"project:deploy","resource":"project/prj_storefront","at":217}"#),
        ("rbac.whoCan", #"{"permission":"project:deploy","resource":"project/prj_checkout"}"#),
        ("rbac.whatCan", #"{"subject":"usr_alice"}"#),
        ("rbac.changes", #"{"from":"2026-03-01T00:00:00Z","to":"2026-03-31T00:00:00Z"}"#),
        ("rbac.changes", #"{"from":"2026-03-01T00:00:00Z","to":"2026-03-31T00:00:00Z","at":150}"#),
        ("audit.search", #"{"limit":2,"typePrefix":"build."}"#), ("teams.activity", #"{"team":"team_platform","limit":2}"#),
        ("analytics.builds", #"{"org":"org_acme"}"#), ("analytics.builds", #"{"org":"org_acme","at":200}"#),
        ("analytics.functions", #"{"org":"org_acme"}"#), ("analytics.functions", #"{"org":"org_acme","at":250}"#),
        ("analytics.metrics", #"{"name":"http.latency_ms","from":"2026-03-11T00:00:00Z","to":"2026-03-12T00:00:00Z","stepSec":3600}"#),
        (
            "analytics.metrics",
            #"{"name":"http.latency_ms","from":"2026-03-11T00:00:00Z","to":"2026-03-12T00:00:00Z","stepSec":600,"at":300}"#
        ),
        ("webhooks.deliveries", #"{"webhook":"wh_slack"}"#),
        ("webhooks.deliveries", #"{"webhook":"wh_slack","at":"2026-03-10T00:00:00+01:00"}"#),
        ("alerts.active", "{}"), ("alerts.history", #"{"from":"2026-03-01T00:00:00Z","to":"2026-03-31T00:00:00Z","at":300}"#),
        ("tokens.list", "{}"), ("tokens.list", #"{"owner":"usr_carol","at":"2026-03-10T00:00:00Z"}"#),
        ("tokens.stale", #"{"olderThanDays":3,"at":250}"#), ("databases.list", #"{"project":"prj_checkout"}"#),
        ("backups.list", #"{"database":"db_orders","at":300}"#), ("backups.overdue", #"{"at":"2026-03-20T00:00:00Z"}"#),
        ("settings.env", #"{"project":"prj_checkout","target":"production"}"#), ("settings.domains", #"{"at":200}"#),
        ("settings.builds", #"{"project":"prj_storefront","from":"2026-03-01T00:00:00Z"}"#),
        ("teams.members", #"{"team":"team_data","at":"2026-03-13T00:00:00Z"}"#),
        ("teams.invitations", #"{"team":"team/team_platform","status":"accepted"}"#),
        ("teams.invitations", #"{"team":"team_data","at":20}"#),
        ("audit.search", #"{"correlationId":"chg_1","limit":5}"#),
        ("projections.status", "{}"), ("system.methods", "{}"),
        ("log.subscribe", #"{"types":["build.queued"],"from":5}"#), ("log.unsubscribe", #"{"subscription":"sub_1"}"#),
        ("projections.rebuild", #"{"name":"webhooks"}"#),
        (
            "log.append",
            #"{"events":[{"type":"build.queued","stream":"build/b_999","occurredAt":"2026-03-20T10:00:00.000Z","actor":{"kind":"user","id":"usr_alice"},"org":"org_acme","data":{"build":"b_999","project":"prj_checkout","commit":"935afcca71cfdf80e4ebb5c8ad4582808886a3db","branch":"main","trigger":"push"}}],"expectedVersions":{"build/b_999":"none","build/b_001":"any"}}"#
        ),
        ("privacy.erase", #"{"person":"usr_erin"}"#),
    ]

    @Test func everyAnswerAndRequestFitsTheSchemaItsMethodPublishes() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        guard case .array(let methods)? = server.call(#"{"jsonrpc":"2.0","id":1,"method":"system.methods"}"#)?["result"]?["methods"] else {
            Issue.record("no methods")
            return
        }
        var cases: [JSONValue] = []
        for (method, params) in Self.requests {
            let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":\#(params)}"#)
            guard let result = response?["result"] else {
                Issue.record("\(method) \(params): \(String(decoding: response?.text ?? [], as: UTF8.self))")
                continue
            }
            cases.append(["method": .string(method), "params": try #require(JSONValue(parsing: Array(params.utf8))), "result": result])
        }
        // Every method but export.* is asked here (the exports' answers are held to theirs in ExportTests).
        let asked = Set(Self.requests.map(\.method))
        let published = methods.compactMap { method -> String? in if case .string(let name)? = method["name"] { name } else { nil } }
        #expect(Set(published).subtracting(asked) == ["export.audit", "export.accessReview", "export.backups", "export.tokens"])
        // A method writes when it changes stored data: the log, a read model's files, a bundle.
        let writing = methods.filter { $0["writes"] == true }.compactMap { method -> String? in
            if case .string(let name)? = method["name"] { name } else { nil }
        }
        #expect(
            Set(writing) == [
                "log.append", "privacy.erase", "projections.rebuild", "export.audit", "export.accessReview", "export.backups",
                "export.tokens",
            ])
        #expect(try validate(methods: .array(methods), cases: cases) == "")
    }

    @Test func aRequestOutsideTheSchemaIsRefusedByTheServerToo() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        let refused = [
            #"{"method":"rbac.check","params":{"subject":"usr_1","permission":"project:deploy"}}"#,
            #"{"method":"log.read","params":{"limit":0}}"#, #"{"method":"log.stats","params":{"at":true}}"#,
            #"{"method":"alerts.active","params":{"since":1}}"#,
        ]
        for request in refused {
            let response = server.call(#"{"jsonrpc":"2.0","id":1,"# + request.dropFirst())
            #expect(errorCode(response) == -32602, "\(request)")
        }
    }
}

/// Validates each case's params and result against its method's published schemas with
/// python3-jsonschema (Draft 2020-12); returns the problems found, one per line.
func validate(methods: JSONValue, cases: [JSONValue]) throws -> String {
    let scratch = TemporaryDirectory()
    let input = scratch.path + "/cases.json"
    writeFile(input, JSONValue.object(["methods": methods, "cases": .array(cases)]).text)
    let script = """
        import json, sys
        from jsonschema import Draft202012Validator
        data = json.load(open(sys.argv[1]))
        methods = {m["name"]: m for m in data["methods"]}
        for m in methods.values():
            Draft202012Validator.check_schema(m["params"])
            Draft202012Validator.check_schema(m["result"])
        for case in data["cases"]:
            m = methods[case["method"]]
            for what in ("params", "result"):
                for error in Draft202012Validator(m[what]).iter_errors(case[what]):
                    print(f'{case["method"]} {what} {list(error.absolute_path)}: {error.message}')
        """
    let result = try run("/usr/bin/env", ["python3", "-c", script, input])
    return result.stdout + (result.status == 0 ? "" : result.stderr)
}
