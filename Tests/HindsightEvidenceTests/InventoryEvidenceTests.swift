import Foundation
import HindsightCore
import HindsightTestSupport
import Testing

/// The evidence an auditor asks for most: backups over a period and tokens at a moment, as
/// bundles both verifiers check, whose rows are the query service's own answers.
@Suite("Backup and token evidence")
struct InventoryEvidenceTests {
    /// A generated history with databases, schedules, backups (completed and failed), tokens,
    /// rotations and revocations, and its events as `hindsight read` prints them.
    private func generated(seed: Int) throws -> (evidence: Evidence, events: [[String: Any]], scratch: TemporaryDirectory) {
        let scratch = TemporaryDirectory()
        let history = scratch.path + "/history.ndjson"
        try run(generateExecutable, ["--events", "20000", "--seed", String(seed)]).stdout.write(
            toFile: history, atomically: true, encoding: .utf8)
        let evidence = try Evidence(history: history)
        let events = try run(hindsightExecutable, ["read", "--data", evidence.data]).stdout.split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        return (evidence, events, scratch)
    }

    private func rows(_ path: String) throws -> [[String: String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
    }

    private func query(_ evidence: Evidence, _ method: String, _ params: String) throws -> [String: Any] {
        let result = try run(hindsightExecutable, ["query", "--data", evidence.data, method, "--params", params])
        #expect(result.status == 0, "\(method) \(params): \(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
    }

    /// Both verifiers accept the bundle, and both refuse it once `file` is changed.
    private func expectVerifiedUntilChanged(_ evidence: Evidence, _ bundle: String, _ file: String, change: (String) -> String) throws {
        for verdict in try evidence.verdicts(bundle) { #expect(verdict.status == 0, "\(verdict.verifier): \(verdict.output)") }
        let path = bundle + "/" + file
        try change(try String(contentsOfFile: path, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
        for verdict in try evidence.verdicts(bundle) {
            #expect(verdict.status != 0 && verdict.output.contains(file), "\(verdict.verifier) after \(file) changed: \(verdict.output)")
        }
    }

    /// At every moment of the period, the databases a gap covers are those `backups.overdue`
    /// names then; the attempts are the backups whose events fall in the period.
    @Test func theGapsOfAPeriodAreWhatBackupsOverdueSaysAtEachMomentOfIt() throws {
        let (evidence, events, _) = try generated(seed: 31)
        let times = events.map { Timestamp.parse($0["occurredAt"] as! String)! }
        // From a fifth of the way in to two days after the last event: schedules run out.
        let (from, last, to) = (times[times.count / 5], times.last!, times.last! + 2 * 86_400_000)
        let bundle = evidence.scratch.path + "/backups"
        let exported = try run(
            hindsightExecutable,
            [
                "export", "backups", "--data", evidence.data, "--key", evidence.key, "--from", Timestamp.format(from), "--to",
                Timestamp.format(to), "--format", "jsonl", "--out", bundle,
            ])
        #expect(exported.status == 0, "\(exported.stderr)")
        let gaps = try rows(bundle + "/gaps.jsonl")
        let databases = Set(try rows(bundle + "/databases.jsonl").map { $0["database"]! })
        #expect(gaps.count > 3 && gaps.contains { $0["overdueUntil"] != nil } && gaps.contains { $0["overdueUntil"] == nil })
        #expect(gaps.allSatisfy { databases.contains($0["database"]!) })
        var overdueSeen = 0
        let moments = (0..<16).map { from + (last - from) * Int64($0) / 16 + 7 } + (0...8).map { last + (to - last) * Int64($0) / 8 }
        for moment in moments {
            let answer = try query(evidence, "backups.overdue", #"{"at":"\#(Timestamp.format(moment))"}"#)
            let overdue = Set((answer["databases"] as! [[String: Any]]).map { $0["database"] as! String })
            let covered = Set(
                gaps.filter { gap in
                    Timestamp.parse(gap["overdueFrom"]!)! < moment && gap["overdueUntil"].map { moment < Timestamp.parse($0)! } ?? true
                }.map { $0["database"]! })
            #expect(overdue == covered, "at \(Timestamp.format(moment))")
            overdueSeen += overdue.count
        }
        #expect(overdueSeen > 0)
        // The attempts: every backup with an event in the period.
        let attempted = Set(
            events.filter { ($0["type"] as! String).hasPrefix("backup.") && $0["type"] as! String != "backup.schedule_set" }
                .filter { (from...to).contains(Timestamp.parse($0["occurredAt"] as! String)!) }
                .filter { $0["type"] as! String != "backup.restored" }
                .map { ($0["data"] as! [String: Any])["backup"] as! String })
        let listed = try rows(bundle + "/backups.jsonl")
        #expect(Set(listed.map { $0["backup"]! }) == attempted)
        #expect(listed.contains { $0["status"] == "failed" } && listed.contains { $0["status"] == "completed" })
        try expectVerifiedUntilChanged(evidence, bundle, "gaps.jsonl") { $0.replacingOccurrences(of: "T0", with: "T1") }
    }

    /// Every token of the moment is listed with the status `tokens.list` gives it, marked stale
    /// exactly when `tokens.stale` names it, with its rotations. (The generated history spans
    /// hours, so a token not renewed today is stale: 0 days.)
    @Test func theTokensOfAMomentAreTokensListWithTheStaleOnesMarked() throws {
        let (evidence, events, _) = try generated(seed: 37)
        let seq = events.count * 3 / 4
        let bundle = evidence.scratch.path + "/tokens"
        let exported = try run(
            hindsightExecutable,
            [
                "export", "tokens", "--data", evidence.data, "--key", evidence.key, "--at", String(seq), "--older-than-days", "0",
                "--format", "jsonl", "--out", bundle,
            ])
        #expect(exported.status == 0, "\(exported.stderr)")
        let listed = try rows(bundle + "/tokens.jsonl")
        let answer = try query(evidence, "tokens.list", #"{"at":\#(seq)}"#)["tokens"] as! [[String: Any]]
        #expect(listed.map { "\($0["token"]!) \($0["status"]!)" } == answer.map { "\($0["token"]!) \($0["status"]!)" })
        let stale = try query(evidence, "tokens.stale", #"{"at":\#(seq),"olderThanDays":0}"#)["tokens"] as! [[String: Any]]
        #expect(Set(listed.filter { $0["stale"] == "true" }.map { $0["token"]! }) == Set(stale.map { $0["token"] as! String }))
        #expect(!stale.isEmpty && stale.count < listed.count && listed.contains { $0["status"] == "revoked" })
        // The rotations: every token.rotated of a listed token's lifetime by then.
        let created = Dictionary(answer.map { ($0["token"] as! String, ($0["createdSeq"] as! NSNumber).intValue) }) { $1 }
        let rotations = events.filter { event in
            let (seqOf, data) = ((event["seq"] as! NSNumber).intValue, event["data"] as? [String: Any])
            guard event["type"] as! String == "token.rotated", seqOf <= seq, let start = created[data?["token"] as? String ?? ""] else {
                return false
            }
            return seqOf > start
        }
        let rotated = try rows(bundle + "/rotations.jsonl")
        #expect(
            Set(rotated.map { "\($0["token"]!) \($0["seq"]!)" })
                == Set(rotations.map { "\(($0["data"] as! [String: Any])["token"]!) \($0["seq"]!)" }))
        #expect(!rotated.isEmpty)
        try expectVerifiedUntilChanged(evidence, bundle, "tokens.jsonl") {
            $0.replacingOccurrences(of: #""stale":"true""#, with: #""stale":"false""#)
        }
    }

    /// A schedule shortened past the last backup makes the database overdue from that event
    /// on, as `backups.overdue` says then; and a failure's reason with a line break in it is
    /// one CSV row that both verifiers count as one.
    @Test func aShortenedScheduleIsAGapFromItsEventAndAMultiLineReasonIsOneRow() throws {
        let scratch = TemporaryDirectory()
        func event(_ type: String, _ time: String, _ data: String) -> String {
            #"{"type":"\#(type)","stream":"database/db_x","occurredAt":"2026-04-01T\#(time):00.000Z","actor":{"kind":"system","id":"backup"},"org":"org_acme","data":{"database":"db_x"\#(data)}}"#
        }
        let history = scratch.path + "/history.ndjson"
        try [
            event("database.provisioned", "00:00", #","project":"prj_x","engine":"postgres","plan":"pro","region":"eu-west-1""#),
            event("backup.schedule_set", "00:00", #","everyHours":24,"retentionDays":7"#),
            event("backup.started", "01:00", #","backup":"bak_x1""#),
            event("backup.failed", "01:05", #","backup":"bak_x1","reason":"disk full\\nretry at 02:00""#),
            event("backup.schedule_set", "10:00", #","everyHours":1,"retentionDays":7"#),
        ].joined(separator: "\n").write(toFile: history, atomically: true, encoding: .utf8)
        let evidence = try Evidence(history: history)
        let bundle = evidence.scratch.path + "/backups"
        let exported = try run(
            hindsightExecutable,
            [
                "export", "backups", "--data", evidence.data, "--key", evidence.key, "--from", "2026-04-01T00:00:00Z", "--to",
                "2026-04-01T10:00:00Z", "--out", bundle,
            ])
        #expect(exported.status == 0, "\(exported.stderr)")
        let overdue = try query(evidence, "backups.overdue", #"{"at":"2026-04-01T10:00:00Z"}"#)["databases"] as! [[String: Any]]
        #expect(overdue.map { $0["database"] as! String } == ["db_x"])
        let gaps = try String(contentsOfFile: bundle + "/gaps.csv", encoding: .utf8)
        #expect(gaps.contains("db_x,2026-04-01T09:59:59.999Z,,"), "\(gaps)")
        for verdict in try evidence.verdicts(bundle) { #expect(verdict.status == 0, "\(verdict.verifier): \(verdict.output)") }
    }
}
