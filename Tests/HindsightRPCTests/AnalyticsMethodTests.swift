import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// Build figures worked out the naive way from the events themselves: every duration kept,
/// sorted, and read at its rank.
private struct NaiveBuilds {
    struct Day {
        var queued = 0, succeeded = 0, failed = 0, canceled = 0, cacheHits = 0, cacheRestores = 0
        var durations: [Double] = []
        var steps: [String: [Double]] = [:]
    }

    /// Scope (`project/…`, `org/…`) → UTC day (yyyy-MM-dd) → figures.
    private(set) var days: [String: [String: Day]] = [:]

    init(ndjson: String) throws {
        var projects: [String: String] = [:]
        for line in ndjson.split(separator: "\n") {
            let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let data = event["data"] as! [String: Any]
            let day = String((event["occurredAt"] as! String).prefix(10))
            let org = event["org"] as! String
            var project = data["project"] as? String
            if let build = data["build"] as? String {
                if event["type"] as? String == "build.queued", projects[build] == nil { projects[build] = project }
                project = project ?? projects[build]
            }
            guard let project, (event["type"] as! String).hasPrefix("build.") else { continue }
            for scope in ["project/" + project, "org/" + org] {
                var figures = days[scope, default: [:]][day, default: Day()]
                switch event["type"] as! String {
                case "build.queued": figures.queued += 1
                case "build.succeeded":
                    figures.succeeded += 1
                    figures.durations.append(Double(data["durationMs"] as! Int))
                case "build.failed":
                    figures.failed += 1
                    figures.durations.append(Double(data["durationMs"] as! Int))
                case "build.canceled": figures.canceled += 1
                case "build.cache_restored":
                    figures.cacheRestores += 1
                    if data["hit"] as! Bool { figures.cacheHits += 1 }
                case "build.step_logged": figures.steps[data["step"] as! String, default: []].append(Double(data["durationMs"] as! Int))
                default: continue
                }
                days[scope, default: [:]][day] = figures
            }
        }
    }

    /// The newest day any scope had builds on.
    var newestDay: String { days.values.flatMap(\.keys).max() ?? "" }

    /// The nearest-rank percentile: the ⌈q·n⌉-th smallest sample (the smallest for q = 0).
    static func percentile(_ samples: [Double], _ q: Double) -> Double? {
        let sorted = samples.sorted()
        return sorted.isEmpty ? nil : sorted[max(Int((q * Double(sorted.count)).rounded(.up)), 1) - 1]
    }
}

private func number(_ value: JSONValue?) -> Double? {
    switch value {
    case .integer(let n)?: Double(n)
    case .number(let n)?: n
    default: nil
    }
}

/// Whether a sketch's percentile is within its bound of the exact one.
private func close(_ answer: JSONValue?, _ exact: Double?) -> Bool {
    guard let exact else { return answer == .null }
    guard let answer = number(answer) else { return false }
    return abs(answer - exact) <= 0.005 * exact
}

/// Whether a rate is its count over its total, exactly as an auditor divides them (unrounded),
/// and the count is given beside it; null when the total is 0.
private func exactRate(_ rate: JSONValue?, _ count: JSONValue?, _ part: Int, of total: Int) -> Bool {
    guard total > 0 else { return rate == .null }
    return number(rate) == Double(part) / Double(total) && number(count) == Double(part)
}

/// Checks every day of every scope the naive count saw against `analytics.builds`, asked as
/// of the end of the scope's last day (added up again from the log) and without `at` (the
/// read model's days, up to `newestDay`, the newest day of any build).
private func expectSameFigures(_ naive: NaiveBuilds, _ server: RPCServer, scopes: [String], newestDay: String) throws {
    func days(from first: String, to last: String) -> Int {
        Int(
            ISO8601DateFormatter().date(from: last + "T00:00:00Z")!.timeIntervalSince(
                ISO8601DateFormatter().date(from: first + "T00:00:00Z")!)) / 86_400 + 1
    }
    for scope in scopes {
        let figures = try #require(naive.days[scope], "\(scope)")
        let (first, last) = (figures.keys.min()!, figures.keys.max()!)
        let (kind, id) = (scope.split(separator: "/")[0], scope.split(separator: "/")[1])
        for (params, span) in [
            (#""days":\#(days(from: first, to: last)),"at":"\#(last)T23:59:59.999Z""#, days(from: first, to: last)),
            (#""days":\#(days(from: first, to: newestDay))"#, days(from: first, to: newestDay)),
        ] {
            let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"analytics.builds","params":{"\#(kind)":"\#(id)",\#(params)}}"#)
            guard case .array(let rows)? = response?["result"]?["days"] else {
                Issue.record("\(scope): \(String(describing: response))")
                continue
            }
            #expect(rows.count == span, "\(scope) \(params)")
            expectSameDays(rows, figures, "\(scope) \(params)")
        }
    }
}

/// Checks the days `analytics.builds` answered against the naive count's (a day it lacks had
/// no builds).
private func expectSameDays(_ rows: [JSONValue], _ days: [String: NaiveBuilds.Day], _ asked: String) {
    for row in rows {
        guard case .string(let day)? = row["day"] else { continue }
        let expected = days[day] ?? NaiveBuilds.Day()
        let what = "\(asked) \(day)"
        #expect(number(row["queued"]) == Double(expected.queued), "\(what) queued")
        #expect(number(row["succeeded"]) == Double(expected.succeeded), "\(what) succeeded")
        #expect(number(row["failed"]) == Double(expected.failed), "\(what) failed")
        #expect(number(row["canceled"]) == Double(expected.canceled), "\(what) canceled")
        let finished = expected.succeeded + expected.failed
        #expect(exactRate(row["successRate"], row["succeeded"], expected.succeeded, of: finished), "\(what) success rate")
        #expect(
            exactRate(row["cacheHitRate"], row["cacheHits"], expected.cacheHits, of: expected.cacheRestores), "\(what) cache hit rate")
        #expect(number(row["cacheRestores"]) == Double(expected.cacheRestores), "\(what) cache restores")
        #expect(close(row["p50Ms"], NaiveBuilds.percentile(expected.durations, 0.5)), "\(what) p50")
        #expect(close(row["p95Ms"], NaiveBuilds.percentile(expected.durations, 0.95)), "\(what) p95")
        if case .array(let steps)? = row["slowestSteps"] {
            let exact = expected.steps.mapValues { NaiveBuilds.percentile($0, 0.95)! }
            #expect(steps.count == min(3, exact.count), "\(what) steps")
            for step in steps {
                guard case .string(let name)? = step["step"] else { continue }
                #expect(close(step["p95Ms"], exact[name]), "\(what) step \(name)")
            }
            // The slowest is the one with the largest p95.
            if let first = steps.first, case .string(let name)? = first["step"], let top = exact.values.max() {
                #expect(abs(exact[name]! - top) <= 0.01 * top, "\(what) slowest step")
            }
        }
    }
}

@Suite("analytics.builds")
struct AnalyticsMethodTests {
    private static let history = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("EventSchemas/examples/history.ndjson").path

    @Test func buildFiguresOfTheSampleHistoryAreThoseOfANaiveCount() throws {
        let dir = try historyDirectory()
        let naive = try NaiveBuilds(ndjson: String(contentsOfFile: Self.history, encoding: .utf8))
        try expectSameFigures(
            naive, RPCServer(directory: dir.path, engine: nil), scopes: naive.days.keys.sorted(), newestDay: naive.newestDay)
    }

    @Test func buildFiguresOfAGeneratedWorkloadAreThoseOfANaiveCount() throws {
        let dir = TemporaryDirectory()
        let workload = try run(generateExecutable, ["--events", "30000", "--seed", "5"]).stdout
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(workload.utf8)).status == 0)
        let naive = try NaiveBuilds(ndjson: workload)
        let scopes = naive.days.keys.sorted()
        #expect(scopes.count > 4)
        try expectSameFigures(
            naive, RPCServer(directory: dir.path, engine: nil), scopes: Array(scopes.prefix(3) + scopes.suffix(3)),
            newestDay: naive.newestDay)
    }

    @Test func figuresAtASeqAreThoseOfTheEventsUpToItInTheWeekEndingOnItsDay() throws {
        let dir = TemporaryDirectory()
        let workload = try run(generateExecutable, ["--events", "30000", "--seed", "5"]).stdout
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(workload.utf8)).status == 0)
        let lines = workload.split(separator: "\n")
        let server = RPCServer(directory: dir.path, engine: nil)
        for seq in [9_000, 17_321] {
            // A fresh log gives the events seqs in the order of the lines.
            let naive = try NaiveBuilds(ndjson: lines.prefix(seq).joined(separator: "\n"))
            let event = try JSONSerialization.jsonObject(with: Data(lines[seq - 1].utf8)) as! [String: Any]
            let day = String((event["occurredAt"] as! String).prefix(10))
            for scope in naive.days.keys.sorted().prefix(4) {
                let (kind, id) = (scope.split(separator: "/")[0], scope.split(separator: "/")[1])
                let response = server.call(
                    #"{"jsonrpc":"2.0","id":1,"method":"analytics.builds","params":{"\#(kind)":"\#(id)","at":\#(seq)}}"#)
                guard case .array(let rows)? = response?["result"]?["days"] else {
                    Issue.record("\(scope): \(String(describing: response))")
                    continue
                }
                #expect(rows.count == 7 && rows.last?["day"] == .string(day), "\(scope) at \(seq)")
                expectSameDays(rows, naive.days[scope] ?? [:], "\(scope) at \(seq)")
            }
        }
    }

    @Test func aBuildRecordedLateCountsOnTheDayItHappened() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        let ask =
            #"{"jsonrpc":"2.0","id":1,"method":"analytics.builds","params":{"project":"prj_pipeline","days":1,"at":"2026-03-03T12:00:00.000Z"}}"#
        let before = server.call(ask)?["result"]?["days"]
        // Appended after every other event, with an occurredAt days earlier.
        let late =
            [
                #"{"type":"build.queued","stream":"build/b_late","occurredAt":"2026-03-03T08:00:00.000Z","actor":{"kind":"system","id":"ci"},"org":"org_acme","data":{"build":"b_late","project":"prj_pipeline","commit":"abc1234","branch":"main","trigger":"push"}}"#,
                #"{"type":"build.succeeded","stream":"build/b_late","occurredAt":"2026-03-03T08:05:00.000Z","actor":{"kind":"system","id":"ci"},"org":"org_acme","data":{"build":"b_late","project":"prj_pipeline","durationMs":300000,"artifactBytes":1024}}"#,
            ].joined(separator: "\n") + "\n"
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(late.utf8)).status == 0)
        let after = RPCServer(directory: dir.path, engine: nil).call(ask)?["result"]?["days"]
        guard case .array(let old)? = before, case .array(let new)? = after else {
            Issue.record("\(String(describing: before)) \(String(describing: after))")
            return
        }
        #expect(new[0]["day"] == .string("2026-03-03"))
        #expect(number(new[0]["queued"]) == number(old[0]["queued"])! + 1)
        #expect(number(new[0]["succeeded"]) == number(old[0]["succeeded"])! + 1)
    }

    @Test func aQuestionWithoutOneScopeOrWithABadWindowPointsAtTheParameter() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        for (params, path) in [
            (#"{}"#, "/params/project"), (#"{"project":"prj_a","org":"org_b"}"#, "/params/project"),
            (#"{"org":"org_acme","days":0}"#, "/params/days"), (#"{"org":"org_acme","at":"soon"}"#, "/params/at"),
        ] {
            let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"analytics.builds","params":\#(params)}"#)
            #expect(response?["error"]?["code"] == .integer(-32602), "\(params)")
            #expect(response?["error"]?["data"]?["path"] == .string(path), "\(params)")
        }
    }
}

/// Invocations worked out the naive way: every duration kept and sorted.
private struct NaiveInvocations {
    struct Figures {
        var count = 0, errors = 0, timeouts = 0, coldStarts = 0
        var durations: [Double] = []
    }

    /// Scope → mode ("" for both) → figures, over the events that occurred in [from, to].
    private(set) var figures: [String: [String: Figures]] = [:]
    /// Scope → runtime → figures.
    private(set) var byRuntime: [String: [String: Figures]] = [:]

    init(ndjson: String, from: String = "", to: String = "~") throws {
        var runtimes: [String: String] = [:]
        for line in ndjson.split(separator: "\n") {
            let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let data = event["data"] as! [String: Any]
            if event["type"] as? String == "function.deployed" { runtimes[data["function"] as! String] = data["runtime"] as? String }
            let at = event["occurredAt"] as! String
            guard event["type"] as? String == "function.invoked", at >= from, at <= to else { continue }
            let function = data["function"] as! String
            let runtime = runtimes[function] ?? "unknown"
            for scope in ["function/" + function, "project/" + (data["project"] as! String), "org/" + (event["org"] as! String)] {
                for (table, key) in [(0, ""), (0, data["mode"] as! String), (1, runtime)] {
                    var cell = (table == 0 ? figures : byRuntime)[scope, default: [:]][key, default: Figures()]
                    cell.count += 1
                    if data["status"] as? String == "error" { cell.errors += 1 }
                    if data["status"] as? String == "timeout" { cell.timeouts += 1 }
                    if data["coldStart"] as! Bool { cell.coldStarts += 1 }
                    cell.durations.append(Double(data["durationMs"] as! Int))
                    if table == 0 { figures[scope, default: [:]][key] = cell } else { byRuntime[scope, default: [:]][key] = cell }
                }
            }
        }
    }
}

private func expectSameInvocations(_ answer: JSONValue?, _ expected: NaiveInvocations.Figures, _ what: String) {
    #expect(number(answer?["invocations"]) == Double(expected.count), "\(what) invocations")
    for (name, counted, part) in [
        ("errorRate", "errors", expected.errors), ("timeoutRate", "timeouts", expected.timeouts),
        ("coldStartRate", "coldStarts", expected.coldStarts),
    ] {
        #expect(exactRate(answer?[name], answer?[counted], part, of: expected.count), "\(what) \(name)")
    }
    for (name, q) in [("p50Ms", 0.5), ("p95Ms", 0.95), ("p99Ms", 0.99)] {
        #expect(close(answer?[name], NaiveBuilds.percentile(expected.durations, q)), "\(what) \(name)")
    }
}

@Suite("analytics.functions")
struct FunctionAnalyticsTests {
    @Test(arguments: [("", "~"), ("2026-01-01T05:00:00.000Z", "2026-01-01T11:59:59.999Z")])
    func invocationFiguresAreThoseOfANaiveCount(from: String, to: String) throws {
        let dir = TemporaryDirectory()
        let workload = try run(generateExecutable, ["--events", "30000", "--seed", "9"]).stdout
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(workload.utf8)).status == 0)
        // Ranges are whole UTC hours: these bounds are on hour edges.
        let naive = try NaiveInvocations(ndjson: workload, from: from, to: to)
        let server = RPCServer(directory: dir.path, engine: nil)
        let scopes = naive.figures.keys.sorted()
        #expect(scopes.count > 6)
        for scope in scopes.prefix(4) + scopes.suffix(4) {
            let (kind, id) = (scope.split(separator: "/")[0], scope.split(separator: "/")[1])
            let range = from.isEmpty ? "" : #","from":"\#(from)","to":"\#(to)""#
            let result = server.call(#"{"jsonrpc":"2.0","id":1,"method":"analytics.functions","params":{"\#(kind)":"\#(id)"\#(range)}}"#)?[
                "result"]
            expectSameInvocations(result, naive.figures[scope]![""]!, scope)
            for mode in ["sync", "async"] {
                expectSameInvocations(result?[mode], naive.figures[scope]![mode] ?? .init(), "\(scope) \(mode)")
            }
            for (runtime, figures) in naive.byRuntime[scope] ?? [:] {
                expectSameInvocations(result?["byRuntime"]?[runtime], figures, "\(scope) \(runtime)")
            }
        }
    }
}

@Suite("hindsight analytics")
struct AnalyticsCommandTests {
    @Test func theBuildTrendPrintsATableAndABarPerDayAndFunctionsATablePerModeAndRuntime() throws {
        let dir = try historyDirectory()
        let builds = try run(
            hindsightExecutable, ["analytics", "builds", "--data", dir.path, "--org", "org_acme", "--at", "2026-03-11T23:59:59.999Z"])
        #expect(builds.status == 0, "\(builds.stderr)")
        let lines = builds.stdout.split(separator: "\n").map(String.init)
        // 2026-03-11: two builds queued, one succeeded, one failed; a week of days, and the total.
        #expect(lines.contains { $0.hasPrefix("2026-03-11") && $0.contains("50%") })
        #expect(lines.contains { $0.hasPrefix("2026-03-11  ") && $0.contains("█") && $0.contains("▒") })
        #expect(lines.filter { $0.hasPrefix("2026-03-") }.count == 14)
        #expect(lines.contains { $0.hasPrefix("total") })
        let json = try run(hindsightExecutable, ["analytics", "builds", "--data", dir.path, "--org", "org_acme", "--json"])
        #expect(json.stdout.contains(#""method""#) == false && json.stdout.contains(#""successRate""#))

        let functions = try run(hindsightExecutable, ["analytics", "functions", "--data", dir.path, "--project", "prj_pipeline"])
        #expect(functions.status == 0, "\(functions.stderr)")
        #expect(
            ["all", "sync", "async", "runtime go"].allSatisfy { row in
                functions.stdout.split(separator: "\n").contains { $0.hasPrefix(row) }
            })
        let refused = try run(hindsightExecutable, ["analytics", "functions", "--data", dir.path])
        #expect(refused.status != 0 && refused.stderr.contains("one of them"))

        let firing = try run(hindsightExecutable, ["alerts", "--data", dir.path, "--at", "2026-03-11T14:10:00.000Z"]).stdout
        #expect(firing.contains("rule_checkout_latency") && firing.contains("rule_checkout_errors"))
        let history = try run(
            hindsightExecutable, ["alerts", "--data", dir.path, "--from", "2026-03-01T00:00:00.000Z", "--to", "2026-03-31T00:00:00.000Z"])
        #expect(history.stdout.split(separator: "\n").filter { $0.contains("resolved") }.count == 2)
        #expect(try run(hindsightExecutable, ["alerts", "--data", dir.path]).stdout.contains("no alert is firing"))

        let metrics = try run(
            hindsightExecutable,
            [
                "analytics", "metrics", "--data", dir.path, "http.latency_ms", "--tag", "project=prj_checkout",
                "--from", "2026-03-11T00:00:00.000Z", "--to", "2026-03-11T23:59:59.999Z",
            ])
        // Two hours of latency on 11 March: 13:58 alone, then 14:02 to 14:38.
        #expect(
            metrics.stdout.split(separator: "\n").filter { $0.hasPrefix("2026-03-11T1") }.count == 2, "\(metrics.stdout)\(metrics.stderr)")
        #expect(metrics.stdout.contains("2026-03-11T14:00:00.000Z  19"), "\(metrics.stdout)")
    }
}

@Suite("webhooks.deliveries")
struct WebhookDeliveryTests {
    @Test func deliveryFiguresAreThoseOfANaiveCount() throws {
        let dir = TemporaryDirectory()
        let workload = try run(generateExecutable, ["--events", "30000", "--seed", "9"]).stdout
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(workload.utf8)).status == 0)
        // Attempts per webhook: every delivered and failed event; successes, a 2xx answer.
        var attempts: [String: (count: Int, successes: Int, durations: [Double])] = [:]
        for line in workload.split(separator: "\n")
        where line.contains(#""type":"webhook.delivered""#) || line.contains(#""type":"webhook.failed""#) {
            let data = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["data"] as! [String: Any]
            var entry = attempts[data["webhook"] as! String] ?? (0, 0, [])
            entry.count += 1
            if let status = data["httpStatus"] as? Int, (200..<300).contains(status) { entry.successes += 1 }
            if let duration = data["durationMs"] as? Int { entry.durations.append(Double(duration)) }
            attempts[data["webhook"] as! String] = entry
        }
        #expect(attempts.count > 3 && attempts.values.contains { $0.successes < $0.count })
        let server = RPCServer(directory: dir.path, engine: nil)
        for (webhook, expected) in attempts {
            let result = server.call(#"{"jsonrpc":"2.0","id":1,"method":"webhooks.deliveries","params":{"webhook":"\#(webhook)"}}"#)?[
                "result"]
            #expect(number(result?["attempts"]) == Double(expected.count), "\(webhook)")
            #expect(number(result?["successes"]) == Double(expected.successes), "\(webhook)")
            #expect(number(result?["failures"]) == Double(expected.count - expected.successes), "\(webhook)")
            #expect(exactRate(result?["successRate"], result?["successes"], expected.successes, of: expected.count), "\(webhook)")
            #expect(number(result?["answered"]) == Double(expected.durations.count), "\(webhook)")
            #expect(close(result?["p95Ms"], NaiveBuilds.percentile(expected.durations, 0.95)), "\(webhook)")
        }
        let missing = server.call(#"{"jsonrpc":"2.0","id":1,"method":"webhooks.deliveries","params":{}}"#)
        #expect(missing?["error"]?["data"]?["path"] == .string("/params/webhook"))
    }
}

@Suite("analytics.metrics")
struct MetricAnalyticsTests {
    /// Whole hours are read from the model's hourly cells, shorter steps from the log.
    @Test(arguments: [3600, 7200, 600, 90])
    func everyStepIsThatOfANaiveRollUpWhateverTheTagFilter(stepSec: Int) throws {
        let dir = TemporaryDirectory()
        let workload = try run(generateExecutable, ["--events", "30000", "--seed", "9"]).stdout
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(workload.utf8)).status == 0)
        var values: [(name: String, tags: [String: String], ms: Int64, value: Double)] = []
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for line in workload.split(separator: "\n") where line.contains(#""type":"metric.recorded""#) {
            let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let data = event["data"] as! [String: Any]
            let ms = Int64((format.date(from: event["occurredAt"] as! String)!.timeIntervalSince1970 * 1000).rounded())
            values.append((data["name"] as! String, data["tags"] as? [String: String] ?? [:], ms, (data["value"] as! NSNumber).doubleValue))
        }
        let sample = try #require(values.first { $0.tags.count == 2 })
        let filters: [[String: String]] = [[:], sample.tags, sample.tags.filter { $0.key == sample.tags.keys.sorted()[0] }]
        let server = RPCServer(directory: dir.path, engine: nil)
        for filter in filters {
            let tags = String(decoding: try JSONSerialization.data(withJSONObject: filter, options: [.sortedKeys]), as: UTF8.self)
            let request =
                #"{"jsonrpc":"2.0","id":1,"method":"analytics.metrics","params":{"name":"\#(sample.name)","tags":\#(tags),"from":"2026-01-01T00:00:00.000Z","to":"2026-01-02T00:00:00.000Z","stepSec":\#(stepSec)}}"#
            guard case .array(let series)? = server.call(request)?["result"]?["series"] else {
                Issue.record("\(filter): \(String(describing: server.call(request)))")
                continue
            }
            // The naive roll-up: every matching value, in its step.
            var steps: [Int64: [Double]] = [:]
            for value in values where value.name == sample.name && filter.allSatisfy({ value.tags[$0.key] == $0.value }) {
                steps[value.ms / Int64(stepSec * 1000) * Int64(stepSec * 1000), default: []].append(value.value)
            }
            #expect(series.count == steps.count, "\(filter)")
            #expect(steps.count > 1, "\(filter)")
            for step in series {
                guard case .string(let t)? = step["t"], let start = format.date(from: t).map({ Int64($0.timeIntervalSince1970 * 1000) }),
                    let expected = steps[start]
                else {
                    Issue.record("\(filter): a step the naive roll-up does not have: \(step)")
                    continue
                }
                #expect(number(step["count"]) == Double(expected.count), "\(filter) \(t)")
                #expect(number(step["min"]) == expected.min() && number(step["max"]) == expected.max(), "\(filter) \(t)")
                let average = expected.reduce(0, +) / Double(expected.count)
                #expect(number(step["avg"]).map { abs($0 - average) <= 1e-6 * abs(average) + 0.001 } == true, "\(filter) \(t)")
                #expect(close(step["p95"], NaiveBuilds.percentile(expected, 0.95)), "\(filter) \(t)")
            }
        }
        let refused = server.call(
            #"{"jsonrpc":"2.0","id":1,"method":"analytics.metrics","params":{"name":"cpu.percent","from":"2026-01-01T00:00:00.000Z","to":"2026-01-02T00:00:00.000Z","stepSec":0}}"#
        )
        #expect(refused?["error"]?["data"]?["path"] == .string("/params/stepSec"))
    }
}

extension MetricAnalyticsTests {
    @Test func aValueTooLargeForAnExactSumIsCountedWithoutAnAverage() throws {
        let dir = TemporaryDirectory()
        let values = ["1e300", "-2.5e16", "12.25", "7.75"]
        let events = values.enumerated().map { index, value in
            #"{"type":"metric.recorded","stream":"metric/x","org":"org_1","actor":{"kind":"system","id":"collector"},"data":{"name":"x","value":\#(value)},"occurredAt":"2026-01-01T0\#(index):00:00.000Z"}"#
        }
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(events.joined(separator: "\n").utf8)).status == 0)
        let server = RPCServer(directory: dir.path, engine: nil)
        for stepSec in [3600, 14_400, 600] {
            let request =
                #"{"jsonrpc":"2.0","id":1,"method":"analytics.metrics","params":{"name":"x","from":"2026-01-01T00:00:00.000Z","to":"2026-01-01T05:00:00.000Z","stepSec":\#(stepSec)}}"#
            guard case .array(let series)? = server.call(request)?["result"]?["series"] else {
                Issue.record("\(stepSec): \(String(describing: server.call(request)))")
                continue
            }
            if stepSec == 14_400 {
                #expect(series.count == 1 && number(series.first?["count"]) == 4)
                #expect(series.first?["avg"] == .null && number(series.first?["max"]) == 1e300 && number(series.first?["min"]) == -2.5e16)
            } else {
                #expect(series.map { $0["avg"] == .null } == [true, true, false, false], "\(stepSec)")
                #expect(number(series.last?["avg"]) == 7.75, "\(stepSec)")
            }
        }
    }
}

@Suite("alerts")
struct AlertTests {
    private static let history = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("EventSchemas/examples/history.ndjson").path

    @Test func theSampleHistorysLatencyAlertFiresAndResolvesAndTheErrorsAlertEndsWithItsRule() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        let history = server.call(
            #"{"jsonrpc":"2.0","id":1,"method":"alerts.history","params":{"from":"2026-03-01T00:00:00.000Z","to":"2026-03-31T00:00:00.000Z"}}"#
        )
        guard case .array(let transitions)? = history?["result"]?["transitions"] else {
            Issue.record("\(String(describing: history))")
            return
        }
        // Latency (average over 5 minutes > 800 ms): 760 and 930 at 14:02 and 14:04 average 845;
        // at 14:30 the last five minutes (880, 640, 410) average 643. Errors (average over 10
        // minutes ≥ 5): 2 and 9 average 5.5 at 14:03, and it stays above until its rule is removed.
        let seen = transitions.map { transition -> String in
            guard case .string(let rule)? = transition["rule"], case .string(let kind)? = transition["kind"],
                case .string(let at)? = transition["at"]
            else { return "?" }
            return "\(rule) \(kind) \(at) \(number(transition["value"]).map { String(format: "%.1f", $0) } ?? "-")"
        }
        #expect(
            seen == [
                "rule_checkout_errors fired 2026-03-11T14:03:00.000Z 5.5",
                "rule_checkout_latency fired 2026-03-11T14:04:00.000Z 845.0",
                "rule_checkout_latency resolved 2026-03-11T14:30:00.000Z 643.3",
                "rule_checkout_errors resolved 2026-03-18T09:00:00.000Z -",
            ])
        let active = { (at: String) -> [String] in
            guard
                case .array(let alerts)? = server.call(#"{"jsonrpc":"2.0","id":1,"method":"alerts.active","params":{"at":\#(at)}}"#)?[
                    "result"]?["alerts"]
            else { return ["?"] }
            return alerts.compactMap { if case .string(let rule)? = $0["rule"] { rule } else { nil } }
        }
        #expect(active(#""2026-03-11T14:10:00.000Z""#) == ["rule_checkout_errors", "rule_checkout_latency"])
        #expect(active(#""2026-03-12T00:00:00.000Z""#) == ["rule_checkout_errors"])
        #expect(active(#""2026-03-19T00:00:00.000Z""#).isEmpty)
        // As of an event: the one that made latency fire.
        if case .integer(let seq)? = transitions[1]["seq"] {
            #expect(active(String(seq)) == ["rule_checkout_errors", "rule_checkout_latency"])
            #expect(active(String(seq - 1)) == ["rule_checkout_errors"])
        }
    }

    @Test func aWindowDefinedAgainAfterItsLastRuleWentStartsEmptyHoweverTheEventsAreBatched() throws {
        let dir = TemporaryDirectory()
        func event(_ type: String, _ data: String, minute: Int) -> String {
            #"{"type":"\#(type)","stream":"alert/x","org":"org_1","actor":{"kind":"system","id":"t"},"data":\#(data),"occurredAt":"2026-01-01T00:\#(String(format: "%02d", minute)):00.000Z"}"#
        }
        let value = { (v: Int, minute: Int) in event("metric.recorded", #"{"name":"m","value":\#(v)}"#, minute: minute) }
        let events = [
            event("alert.rule_defined", #"{"rule":"a","metric":"m","op":"gt","threshold":50,"windowSec":600}"#, minute: 0),
            value(100, 1),  // a fires: average 100
            event("alert.rule_removed", #"{"rule":"a"}"#, minute: 2),
            event("alert.rule_defined", #"{"rule":"b","metric":"m","op":"gt","threshold":50,"windowSec":600}"#, minute: 3),
            value(40, 4),  // b's window holds 40 alone: it does not fire
            value(70, 5),  // average 55: b fires
        ]
        let dump = { () throws -> String in try run(hindsightExecutable, ["dump", "--data", dir.path, "alerts"]).stdout }
        // Applied in two batches, the second removing the rule whose window the first stored values for.
        for part in [events[..<2], events[2...]] {
            #expect(
                try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data((part.joined(separator: "\n") + "\n").utf8)).status
                    == 0)
            #expect(try run(hindsightExecutable, ["query", "--data", dir.path, "alerts.active"]).status == 0)
        }
        let inTwo = try dump()
        #expect(try run(hindsightExecutable, ["rebuild", "--data", dir.path, "alerts"]).status == 0)
        #expect(try dump() == inTwo)
        let server = RPCServer(directory: dir.path, engine: nil)
        guard
            case .array(let history)? = server.call(
                #"{"jsonrpc":"2.0","id":1,"method":"alerts.history","params":{"from":"2026-01-01T00:00:00.000Z","to":"2026-01-01T01:00:00.000Z"}}"#
            )?["result"]?["transitions"]
        else {
            Issue.record("no history")
            return
        }
        let seen = history.map { step -> String in
            guard case .string(let rule)? = step["rule"], case .string(let kind)? = step["kind"] else { return "?" }
            return "\(rule) \(kind) \(number(step["value"]).map { String(format: "%.0f", $0) } ?? "-")"
        }
        #expect(seen == ["a fired 100", "a resolved -", "b fired 55"])
    }

    @Test(arguments: ["builds", "functions", "metrics", "webhooks", "alerts"])
    func theModelIsTheSameBuiltInSmallBatchesRebuiltOrRebuiltFromASnapshot(model: String) throws {
        let dir = TemporaryDirectory()
        let lines = try String(contentsOfFile: Self.history, encoding: .utf8).split(separator: "\n")
        // `dump` catches the model up first.
        let dump = { () throws -> String in try run(hindsightExecutable, ["dump", "--data", dir.path, model]).stdout }
        // Appended in parts, the model caught up after each.
        for part in stride(from: 0, to: lines.count, by: 50) {
            let chunk = lines[part..<min(lines.count, part + 50)].joined(separator: "\n") + "\n"
            #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(chunk.utf8)).status == 0)
            #expect(try run(hindsightExecutable, ["dump", "--data", dir.path, model]).status == 0)
            if part == 200 { #expect(try run(hindsightExecutable, ["snapshot", "--data", dir.path, model]).status == 0) }
        }
        let live = try dump()
        #expect(live.split(separator: "\n").count > 3, "the model holds rows")
        // Rebuilt: from the snapshot taken part-way, and (once it is gone) from seq 1.
        let fromSnapshot = try run(hindsightExecutable, ["rebuild", "--data", dir.path, model, "--json"])
        #expect(fromSnapshot.stdout.contains(#""from":250"#), "\(fromSnapshot.stdout)")
        #expect(try dump() == live)
        try FileManager.default.removeItem(atPath: dir.path + "/snapshots")
        #expect(try run(hindsightExecutable, ["rebuild", "--data", dir.path, model, "--json"]).stdout.contains(#""from":0"#))
        #expect(try dump() == live)
    }
}
