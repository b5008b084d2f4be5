import Foundation
import HindsightCore
import HindsightEngine
import HindsightProjections
import HindsightRPC
import HindsightTestSupport
import Testing

/// A `hindsight query` process, not started, its output discarded.
func queryProcess(_ data: String, _ method: String, params: String = "{}") -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: hindsightExecutable)
    process.arguments = ["query", "--data", data, method, "--params", params]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    return process
}

/// Seqs of the records of a search's response, newest first.
func seqs(_ response: JSONValue?) -> [Int64] { seqs(ofResult: response?["result"]) }

/// Seqs of the records of a search's result as `hindsight query audit.search` prints it.
func seqs(printed output: String) -> [Int64] { seqs(ofResult: JSONValue(parsing: Array(output.utf8))) }

/// Seqs of a search's records, newest first.
func seqs(ofResult result: JSONValue?) -> [Int64] {
    guard case .array(let records)? = result?["records"] else { return [] }
    return records.compactMap { record in
        if case .integer(let seq)? = record["seq"] { return seq }
        return nil
    }
}

/// Every event of the sample history, decoded, by seq (1-based).
func historyEvents(_ dir: TemporaryDirectory) throws -> [[String: Any]] {
    let text = try run(hindsightExecutable, ["read", "--data", dir.path]).stdout
    return text.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
}

@Suite("The audit read model")
struct AuditTests {
    @Test func eachFilterFindsWhatANaiveScanFindsNewestFirst() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        let events = try historyEvents(dir)
        func expected(_ keep: ([String: Any]) -> Bool) -> [Int64] {
            events.filter(keep).map { ($0["seq"] as! NSNumber).int64Value }.reversed()
        }
        func search(_ params: String) -> [Int64] {
            seqs(server.call(#"{"jsonrpc":"2.0","id":1,"method":"audit.search","params":{"limit":1000,\#(params)}}"#))
        }
        let data = { (event: [String: Any]) in event["data"] as! [String: Any] }
        #expect(search(#""actor":"usr_erin""#) == expected { ($0["actor"] as! [String: Any])["id"] as? String == "usr_erin" })
        #expect(
            search(#""types":["backup.failed","role.revoked"]"#)
                == expected { ["backup.failed", "role.revoked"].contains($0["type"] as! String) })
        #expect(search(#""typePrefix":"token.""#) == expected { ($0["type"] as! String).hasPrefix("token.") })
        #expect(search(#""org":"org_acme""#).count == events.count)
        // Every string anywhere in data, for a naive look for references.
        func strings(_ value: Any) -> [String] {
            if let text = value as? String { return [text] }
            if let list = value as? [Any] { return list.flatMap(strings) }
            if let object = value as? [String: Any] { return object.values.flatMap(strings) }
            return []
        }
        let checkout = search(#""resource":"project/prj_checkout""#)
        #expect(
            checkout
                == expected { event in
                    event["stream"] as? String == "project/prj_checkout"
                        || strings(data(event)).contains { $0 == "prj_checkout" || $0 == "project/prj_checkout" }
                })
        let window = search(#""from":"2026-03-11T14:00:00.000Z","to":"2026-03-11T14:59:59.999Z""#)
        #expect(window == expected { ($0["occurredAt"] as! String).hasPrefix("2026-03-11T14:") })
        #expect(!window.isEmpty && window == window.sorted(by: >))
    }

    /// Filters combined: the walk takes one key and looks every seq up in the others' blocks,
    /// and pages follow each other through the whole answer.
    @Test func combinedFiltersFindWhatANaiveScanFindsPageByPage() throws {
        let dir = TemporaryDirectory()
        let workload = try run(generateExecutable, ["--events", "20000", "--seed", "11"]).stdout
        #expect(
            try run(hindsightExecutable, ["append", "--data", dir.path, "--batch-lines", "3000"], stdin: Data(workload.utf8)).status == 0)
        let server = RPCServer(directory: dir.path, engine: nil)
        let events = try historyEvents(dir)
        let actorOf = { (event: [String: Any]) in (event["actor"] as! [String: Any])["id"] as! String }
        func most(_ key: ([String: Any]) -> String?) -> String {
            Dictionary(grouping: events.compactMap(key), by: { $0 }).max { $0.value.count < $1.value.count }!.key
        }
        let actor = most { actorOf($0).hasPrefix("usr_") ? actorOf($0) : nil }
        let org = most { $0["org"] as? String }
        let project = most { ($0["stream"] as! String).hasPrefix("project/") ? $0["stream"] as? String : nil }
        let day = String((events[events.count / 2]["occurredAt"] as! String).prefix(10))
        /// Every page of a search, 37 records at a time, joined.
        func search(_ params: String) -> [Int64] {
            var found: [Int64] = []
            var cursor = ""
            while true {
                let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"audit.search","params":{"limit":37,\#(params)\#(cursor)}}"#)
                found += seqs(response)
                guard case .string(let next)? = response?["result"]?["nextCursor"] else { return found }
                cursor = #","cursor":"\#(next)""#
            }
        }
        func expected(_ keep: ([String: Any]) -> Bool) -> [Int64] {
            events.filter(keep).map { ($0["seq"] as! NSNumber).int64Value }.reversed()
        }
        let type = { (event: [String: Any]) in event["type"] as! String }
        let cases: [(String, ([String: Any]) -> Bool)] = [
            (#""actor":"\#(actor)","org":"\#(org)""#, { actorOf($0) == actor && $0["org"] as? String == org }),
            (#""actor":"\#(actor)","typePrefix":"build.""#, { actorOf($0) == actor && type($0).hasPrefix("build.") }),
            (
                #""types":["build.succeeded","function.deployed"],"org":"\#(org)""#,
                {
                    ["build.succeeded", "function.deployed"].contains(type($0)) && $0["org"] as? String == org
                }
            ),
            (
                #""resource":"\#(project)","types":["build.queued"]"#,
                {
                    type($0) == "build.queued" && ($0["data"] as! [String: Any])["project"] as? String == String(project.dropFirst(8))
                }
            ),
            (
                #""org":"\#(org)","from":"\#(day)T00:00:00Z","to":"\#(day)T23:59:59.999Z""#,
                {
                    $0["org"] as? String == org && ($0["occurredAt"] as! String).hasPrefix(day)
                }
            ),
        ]
        for (params, keep) in cases {
            let want = expected(keep)
            #expect(!want.isEmpty, "\(params) finds nothing in the workload")
            #expect(search(params) == want, "\(params)")
        }
    }

    /// An auditor follows one change across the events it caused by their `correlationId`.
    @Test func aCorrelationIdFindsTheEventsOfOneChangeNewestFirst() throws {
        let dir = try historyDirectory()
        func build(_ number: Int, actor: String, correlation: String?) -> String {
            let traced = correlation.map { #","correlationId":"\#($0)""# } ?? ""
            return
                #"{"type":"build.queued","stream":"build/b_c\#(number)","occurredAt":"2026-03-21T09:0\#(number):00.000Z","actor":{"kind":"user","id":"\#(actor)"},"org":"org_acme","data":{"build":"b_c\#(number)","project":"prj_checkout","commit":"935afcca71cfdf80e4ebb5c8ad4582808886a3db","branch":"main","trigger":"push"}\#(traced)}"#
        }
        let lines = [
            build(1, actor: "usr_alice", correlation: "chg_1"), build(2, actor: "usr_bob", correlation: "chg_2"),
            build(3, actor: "usr_bob", correlation: "chg_1"), build(4, actor: "usr_alice", correlation: nil),
            build(5, actor: "usr_alice", correlation: "chg_1"),
        ]
        let appended = try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(lines.joined(separator: "\n").utf8))
        #expect(appended.status == 0, "\(appended.stderr)")
        let server = RPCServer(directory: dir.path, engine: nil)
        func search(_ params: String) -> [Int64] {
            seqs(server.call(#"{"jsonrpc":"2.0","id":1,"method":"audit.search","params":{\#(params)}}"#))
        }
        // The sample history ends at seq 372: the five are 373 to 377.
        #expect(search(#""correlationId":"chg_1""#) == [377, 375, 373])
        #expect(search(#""correlationId":"chg_1","actor":"usr_alice""#) == [377, 373])
        #expect(search(#""correlationId":"chg_2","resource":"project/prj_checkout""#) == [374])
        #expect(search(#""correlationId":"chg_3""#) == [])
        // The sample history's release of build b_001: queued, built, and announced by webhook.
        #expect(search(#""correlationId":"chg_release_b_001""#) == Array((50...58).reversed()))
        #expect(search(#""correlationId":"chg_release_b_001","types":["webhook.delivered"]"#) == [58])
        // The incident commanders' role: defined, granted, and deleted a week later.
        #expect(search(#""correlationId":"chg_incident_commanders""#) == [370, 333, 332])
    }

    @Test func pagesStayStableWhileEventsArrive() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: try Engine(directory: dir.path))
        let first = try #require(
            server.call(#"{"jsonrpc":"2.0","id":1,"method":"audit.search","params":{"typePrefix":"build.","limit":10}}"#))
        guard case .string(let cursor)? = first["result"]?["nextCursor"] else {
            Issue.record("\(first)")
            return
        }
        let event =
            #"{"type":"build.queued","stream":"build/b_900","occurredAt":"2026-03-21T09:00:00.000Z","actor":{"kind":"user","id":"usr_carol"},"org":"org_acme","data":{"build":"b_900","project":"prj_checkout","commit":"abcdef1","branch":"main","trigger":"push"}}"#
        let appended = try #require(server.call(#"{"jsonrpc":"2.0","id":2,"method":"log.append","params":{"events":[\#(event)]}}"#))
        #expect(appended["result"]?["firstSeq"] == 373)
        let second = seqs(
            server.call(
                #"{"jsonrpc":"2.0","id":3,"method":"audit.search","params":{"typePrefix":"build.","limit":10,"cursor":"\#(cursor)"}}"#))
        let all = seqs(server.call(#"{"jsonrpc":"2.0","id":4,"method":"audit.search","params":{"typePrefix":"build.","limit":1000}}"#))
        #expect(all.first == 373, "the new event is seen at once")
        #expect(seqs(first) + second == Array(all.dropFirst().prefix(20)), "the second page continues the first exactly")
    }

    @Test func erasureReachesTheReadModel() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: try Engine(directory: dir.path))
        let query = #"{"jsonrpc":"2.0","id":1,"method":"audit.search","params":{"types":["member.invited"],"limit":10}}"#
        #expect(String(decoding: server.respond(to: Array(query.utf8))!, as: UTF8.self).contains("grace@acme.example"))
        _ = server.call(#"{"jsonrpc":"2.0","id":2,"method":"privacy.erase","params":{"person":"usr_grace"}}"#)
        let after = String(decoding: server.respond(to: Array(query.utf8))!, as: UTF8.self)
        #expect(!after.contains("grace@"))
        #expect(after.components(separatedBy: "[erased]").count - 1 == 2)
        // The read model's own file never held the address in plaintext.
        let file = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/projections/audit.sqlite"))
        #expect(file.range(of: Data("grace@acme.example".utf8)) == nil)
    }

    @Test func aCatchUpKilledAtRandomMomentsNeitherRepeatsNorSkipsAnEvent() throws {
        let dir = TemporaryDirectory()
        let file = dir.path + "/workload.ndjson"
        try run(generateExecutable, ["--events", "100000", "--seed", "3"]).stdout.write(toFile: file, atomically: true, encoding: .utf8)
        let data = dir.path + "/data"
        #expect(try run(hindsightExecutable, ["append", "--data", data, file]).status == 0)
        // Kills that left the model behind: catch-ups cut short. Status shows the models as
        // they are, without catching them up.
        var cutShort = 0
        for _ in 0..<12 {
            let process = queryProcess(data, "audit.search", params: #"{"limit":1}"#)
            try process.run()
            usleep(UInt32.random(in: 10_000...200_000))
            guard process.isRunning else { continue }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let status = try run(hindsightExecutable, ["query", "--data", data, "projections.status"])
            #expect(status.status == 0, "\(status.stdout)")
            if !status.stdout.contains(#"{"lag":0,"name":"audit","position":100000,"rebuilding":false}"#) { cutShort += 1 }
        }
        #expect(cutShort > 0, "no kill landed while the model was catching up")
        #expect(try run(hindsightExecutable, ["query", "--data", data, "audit.search", "--params", #"{"limit":1}"#]).status == 0)
        let status = try run(hindsightExecutable, ["query", "--data", data, "projections.status"])
        #expect(status.stdout.contains(#"{"lag":0,"name":"audit","position":100000,"rebuilding":false}"#), "\(status.stdout)")
        // The same as a read model built in one go.
        let fresh = dir.path + "/fresh"
        #expect(try run(hindsightExecutable, ["append", "--data", fresh, file]).status == 0)
        for query in [
            #"{"org":"org_1","limit":1000}"#, #"{"typePrefix":"role.","limit":1000}"#, #"{"resource":"project/prj_1_1","limit":1000}"#,
        ] {
            let a = try run(hindsightExecutable, ["query", "--data", data, "audit.search", "--params", query]).stdout
            let b = try run(hindsightExecutable, ["query", "--data", fresh, "audit.search", "--params", query]).stdout
            #expect(seqs(printed: a) == seqs(printed: b))
            #expect(!seqs(printed: a).isEmpty)
        }
    }
}

@Suite("Rebuilding a read model")
struct RebuildTests {
    @Test func queriesAreAnsweredWhileARebuildRunsBesideAndTheResultIsTheSame() throws {
        let dir = TemporaryDirectory()
        let file = dir.path + "/workload.ndjson"
        try run(generateExecutable, ["--events", "80000", "--seed", "5"]).stdout.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path, file]).status == 0)
        let server = RPCServer(directory: dir.path, engine: try Engine(directory: dir.path))
        let search = #"{"jsonrpc":"2.0","id":1,"method":"audit.search","params":{"org":"org_1","limit":100}}"#
        let before = seqs(server.call(search))
        #expect(before.count == 100)

        let started = try #require(server.call(#"{"jsonrpc":"2.0","id":2,"method":"projections.rebuild","params":{"name":"audit"}}"#))
        #expect(started["result"]?["rebuilding"] == true, "\(started)")
        var answeredDuring = 0
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let status = server.call(#"{"jsonrpc":"2.0","id":3,"method":"projections.status"}"#)
            guard case .array(let models)? = status?["result"]?["readModels"],
                models.first(where: { $0["name"] == "audit" })?["rebuilding"] == true
            else { break }
            #expect(seqs(server.call(search)) == before)
            answeredDuring += 1
        }
        #expect(answeredDuring > 0, "no query ran while the rebuild did")
        #expect(seqs(server.call(search)) == before)
        let unknown = try #require(server.call(#"{"jsonrpc":"2.0","id":4,"method":"projections.rebuild","params":{"name":"nothing"}}"#))
        #expect(errorCode(unknown) == -32602)
    }

    @Test func theCommandRebuildsAndSwaps() throws {
        let dir = try historyDirectory()
        let before = try run(hindsightExecutable, ["query", "--data", dir.path, "audit.search", "--params", #"{"limit":1000}"#]).stdout
        let rebuilt = try run(hindsightExecutable, ["rebuild", "--data", dir.path, "audit", "--json"])
        #expect(rebuilt.status == 0, "\(rebuilt.stdout)")
        #expect(rebuilt.stdout.contains(#""position":372"#))
        let after = try run(hindsightExecutable, ["query", "--data", dir.path, "audit.search", "--params", #"{"limit":1000}"#]).stdout
        #expect(seqs(printed: after) == seqs(printed: before))
    }
}

@Suite("Read models shared by processes")
struct SharedReadModelTests {
    @Test func processesCatchingUpTogetherBuildOnceAndApplyEachEventOnce() throws {
        let dir = TemporaryDirectory()
        let file = dir.path + "/workload.ndjson"
        try run(generateExecutable, ["--events", "40000", "--seed", "8"]).stdout.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path, file]).status == 0)
        let processes = (0..<3).map { _ in queryProcess(dir.path, "audit.search", params: #"{"limit":1}"#) }
        for process in processes { try process.run() }
        for process in processes {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        // More events, caught up by two processes at once: each applied once.
        let more = dir.path + "/more.ndjson"
        try run(generateExecutable, ["--events", "45000", "--seed", "8"]).stdout.split(separator: "\n").dropFirst(40000)
            .joined(separator: "\n").write(toFile: more, atomically: true, encoding: .utf8)
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path, more]).status == 0)
        let pair = (0..<2).map { _ in queryProcess(dir.path, "audit.search", params: #"{"limit":1}"#) }
        for process in pair { try process.run() }
        for process in pair {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let status = try run(hindsightExecutable, ["query", "--data", dir.path, "projections.status"]).stdout
        #expect(status.contains(#""position":45000,"rebuilding":false"#), "\(status)")
        let all = try run(hindsightExecutable, ["query", "--data", dir.path, "audit.search", "--params", #"{"org":"org_1","limit":1000}"#])
            .stdout
        let found = seqs(printed: all)
        #expect(!found.isEmpty && Set(found).count == found.count)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/projections/audit.sqlite.building"))
    }
}

@Suite("Audit read model indexes")
struct AuditIndexTests {
    /// Every statement a search runs is a seek on a key (an event's seq, a posting list's
    /// key and first seq, an hour), never a scan: with the walk stopping after the page, the
    /// work of a page does not grow with the history, so the model serves ten million
    /// events as it serves a thousand. SQLite's own plan says so.
    @Test func everyStatementASearchRunsSeeksAKeyAndNeverScans() throws {
        let dir = try historyDirectory()
        _ = try run(hindsightExecutable, ["query", "--data", dir.path, "audit.search", "--params", #"{"limit":1}"#])
        let db = try SQLiteDatabase(path: dir.path + "/projections/audit.sqlite", readOnly: true)
        let plans = try AuditReadModel.plans(in: db)
        #expect(plans.count == 5)
        for (sql, plan) in plans {
            #expect(!plan.isEmpty, "\(sql): no plan")
            for step in plan {
                #expect(step.hasPrefix("SEARCH") && (step.contains("PRIMARY KEY") || step.contains("INDEX")), "\(sql): \(plan)")
                #expect(!step.contains("TEMP B-TREE"), "\(sql): sorts: \(plan)")
            }
        }
    }
}

@Suite("hindsight audit")
struct AuditCommandTests {
    @Test func theTrailPrintsAPageAtATimeAndTheCursorOfTheNext() throws {
        let dir = try historyDirectory()
        let builds = try run(hindsightExecutable, ["audit", "--data", dir.path, "--type", "build.queued", "--limit", "10"])
        #expect(builds.status == 0, "\(builds.stderr)")
        let rows = builds.stdout.split(separator: "\n").dropFirst().filter { !$0.hasPrefix("more:") }
        #expect(rows.count == 10 && rows.allSatisfy { $0.contains("build.queued") }, "\(builds.stdout)")
        let more = try #require(builds.stdout.split(separator: "\n").last.flatMap { $0.firstMatch(of: /more: --cursor (\d+)/)?.1 })
        let next = try run(
            hindsightExecutable, ["audit", "--data", dir.path, "--type", "build.queued", "--limit", "10", "--cursor", String(more)])
        // 14 builds were queued: the second page holds the other 4, and says no more.
        #expect(next.stdout.split(separator: "\n").count == 5 && !next.stdout.contains("more:"), "\(next.stdout)")
        // --json prints the answer as the query interface gives it.
        let json = try run(hindsightExecutable, ["audit", "--data", dir.path, "--type", "build.queued", "--limit", "10", "--json"])
        let answer = JSONValue(parsing: Array(json.stdout.utf8))
        #expect(answer?["nextCursor"] == .string(String(more)) && answer?["position"] == 372)
    }

    @Test func aBareDateNamesTheWholeDay() throws {
        let dir = try historyDirectory()
        // Two builds were queued on 11 March 2026: --from and --to of that date take the whole day.
        let day = try run(
            hindsightExecutable,
            ["audit", "--data", dir.path, "--type", "build.queued", "--from", "2026-03-11", "--to", "2026-03-11", "--json"])
        guard case .array(let records)? = JSONValue(parsing: Array(day.stdout.utf8))?["records"] else {
            Issue.record("no records: \(day.stdout)\(day.stderr)")
            return
        }
        #expect(records.count == 2)
        let time = try run(
            hindsightExecutable,
            [
                "audit", "--data", dir.path, "--type", "build.queued", "--from", "2026-03-11T00:00:00+00:00", "--to",
                "2026-03-11T23:59:59.999Z", "--json",
            ])
        #expect(time.stdout == day.stdout)
    }

    @Test func anUnknownTypeOrABadTimeIsAnErrorNotAnEmptyAnswer() throws {
        let dir = try historyDirectory()
        let misspelt = try run(hindsightExecutable, ["audit", "--data", dir.path, "--type", "build.queud"])
        #expect(misspelt.status == 1 && misspelt.stderr.contains("build.queud is not a type in the event catalogue"), "\(misspelt.stderr)")
        let badTime = try run(hindsightExecutable, ["audit", "--data", dir.path, "--from", "11 March"])
        #expect(badTime.status == 1 && badTime.stderr.contains("--from takes"), "\(badTime.stderr)")
    }
}
