import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// What a parameter takes, which decides the values it is tried at and which of them it must
/// refuse.
enum ParameterKind {
    /// An integer in a range.
    case integer(ClosedRange<Int64>)
    /// An RFC 3339 time; `notAfterNow`: a time after the present is refused (a review's
    /// `since`, whose changes run up to now).
    case time(notAfterNow: Bool = false)
    /// A seq (a non-negative integer) or an RFC 3339 time.
    case moment
    /// A `nextCursor`: the decimal text of a seq from 1.
    case cursor
}

/// One method, the parameters that let it get as far as the one tried, and its numeric and
/// time parameters (a path below `params`).
struct MethodParameters {
    let method: String
    let base: [String: JSONValue]
    let parameters: [(path: [String], kind: ParameterKind)]
}

/// The requests a `hindsight serve` gets and what each must be answered with.
struct ExtremeRequests {
    /// The time limits of RFC 3339, and numbers at and beyond those of Int64, UInt64 and
    /// Double, as request text.
    static let earliest = #""0000-01-01T00:00:00.000Z""#, latest = #""9999-12-31T23:59:59.999Z""#
    static let numbers = [
        "0", "-1", "1", "-0", "372", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "18446744073709551615", "100000000000000000000000000000", "1e400", "-1e400", "0.5", "1.0", "1e2", "-1e-400",
    ]
    static let times = [earliest, latest, #""1970-01-01T00:00:00.000Z""#]
    static let cursors = [
        #""0""#, #""-1""#, #""1""#, #""9223372036854775807""#, #""9223372036854775808""#, #""18446744073709551615""#,
        #""1e400""#, #""0.5""#, #""""#,
    ]

    /// Every method with its numeric and time parameters; `atLeast`, which every method takes,
    /// is added to each. `out` is where exports write their bundles.
    static func methods() -> [MethodParameters] {
        let seqs: ClosedRange<Int64> = 0...Int64.max
        return [
            // An event the catalogue refuses: the expected versions are checked, nothing is written.
            MethodParameters(
                method: "log.append", base: ["events": [["type": "nope"]]],
                parameters: [(["expectedVersions", "build/b_1"], .integer(seqs))]),
            MethodParameters(
                method: "log.read", base: [:],
                parameters: [
                    (["from"], .integer(1...Int64.max)), (["to"], .integer(1...Int64.max)), (["limit"], .integer(1...10_000)),
                    (["at"], .moment),
                ]),
            MethodParameters(method: "log.verify", base: [:], parameters: [(["from"], .integer(seqs)), (["to"], .integer(seqs))]),
            MethodParameters(method: "log.stats", base: [:], parameters: [(["at"], .moment)]),
            MethodParameters(method: "privacy.erase", base: ["person": "usr_nobody"], parameters: []),
            MethodParameters(
                method: "audit.search", base: [:],
                parameters: [
                    (["from"], .time()), (["to"], .time()), (["limit"], .integer(1...1000)), (["cursor"], .cursor), (["at"], .moment),
                ]),
            MethodParameters(
                method: "teams.activity", base: ["team": "team_platform"],
                parameters: [
                    (["limit"], .integer(1...1000)), (["cursor"], .cursor), (["at"], .moment),
                ]),
            MethodParameters(method: "projections.status", base: [:], parameters: []),
            MethodParameters(method: "projections.rebuild", base: ["name": "none"], parameters: []),
            MethodParameters(
                method: "rbac.check", base: ["subject": "usr_alice", "permission": "project:deploy", "resource": "project/prj_checkout"],
                parameters: [(["at"], .moment)]),
            MethodParameters(
                method: "rbac.whoCan", base: ["permission": "project:deploy", "resource": "project/prj_checkout"],
                parameters: [(["at"], .moment)]),
            MethodParameters(method: "rbac.whatCan", base: ["subject": "usr_alice"], parameters: [(["at"], .moment)]),
            MethodParameters(
                method: "rbac.changes", base: ["from": .raw(Array(earliest.utf8)), "to": .raw(Array(latest.utf8))],
                parameters: [(["from"], .time()), (["to"], .time()), (["at"], .moment)]),
            MethodParameters(
                method: "export.accessReview", base: ["org": "org_acme", "format": "csv"],
                parameters: [(["at"], .moment), (["since"], .time(notAfterNow: true))]),
            MethodParameters(method: "export.audit", base: ["format": "jsonl"], parameters: [(["from"], .moment), (["to"], .moment)]),
            MethodParameters(
                method: "export.backups", base: ["format": "csv", "from": .raw(Array(earliest.utf8)), "to": .raw(Array(latest.utf8))],
                parameters: [(["from"], .time(notAfterNow: true)), (["to"], .time())]),
            MethodParameters(
                method: "export.tokens", base: ["format": "jsonl"],
                parameters: [(["at"], .moment), (["olderThanDays"], .integer(0...36_500))]),
            MethodParameters(
                method: "analytics.builds", base: ["org": "org_acme"], parameters: [(["days"], .integer(1...366)), (["at"], .moment)]),
            MethodParameters(
                method: "analytics.functions", base: ["org": "org_acme"],
                parameters: [(["from"], .time()), (["to"], .time()), (["at"], .moment)]),
            MethodParameters(
                method: "analytics.metrics",
                base: ["name": "http.latency_ms", "from": .raw(Array(earliest.utf8)), "to": .raw(Array(latest.utf8)), "stepSec": 3600],
                parameters: [(["from"], .time()), (["to"], .time()), (["stepSec"], .integer(1...31_622_400)), (["at"], .moment)]),
            MethodParameters(method: "alerts.active", base: [:], parameters: [(["at"], .moment)]),
            MethodParameters(
                method: "alerts.history", base: ["from": .raw(Array(earliest.utf8)), "to": .raw(Array(latest.utf8))],
                parameters: [(["from"], .time()), (["to"], .time()), (["at"], .moment)]),
            MethodParameters(
                method: "webhooks.deliveries", base: ["webhook": "wh_slack"],
                parameters: [(["from"], .time()), (["to"], .time()), (["at"], .moment)]),
            MethodParameters(method: "tokens.list", base: ["owner": "usr_carol"], parameters: [(["at"], .moment)]),
            MethodParameters(
                method: "tokens.stale", base: [:], parameters: [(["olderThanDays"], .integer(0...36_500)), (["at"], .moment)]),
            MethodParameters(method: "databases.list", base: [:], parameters: [(["at"], .moment)]),
            MethodParameters(method: "backups.list", base: ["database": "db_orders"], parameters: [(["at"], .moment)]),
            MethodParameters(method: "backups.overdue", base: [:], parameters: [(["at"], .moment)]),
            MethodParameters(method: "settings.env", base: ["project": "prj_checkout"], parameters: [(["at"], .moment)]),
            MethodParameters(method: "settings.domains", base: [:], parameters: [(["at"], .moment)]),
            MethodParameters(
                method: "settings.builds", base: ["project": "prj_storefront"],
                parameters: [(["from"], .time()), (["to"], .time()), (["at"], .moment)]),
            MethodParameters(method: "teams.members", base: ["team": "team_data"], parameters: [(["at"], .moment)]),
            MethodParameters(method: "teams.invitations", base: ["team": "team_data"], parameters: [(["at"], .moment)]),
            MethodParameters(method: "system.methods", base: [:], parameters: []),
            MethodParameters(method: "log.subscribe", base: [:], parameters: [(["from"], .integer(1...Int64.max))]),
            MethodParameters(method: "log.unsubscribe", base: ["subscription": "sub_none"], parameters: []),
        ]
    }

    /// What a request must get: an answer that does not refuse the parameter tried (at
    /// `path`; a result, or an error of the engine's), or a refusal with this code naming it.
    enum Expected {
        case answer(path: String)
        case refusal(code: Int64, path: String)
    }

    var texts: [String] = []
    var expected: [Expected] = []
    private let out: String
    /// The events the test's log holds: `atLeast` beyond them is out of range.
    private let size: Int64

    init(out: String, size: Int64) {
        self.out = out
        self.size = size
        for method in Self.methods() {
            for (path, kind) in method.parameters + [(["atLeast"], .integer(0...Int64.max))] {
                for value in Self.values(of: kind) {
                    add(method, setting: path, to: value, expecting: expectation(value, kind, path))
                }
            }
        }
        // Ranges whose start is after their end.
        let backwards: [(String, [String: JSONValue], Expected)] = [
            ("log.read", ["from": 9_223_372_036_854_775_807, "to": 1], .refusal(code: -32602, path: "/params/from")),
            ("log.read", ["from": 5, "to": 2], .refusal(code: -32602, path: "/params/from")),
            (
                "audit.search", ["from": .raw(Array(Self.latest.utf8)), "to": .raw(Array(Self.earliest.utf8))],
                .refusal(code: -32602, path: "/params/from")
            ),
            (
                "rbac.changes", ["from": .raw(Array(Self.latest.utf8)), "to": .raw(Array(Self.earliest.utf8))],
                .refusal(code: -32602, path: "/params/from")
            ),
            (
                "analytics.functions", ["org": "org_acme", "from": .raw(Array(Self.latest.utf8)), "to": .raw(Array(Self.earliest.utf8))],
                .refusal(code: -32602, path: "/params/from")
            ),
            (
                "analytics.metrics",
                ["name": "http.latency_ms", "from": .raw(Array(Self.latest.utf8)), "to": .raw(Array(Self.earliest.utf8)), "stepSec": 60],
                .refusal(code: -32602, path: "/params/from")
            ),
            (
                "alerts.history", ["from": .raw(Array(Self.latest.utf8)), "to": .raw(Array(Self.earliest.utf8))],
                .refusal(code: -32602, path: "/params/from")
            ),
            (
                "webhooks.deliveries",
                ["webhook": "wh_slack", "from": .raw(Array(Self.latest.utf8)), "to": .raw(Array(Self.earliest.utf8))],
                .refusal(code: -32602, path: "/params/from")
            ),
            (
                "export.accessReview", ["org": "org_acme", "format": "csv", "at": 0, "since": .raw(Array(Self.earliest.utf8))],
                .refusal(code: -32602, path: "/params/since")
            ),
            (
                "export.accessReview",
                ["org": "org_acme", "format": "csv", "at": .raw(Array(Self.earliest.utf8)), "since": .raw(Array(Self.latest.utf8))],
                .refusal(code: -32602, path: "/params/since")
            ),
            ("export.audit", ["format": "jsonl", "from": 300, "to": 2], .refusal(code: -32602, path: "/params/from")),
            (
                "export.backups", ["format": "csv", "from": .raw(Array(Self.latest.utf8)), "to": .raw(Array(Self.earliest.utf8))],
                .refusal(code: -32602, path: "/params/from")
            ),
            (
                "export.audit", ["format": "jsonl", "from": .raw(Array(Self.latest.utf8)), "to": .raw(Array(Self.earliest.utf8))],
                .refusal(code: -32602, path: "/params/from")
            ),
        ]
        for (method, params, expected) in backwards {
            add(MethodParameters(method: method, base: params, parameters: []), setting: [], to: "", expecting: expected)
        }
        // Whole ranges at the finest and coarsest steps, and the widest windows.
        for step in ["1", "60", "3600", "31622400"] {
            add(
                MethodParameters(
                    method: "analytics.metrics",
                    base: [
                        "name": "http.latency_ms", "from": .raw(Array(Self.earliest.utf8)),
                        "to": .raw(Array(Self.latest.utf8)),
                    ], parameters: []),
                setting: ["stepSec"], to: step, expecting: .answer(path: "/params/stepSec"))
        }
        for at in ["0", "1", "372", Self.earliest, Self.latest] {
            add(
                MethodParameters(method: "analytics.builds", base: ["org": "org_acme", "days": 366], parameters: []), setting: ["at"],
                to: at,
                expecting: .answer(path: "/params/at"))
        }
    }

    /// The values a parameter of a kind is tried at.
    static func values(of kind: ParameterKind) -> [String] {
        switch kind {
        case .integer: numbers + times
        case .time, .moment: numbers + times
        case .cursor: cursors + numbers
        }
    }

    /// Whether `value` (request text) is one a parameter of `kind` takes.
    func expectation(_ value: String, _ kind: ParameterKind, _ path: [String]) -> Expected {
        let refused = Expected.refusal(code: -32602, path: "/params/" + path.joined(separator: "/"))
        let answer = Expected.answer(path: "/params/" + path.joined(separator: "/"))
        let integer = Int64(value)
        switch kind {
        case .integer(let range):
            guard let integer, range.contains(integer) else { return refused }
            if path == ["atLeast"] && integer > size { return .refusal(code: 1011, path: "/params/atLeast") }
            return answer
        case .time(let notAfterNow):
            guard Self.times.contains(value) else { return refused }
            return notAfterNow && value == Self.latest ? refused : answer
        case .moment:
            return Self.times.contains(value) || (integer.map { $0 >= 0 } ?? false) ? answer : refused
        case .cursor:
            guard value.hasPrefix("\""), let seq = Int64(value.dropFirst().dropLast()), seq > 0 else { return refused }
            return answer
        }
    }

    /// Adds a request: the method's base parameters with `value` (request text) at `path`.
    mutating func add(_ method: MethodParameters, setting path: [String], to value: String, expecting: Expected) {
        var params = method.base
        if method.method.hasPrefix("export.") { params["path"] = .string(out + "/bundle-\(texts.count)") }
        if path.count == 1 {
            params[path[0]] = .raw(Array(value.utf8))
        } else if path.count == 2 {
            params[path[0]] = .object([path[1]: .raw(Array(value.utf8))])
        }
        let request: JSONValue = [
            "jsonrpc": "2.0", "id": .integer(Int64(texts.count)), "method": .string(method.method), "params": .object(params),
        ]
        texts.append(String(decoding: request.text, as: UTF8.self))
        expected.append(expecting)
    }
}

@Suite("Parameters at their extremes", .serialized)
struct ParameterExtremesTests {
    @Test func everyNumericAndTimeParameterOfEveryMethodAtItsExtremesIsAnsweredOrRefusedAndServeGoesOn() throws {
        let dir = try historyDirectory()
        let scratch = TemporaryDirectory()
        let key = scratch.path + "/signing.key"
        #expect(try run(hindsightExecutable, ["keys", "init", "--key", key]).status == 0)
        // The table above covers every method there is.
        let listing = try run(hindsightExecutable, ["query", "--data", dir.path, "system.methods"])
        guard case .array(let listed)? = JSONValue(parsing: Array(listing.stdout.utf8))?["methods"] else {
            Issue.record("system.methods: \(listing.stdout)")
            return
        }
        let names = listed.compactMap { method -> String? in if case .string(let name)? = method["name"] { name } else { nil } }
        #expect(Set(names) == Set(ExtremeRequests.methods().map(\.method)))
        for method in listed {
            guard case .string(let name)? = method["name"], case .string(let described)? = method["params"],
                let parameters = ExtremeRequests.methods().first(where: { $0.method == name })?.parameters
            else { continue }
            for (path, _) in parameters { #expect(described.contains(path[0]), "\(name) does not list \(path[0])") }
        }

        let requests = ExtremeRequests(out: scratch.path, size: 372)
        #expect(requests.texts.count > 1000)
        let served = try run(
            hindsightExecutable, ["serve", "--data", dir.path, "--key", key, "--exports", scratch.path],
            stdin: Data(requests.texts.joined(separator: "\n").utf8 + [0x0A]))
        #expect(served.status == 0, "serve ended with \(served.status): \(served.stderr.suffix(2000))")
        // The events log.subscribe's requests are sent come as notifications between the responses.
        let lines = served.stdout.split(separator: "\n").filter { !$0.hasPrefix(#"{"jsonrpc":"2.0","method":"log.event""#) }
        #expect(lines.count == requests.texts.count, "\(lines.count) responses to \(requests.texts.count) requests")
        for (index, line) in lines.enumerated() {
            guard let response = JSONValue(parsing: Array(line.utf8)), FuzzTests.wellFormed(response),
                case .integer(let id)? = response["id"],
                requests.texts.indices.contains(Int(id))
            else {
                Issue.record("not a response to a request: \(line.prefix(500))")
                continue
            }
            #expect(id == Int64(index), "responses out of order at \(index)")
            let request = requests.texts[Int(id)]
            switch requests.expected[Int(id)] {
            case .answer(let path):
                if response["error"]?["code"] == -32602 {
                    // Only projections.rebuild's and log.unsubscribe's bases are refused (there
                    // is no read model "none", no subscription "sub_none").
                    let refused = response["error"]?["data"]?["path"]
                    #expect(
                        (refused == "/params/name" || refused == "/params/subscription") && refused != .string(path),
                        "\(request) → \(line.prefix(400))")
                } else if response["error"] != nil {
                    // The engine errors a value in range may meet: a range of the log that holds
                    // no event, and log.append's base event, refused on purpose (nothing is stored).
                    let kind = response["error"]?["data"]?["kind"]
                    #expect(
                        kind == "out_of_range" || (request.contains(#""log.append""#) && kind == "invalid_envelope"),
                        "\(request) → \(line.prefix(400))")
                }
            case .refusal(let code, let path):
                #expect(
                    response["error"]?["code"] == .integer(code) && response["error"]?["data"]?["path"] == .string(path),
                    "\(request) → \(line.prefix(400))")
            }
        }
    }

    /// Command lines with values at their extremes, and the exit status each must end with.
    static let commandLines: [([String], Int32)] = [
        // Answered: a moment before any event, or at the ends of what RFC 3339 can write.
        (["analytics", "builds", "--org", "org_acme", "--at", "0"], 0),
        (["analytics", "builds", "--org", "org_acme", "--at", "0000-01-01T00:00:00.000Z", "--days", "366"], 0),
        (["analytics", "functions", "--org", "org_acme", "--from", "9999-12-31T23:59:59.999Z"], 0),
        (["analytics", "functions", "--org", "org_acme", "--to", "0000-01-01T00:00:00.000Z"], 0),
        (
            [
                "analytics", "metrics", "http.latency_ms", "--from", "0000-01-01T00:00:00.000Z", "--to", "9999-12-31T23:59:59.999Z",
                "--step", "1",
            ], 0
        ),
        (["alerts", "--at", "0"], 0),
        // Before any event nobody may do anything: denied, exit 1 (`check` tells by its status).
        (["check", "usr_alice", "project:deploy", "project/prj_checkout", "--at", "0"], 1),
        (["read", "--from", "18446744073709551615"], 0),
        // Refused with an error and exit 1 (a refused request) or 64 (a bad command line).
        (["analytics", "builds", "--org", "org_acme", "--days", "0"], 1),
        (["analytics", "builds", "--org", "org_acme", "--at=-1"], 1),
        (["analytics", "builds", "--org", "org_acme", "--at", "99999999999999999999"], 1),
        (["analytics", "functions", "--org", "org_acme", "--from", "9999-12-31T23:59:59.999Z", "--to", "0000-01-01T00:00:00.000Z"], 1),
        (["analytics", "metrics", "http.latency_ms", "--from", "2026-03-02T00:00:00.000Z", "--to", "2026-03-01T00:00:00.000Z"], 1),
        (
            [
                "analytics", "metrics", "http.latency_ms", "--from", "2026-03-01T00:00:00.000Z", "--to", "2026-03-02T00:00:00.000Z",
                "--step", "0",
            ], 1
        ),
        (["alerts", "--from", "9999-12-31T23:59:59.999Z", "--to", "0000-01-01T00:00:00.000Z"], 1),
        // `check` answers 0 or 1; a question it cannot answer is 2.
        (["check", "usr_alice", "project:deploy", "project/prj_checkout", "--at=-5"], 2),
        (["read", "--from", "5", "--to", "2"], 64),
        (["read", "--since", "9999-12-31T23:59:59.999Z", "--until", "0000-01-01T00:00:00.000Z"], 64),
        (["read", "--limit=-1"], 64),
    ]

    @Test(arguments: commandLines)
    func commandLineValuesAtTheirExtremesGetAnAnswerOrAClearErrorNeverATrap(arguments: [String], status: Int32) throws {
        let dir = try historyDirectory()
        let result = try run(hindsightExecutable, arguments + ["--data", dir.path])
        #expect(result.status == status, "\(arguments): exit \(result.status)\n\(result.stderr.suffix(1000))")
        // A refused request prints its error response (or, for a table, its message on stderr).
        if status != 0 && !(arguments[0] == "check" && status == 1) {
            #expect((result.stderr + result.stdout).contains("rror"), "\(arguments): no error message: \(result.stderr)")
        }
        #expect(!result.stderr.contains("Fatal error"), "\(arguments) trapped: \(result.stderr.suffix(1000))")
    }
}
