import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// `teams.members` and `teams.invitations` against a naive replay written separately from the
/// contract (`Tools/naive_teams.py`), at many moments of the sample history and of a generated
/// one, for every team.
@Suite("The teams inventory")
struct TeamInventoryTests {
    private func expectSameAnswers(_ dir: TemporaryDirectory, seed: Int, teams limit: Int) throws -> (compared: Int, statuses: Set<String>)
    {
        let replay = try NaiveReplay(
            tool: "naive_teams.py", directory: dir,
            timeFields: ["since", "roleSince", "invitedAt", "expiresAt", "acceptedAt", "revokedAt"])
        // The busiest teams, and the teams of invitations never settled (pending at the end,
        // expired some days later).
        let named = replay.lines.filter { ($0["type"] as! String) != "team.created" }
            .compactMap { ($0["data"] as? [String: Any])?["team"] as? String }
        let busiest = Dictionary(grouping: named, by: { $0 }).sorted { ($0.value.count, $1.key) > ($1.value.count, $0.key) }.map(\.key)
        let settled = Set(
            replay.lines.filter { ["invitation.accepted", "invitation.revoked"].contains($0["type"] as! String) }
                .compactMap { ($0["data"] as? [String: Any])?["invitation"] as? String })
        let unsettled = replay.lines.filter { ($0["type"] as! String) == "member.invited" }.compactMap { $0["data"] as? [String: Any] }
            .filter { !settled.contains($0["invitation"] as! String) }.map { $0["team"] as! String }
        var teams = Array(busiest.prefix(limit))
        for team in unsettled.reversed() where !teams.contains(team) && teams.count < limit + 1 { teams.append(team) }
        #expect(!teams.isEmpty, "the history has no team")
        let server = RPCServer(directory: dir.path, engine: nil)
        var compared = 0
        var statuses: Set<String> = []
        for moment in replay.moments(seed: seed, laterDays: [10]) {
            for team in teams {
                var questions = [
                    ("teams.members", "", ["--members", team], "members"),
                    ("teams.invitations", "", ["--invitations", team], "invitations"),
                ]
                if team == teams.last {
                    questions.append(
                        ("teams.invitations", #""status":"pending""#, ["--invitations", team, "--status", "pending"], "invitations"))
                }
                for (method, extra, arguments, key) in questions {
                    let params = [#""team":"\#(team)""#, extra].filter { !$0.isEmpty }.joined(separator: ",")
                    let want = try replay.expectSame(server, method, params, at: moment, arguments, key: key)
                    compared += want.count
                    for invitation in want { statuses.insert(invitation["status"] ?? "member") }
                }
            }
        }
        return (compared, statuses)
    }

    @Test func theSampleHistoryAnswersAsAReplayDoes() throws {
        let dir = try historyDirectory()
        let (compared, statuses) = try expectSameAnswers(dir, seed: 3, teams: 10)
        #expect(compared > 0)
        #expect(statuses == ["member", "pending", "accepted", "revoked", "expired"], "met: \(statuses)")
    }

    @Test func aGeneratedHistoryAnswersAsAReplayDoes() throws {
        let dir = try generatedDirectory(events: 20000, seed: 23)
        let (compared, statuses) = try expectSameAnswers(dir, seed: 7, teams: 2)
        #expect(compared > 100)
        #expect(statuses == ["member", "pending", "accepted", "revoked", "expired"], "met: \(statuses)")
    }

    @Test func anErasedInviteeReadsErasedAndTheCommandRefusesABadStatus() throws {
        let dir = try historyDirectory()
        let table = try run(hindsightExecutable, ["team", "invitations", "team_platform", "--data", dir.path])
        #expect(table.status == 0, "\(table.stderr)")
        // usr_erin was erased at the end of the sample: her invitation's e-mail is gone, bob's is not.
        #expect(table.stdout.contains("[erased]") && table.stdout.contains("bob@acme.example"))
        #expect(!table.stdout.contains("erin@contractor.example"))
        let members = try run(hindsightExecutable, ["team", "team_data", "--data", dir.path, "--at", "2026-03-13"])
        #expect(members.stdout.contains("usr_grace") && members.stdout.contains("admin"))
        let refused = try run(hindsightExecutable, ["team", "invitations", "team_data", "--status", "gone", "--data", dir.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("status must be pending, accepted, revoked or expired"))
    }
}
