import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// A small seeded generator, so a failing case can be replayed.
struct Seeded {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 17
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

@Suite("Fuzzing the interface")
struct FuzzTests {
    static let corpus = [
        #"{"jsonrpc":"2.0","id":1,"method":"log.stats"}"#,
        #"{"jsonrpc":"2.0","id":"r-2","method":"log.read","params":{"from":5,"limit":3,"types":["build.queued"]}}"#,
        #"{"jsonrpc":"2.0","id":3,"method":"log.read","params":{"at":"2026-03-05T00:00:00.000Z","stream":"build/b_001"}}"#,
        #"{"jsonrpc":"2.0","id":4,"method":"log.verify","params":{"from":1,"to":10}}"#,
        #"[{"jsonrpc":"2.0","id":5,"method":"system.methods"},{"jsonrpc":"2.0","method":"log.stats"}]"#,
        #"{"jsonrpc":"2.0","id":6,"method":"log.append","params":{"events":[{"type":"nope"}]}}"#,
        #"{"jsonrpc":"2.0","id":7,"method":"log.read","params":{"upcast":true,"org":"org_acme","atLeast":10}}"#,
        #"{"jsonrpc":"2.0","id":8,"method":"analytics.builds","params":{"org":"org_acme","at":0,"days":366}}"#,
        #"{"jsonrpc":"2.0","id":9,"method":"analytics.functions","params":{"org":"org_acme","from":"9999-12-31T23:59:59.999Z"}}"#,
        #"{"jsonrpc":"2.0","id":10,"method":"alerts.history","params":{"from":"9999-12-31T23:59:59.999Z","to":"0000-01-01T00:00:00.000Z"}}"#,
        #"{"jsonrpc":"2.0","id":11,"method":"log.read","params":{"from":5,"to":2,"limit":1e400}}"#,
        #"{"jsonrpc":"2.0","id":12,"method":"audit.search","params":{"cursor":"18446744073709551615","actor":"\ud800"}}"#,
        #"{"jsonrpc":"2.0","id":12345678901234567890,"method":"analytics.metrics","params":{"name":"http.latency_ms","from":"0000-01-01T00:00:00.000Z","to":"9999-12-31T23:59:59.999Z","stepSec":31622400}}"#,
    ]
    static let tokens = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "1e999", "-0", "\"\\u0000\"", "\u{7F}", "é", "\u{FFFD}", " ",
    ]

    static func mutate(_ text: [UInt8], _ random: inout Seeded) -> [UInt8] {
        var bytes = text
        for _ in 0..<(1 + random.below(3)) {
            guard !bytes.isEmpty else { break }
            let at = random.below(bytes.count)
            switch random.below(5) {
            case 0: bytes[at] ^= UInt8(1 << random.below(8))
            case 1: bytes.removeSubrange(at..<min(bytes.count, at + 1 + random.below(8)))
            case 2: bytes.insert(contentsOf: Array(random.pick(tokens).utf8), at: at)
            case 3: bytes = Array(bytes[..<at])
            default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 1 + random.below(16))], at: at)
            }
        }
        return bytes
    }

    /// A random JSON value, up to `depth` levels deep.
    static func value(_ random: inout Seeded, depth: Int) -> String {
        switch random.below(depth > 0 ? 8 : 5) {
        case 0: return "null"
        case 1: return random.below(2) == 0 ? "true" : "false"
        case 2: return String(Int64(bitPattern: random.next()) >> random.below(60))
        case 3:
            return random.pick(
                [
                    "\"log.read\"", "\"log.stats\"", "\"x\"", "\"\"", "\"log.append\"", "\"system.methods\"", "\"2.0\"",
                    "\"analytics.builds\"", "\"analytics.functions\"", "\"alerts.history\"", "\"audit.search\"", "\"\\ud800\"",
                ]
                    + ExtremeRequests.times + ExtremeRequests.cursors)
        case 4: return random.pick(["1.5e3"] + ExtremeRequests.numbers)
        case 5, 6:
            let keys = [
                "jsonrpc", "id", "method", "params", "from", "to", "limit", "types", "at", "events", "atLeast", "days", "stepSec", "cursor",
                "org", "since",
            ]
            return "{"
                + (0..<random.below(5)).map { _ in "\"\(random.pick(keys))\":" + value(&random, depth: depth - 1) }.joined(separator: ",")
                + "}"
        default:
            return "[" + (0..<random.below(4)).map { _ in value(&random, depth: depth - 1) }.joined(separator: ",") + "]"
        }
    }

    /// Every response is one well-formed JSON-RPC response (or a non-empty batch of them).
    static func wellFormed(_ response: JSONValue) -> Bool {
        if case .array(let items) = response { return !items.isEmpty && items.allSatisfy(wellFormed) }
        guard response["jsonrpc"] == "2.0", response["id"] != nil else { return false }
        return (response["result"] == nil) != (response["error"] == nil)
    }

    @Test func thousandsOfRandomAndMutatedRequestsNeverCrashNeverChangeData() throws {
        let dir = try historyDirectory()
        // atLeast beyond the log is refused at once: the test's log never grows.
        let server = RPCServer(directory: dir.path, engine: nil, atLeastWait: 0)
        // The read models are built once, before (a question catches up the models it reads):
        // a question to them reads them as they are.
        for warmUp in [
            #""audit.search","params":{"limit":1}"#, #""rbac.whatCan","params":{"subject":"usr_alice"}"#,
            #""analytics.builds","params":{"org":"org_acme"}"#, #""analytics.functions","params":{"org":"org_acme"}"#,
            #""analytics.metrics","params":{"name":"m","from":"2026-03-01T00:00:00Z","to":"2026-03-02T00:00:00Z","stepSec":3600}"#,
            #""webhooks.deliveries","params":{"webhook":"wh_slack"}"#, #""alerts.active""#,
        ] {
            _ = server.respond(to: Array(#"{"jsonrpc":"2.0","id":0,"method":\#(warmUp)}"#.utf8))
        }
        let before = try contents(of: dir.path)
        var random = Seeded(state: 20_261_127)
        var answered = 0
        for round in 0..<4000 {
            let request =
                round % 2 == 0
                ? Self.mutate(Array(random.pick(Self.corpus).utf8), &random)
                : Array(Self.value(&random, depth: 4).utf8)
            guard let response = server.respond(to: request) else { continue }
            answered += 1
            let parsed = try #require(JSONValue(parsing: response), "round \(round): the response is not JSON")
            #expect(
                Self.wellFormed(parsed),
                "round \(round): \(String(decoding: request, as: UTF8.self)) → \(String(decoding: response, as: UTF8.self))")
        }
        #expect(answered > 3000)
        #expect(try contents(of: dir.path) == before)
    }

    @Test func randomRequestsToEveryMethodWithValuesAtTheirExtremesGetAnAnswerEachAndServeGoesOn() throws {
        let dir = try historyDirectory()
        let scratch = TemporaryDirectory()
        let key = scratch.path + "/signing.key"
        #expect(try run(hindsightExecutable, ["keys", "init", "--key", key]).status == 0)
        var random = Seeded(state: 15)
        let methods = ExtremeRequests.methods()
        let names = ["from", "to", "at", "limit", "days", "stepSec", "cursor", "since", "atLeast"]
        let values =
            ExtremeRequests.numbers + ExtremeRequests.times + ExtremeRequests.cursors + ["null", "true", "[]", "{}", #""\ud800""#, #""x""#]
        var texts: [String] = []
        for round in 0..<1500 {
            let method = random.pick(methods)
            var params = method.base
            if method.method.hasPrefix("export.") { params["path"] = .string(scratch.path + "/bundle-\(round)") }
            let own = method.parameters.map { $0.path[0] }
            for _ in 0..<(1 + random.below(3)) {
                let name = random.below(4) == 0 ? random.pick(names) : random.pick(own.isEmpty ? names : own)
                params[name] = .raw(Array(random.pick(values).utf8))
            }
            let request: JSONValue = [
                "jsonrpc": "2.0", "id": .integer(Int64(round)), "method": .string(method.method), "params": .object(params),
            ]
            texts.append(String(decoding: request.text, as: UTF8.self))
        }
        let served = try run(
            hindsightExecutable, ["serve", "--data", dir.path, "--key", key, "--exports", scratch.path],
            stdin: Data((texts.joined(separator: "\n") + "\n").utf8))
        #expect(served.status == 0, "serve ended with \(served.status): \(served.stderr.suffix(2000))")
        let lines = served.stdout.split(separator: "\n")
        #expect(lines.count == texts.count)
        for (index, line) in lines.enumerated() {
            let response = JSONValue(parsing: Array(line.utf8))
            #expect(
                response.map(Self.wellFormed) == true && response?["id"] == .integer(Int64(index)),
                "\(texts[min(index, texts.count - 1)]) → \(line.prefix(300))")
        }
    }
}
