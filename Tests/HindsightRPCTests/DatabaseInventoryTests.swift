import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// `databases.list`, `backups.list` and `backups.overdue` against a naive replay written
/// separately from the contract (`Tools/naive_databases.py`), at many moments of the sample
/// history and of a generated one.
@Suite("The databases and backups inventory")
struct DatabaseInventoryTests {
    private func expectSameAnswers(_ dir: TemporaryDirectory, seed: Int) throws -> (compared: Int, overdue: Int) {
        let replay = try NaiveReplay(
            tool: "naive_databases.py", directory: dir,
            timeFields: [
                "provisionedAt", "deprovisionedAt", "lastStartedAt", "lastCompletedAt", "lastFailedAt", "startedAt", "completedAt",
                "failedAt", "at",
            ])
        let data = replay.lines.compactMap { $0["data"] as? [String: Any] }
        // A project that has databases, and a database that has backups.
        let provisioned = replay.lines.filter { $0["type"] as? String == "database.provisioned" }.compactMap {
            $0["data"] as? [String: Any]
        }
        let project =
            Dictionary(grouping: provisioned.compactMap { $0["project"] as? String }, by: { $0 })
            .max { $0.value.count < $1.value.count }?.key ?? "none"
        let database = data.first { $0["backup"] != nil }?["database"] as? String ?? "none"
        let server = RPCServer(directory: dir.path, engine: nil)
        var compared = 0
        var overdue = 0
        for (params, moment) in replay.moments(seed: seed, laterDays: [1, 30]) {
            for (method, extra, arguments, key) in [
                ("databases.list", "", ["--databases"], "databases"),
                ("databases.list", #""project":"\#(project)""#, ["--databases", "--project", project], "databases"),
                ("backups.list", #""database":"\#(database)""#, ["--backups", database], "backups"),
                ("backups.overdue", "", ["--overdue"], "databases"),
            ] {
                let joined = [params, extra].filter { !$0.isEmpty }.joined(separator: ",")
                var want = try replay.replayed(key, moment, arguments)
                var got = replay.answered(server, method, joined, key)
                if method == "backups.overdue" {
                    // The replay names the fields an overdue database needs; the answer has every
                    // field of databases.list beside them.
                    let fields = Set(want.first?.keys ?? [:].keys)
                    got = got.map { $0.filter { fields.contains($0.key) } }
                    overdue += want.count
                    if moment.isEmpty {
                        // Now is read twice, a moment apart: how late each is differs by as much.
                        (got, want) = (got.map { $0.filter { $0.key != "overdueMs" } }, want.map { $0.filter { $0.key != "overdueMs" } })
                    }
                } else if method == "databases.list" {
                    got = got.map { $0.filter { $0.key != "overdueMs" } }
                }
                if method == "backups.list" { want = want.map { $0.filter { $0.key != "database" } } }
                #expect(got == want, "\(method) {\(joined)}")
                compared += want.count
            }
        }
        return (compared, overdue)
    }

    @Test func theSampleHistoryAnswersAsAReplayDoes() throws {
        let dir = try historyDirectory()
        let (compared, overdue) = try expectSameAnswers(dir, seed: 3)
        #expect(compared > 0 && overdue > 0)
    }

    @Test func aGeneratedHistoryAnswersAsAReplayDoes() throws {
        let dir = try generatedDirectory(events: 20000, seed: 17)
        let (compared, overdue) = try expectSameAnswers(dir, seed: 7)
        #expect(compared > 100 && overdue > 0)
    }

    @Test func theCommandsPrintTablesAndRefuseAnAmbiguousQuestion() throws {
        let dir = try historyDirectory()
        let databases = try run(hindsightExecutable, ["databases", "--data", dir.path, "--project", "prj_checkout"])
        #expect(databases.status == 0, "\(databases.stderr)")
        #expect(databases.stdout.contains("db_orders") && !databases.stdout.contains("db_events"))
        let late = try run(hindsightExecutable, ["backups", "--data", dir.path, "--overdue", "--at", "2026-03-20T00:00:00Z"])
        #expect(late.status == 0 && late.stdout.contains("db_orders"), "\(late.stderr)")
        let backups = try run(hindsightExecutable, ["backups", "--data", dir.path, "db_orders", "--json"])
        #expect(backups.status == 0 && backups.stdout.contains(#""status":"failed""#), "\(backups.stdout)")
        let ambiguous = try run(hindsightExecutable, ["backups", "--data", dir.path, "db_orders", "--overdue"])
        #expect(ambiguous.status != 0 && ambiguous.stderr.contains("give a database, or --overdue"))
    }
}
