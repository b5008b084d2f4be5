import Foundation
import HindsightCatalog
import HindsightCore
import HindsightLog
import HindsightTestSupport
import HindsightWorkload
import Testing

/// A valid build.started event whose `data` (or envelope) a case then breaks.
func buildStarted(
    _ data: String = #""build":"b_1","project":"prj_1","runner":"runner-1""#, extra: String = "", type: String = "build.started"
) -> String {
    #"{"type":"\#(type)","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{\#(data)}\#(extra)}"#
}

func event(_ type: String, _ data: String, stream: String = "x/x_1") -> String {
    #"{"type":"\#(type)","stream":"\#(stream)","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{\#(data)}}"#
}

@Suite("Bad events are refused through the command line")
struct RefusedEventTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let line: String
        let code: String
        let pointer: String
        let rule: String
        var testDescription: String { name }
    }

    static let token = #""token":"tok_1","owner":"usr_1","fingerprint":"\#(String(repeating: "a", count: 64))""#

    /// Every kind of bad input the catalogue refuses, one case each.
    static let cases: [Case] = [
        Case(name: "unknown type", line: buildStarted(type: "build.exploded"), code: "unknown_type", pointer: "/type", rule: "unknownType"),
        Case(
            name: "unknown version", line: buildStarted(extra: #","schemaVersion":3"#), code: "unknown_type", pointer: "/schemaVersion",
            rule: "unknownVersion"),
        Case(
            name: "wrong enum value", line: event("build.step_logged", #""build":"b_1","step":"test","status":"maybe","durationMs":5"#),
            code: "schema_violation", pointer: "/data/status", rule: "enum"),
        Case(
            name: "missing required field", line: buildStarted(#""build":"b_1","project":"prj_1""#), code: "schema_violation",
            pointer: "/data/runner", rule: "required"),
        Case(
            name: "unknown field in data", line: buildStarted(#""build":"b_1","project":"prj_1","runner":"r","colour":"red""#),
            code: "schema_violation", pointer: "/data/colour", rule: "additionalProperties"),
        Case(
            name: "wrong JSON type", line: event("build.step_logged", #""build":"b_1","step":"test","status":"ok","durationMs":"5""#),
            code: "schema_violation", pointer: "/data/durationMs", rule: "type"),
        Case(
            name: "string over its limit",
            line: event(
                "build.queued",
                #""build":"b_1","project":"prj_1","commit":"3f2a9c1","branch":"\#(String(repeating: "b", count: 256))","trigger":"push""#),
            code: "schema_violation", pointer: "/data/branch", rule: "maxLength"),
        Case(
            name: "array of 100,000 items",
            line: event("token.created", token + #","scopes":[\#(Array(repeating: #""*""#, count: 100_000).joined(separator: ","))]"#),
            code: "schema_violation", pointer: "/data/scopes", rule: "maxItems"),
        Case(
            name: "timestamp without zone",
            line: event(
                "role.granted",
                #""grant":"grant_1","subject":"usr_1","role":"viewer","scope":"org/org_1","expiresAt":"2026-06-01T00:00:00.000""#),
            code: "schema_violation", pointer: "/data/expiresAt", rule: "timestamp"),
        Case(
            name: "reference of the wrong kind", line: buildStarted(#""build":"b_1","project":"usr_1","runner":"r""#),
            code: "schema_violation", pointer: "/data/project", rule: "projectId"),
        Case(
            name: "fingerprint that is not 64 hex", line: event("token.rotated", #""token":"tok_1","fingerprint":"abc123""#),
            code: "schema_violation", pointer: "/data/fingerprint", rule: "fingerprint"),
        Case(
            name: "secret value of a secret variable",
            line: event(
                "env_var.set",
                #""project":"prj_1","key":"DB_URL","target":"production","secret":true,"value":"postgres://u:p@db","valueFingerprint":"\#(String(repeating: "b", count: 64))""#
            ),
            code: "secret_in_payload", pointer: "/data/value", rule: "secret"),
        Case(
            name: "a field named password", line: event("metric.recorded", #""name":"logins","value":1,"tags":{"password":"hunter2"}"#),
            code: "secret_in_payload", pointer: "/data/tags/password", rule: "secret"),
        Case(
            name: "a field named secret holding a raw value",
            line: event(
                "webhook.registered",
                #""webhook":"wh_1","project":"prj_1","url":"https://x.example.com","events":["build.failed"],"secret":"whsec_1","secretFingerprint":"\#(String(repeating: "c", count: 64))""#
            ),
            code: "secret_in_payload", pointer: "/data/secret", rule: "secret"),
        Case(
            name: "a field named token holding a raw value", line: event("token.revoked", #""token":"3f9a8b7c6d5e""#),
            code: "secret_in_payload", pointer: "/data/token", rule: "secret"),
        Case(
            name: "a credential where a fingerprint belongs",
            line: event("token.rotated", #""token":"tok_1","fingerprint":"ghp_16C7e42F292c6912E7710c838347Ae178B4a""#),
            code: "secret_in_payload", pointer: "/data/fingerprint", rule: "secret"),
        Case(
            name: "a field of data given twice",
            line: buildStarted(#""build":"b_1","project":"prj_1","build":"b_2","runner":"r""#),
            code: "invalid_envelope", pointer: "/data/build", rule: "duplicateKey"),
        Case(
            name: "a tag given twice",
            line: event("metric.recorded", #""name":"logins","value":1,"tags":{"region":"eu","team":"a","region":"us"}"#),
            code: "invalid_envelope", pointer: "/data/tags/region", rule: "duplicateKey"),
    ]

    @Test(arguments: cases)
    func refusedWithItsOwnErrorAndTheLogUnchanged(_ bad: Case) throws {
        let dir = TemporaryDirectory()
        let first = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data((buildStarted() + "\n").utf8))
        #expect(first.status == 0, "\(first.stderr)")
        let before = try contents(of: dir.path)

        let input = [buildStarted(), bad.line, buildStarted()].joined(separator: "\n")
        let result = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(input.utf8))
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let message = result.stderr
        #expect(message.contains("line 2"), "\(message)")
        #expect(message.contains("field \(bad.pointer):"), "\(message)")
        #expect(message.contains("[\(bad.code): \(bad.rule)]"), "\(message)")
        if bad.code != "unknown_type" {
            let type = try #require(bad.line.firstMatch(of: /"type":"([a-z_.]+)"/)?.1)
            #expect(message.contains("line 2 (\(type))"), "\(message)")
        }
        #expect(
            !message.contains("hunter2") && !message.contains("whsec_1") && !message.contains("ghp_") && !message.contains("postgres://"),
            "an error must not repeat a secret: \(message)")
        #expect(try contents(of: dir.path) == before)
    }
}

@Suite struct WorkloadConformanceTests {
    /// The generator feeds the benchmarks and later read models; everything it emits must be
    /// something the engine accepts.
    @Test func theWorkloadGeneratorEmitsOnlyValidEvents() throws {
        for seed in [1, 2] as [UInt64] {
            let batch = try EnvelopeParser.parse(ndjson: WorkloadGenerator.ndjson(count: 100_000, seed: seed), catalog: .standard)
            #expect(batch.count == 100_000)
        }
    }
}
