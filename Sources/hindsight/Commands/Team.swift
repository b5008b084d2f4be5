import ArgumentParser
import HindsightCore
import HindsightQuery

struct Team: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A team's members with their roles (teams.members), or its invitations and their status (teams.invitations).",
        subcommands: [Members.self, Invitations.self], defaultSubcommand: Members.self)

    struct Members: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Who is on the team, with their role and since when.")

        @OptionGroup var options: DataOptions
        @Argument(help: "The team (team_…).") var team: String
        @Option(help: "A seq, an RFC 3339 time or a date: the team as it stood then (default: now).") var at: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let answer = try options.ask(
                TeamMembers.self, ["team": textParameter(team), "at": try MomentOption.position(at, option: "at")])
            if output.json { return printAnswer(answer) }
            guard !answer.memberships.isEmpty else { return print("no member") }
            let rows = answer.memberships.map { [$0.user, $0.role, Timestamp.format($0.since), Timestamp.format($0.roleSince)] }
            print(FigureTable(columns: ["user", "role", "member since", "role since"]).render(rows), terminator: "")
        }
    }

    struct Invitations: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The team's invitations with the invitee's e-mail (as readers see it), role, expiry and status.")

        @OptionGroup var options: DataOptions
        @Argument(help: "The team (team_…).") var team: String
        @Option(help: "Only invitations with this status: pending, accepted, revoked or expired.") var status: String?
        @Option(help: "A seq, an RFC 3339 time or a date: as they stood then (default: now).") var at: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let answer = try options.ask(
                TeamInvitations.self,
                ["team": textParameter(team), "status": textParameter(status), "at": try MomentOption.position(at, option: "at")])
            if output.json { return printAnswer(answer) }
            guard !answer.invitations.isEmpty else { return print("no invitation") }
            let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "-" }
            let rows = answer.invitations.map {
                [
                    $0.invitation.invitation, $0.email, $0.invitation.role, $0.invitation.status.rawValue, time($0.invitation.invitedAt),
                    time($0.invitation.expiresAt), $0.invitation.acceptedBy ?? "-",
                ]
            }
            print(
                FigureTable(columns: ["invitation", "email", "role", "status", "invited", "expires", "accepted by"]).render(rows),
                terminator: "")
        }
    }
}
