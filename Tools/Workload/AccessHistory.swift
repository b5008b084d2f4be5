import HindsightCore

/// A deterministic history shaped for the access read model's targets: one org with many
/// users, teams and projects, and many grants (to users, teams and tokens, on the org, teams
/// and projects, some expiring, some revoked), custom roles defined and redefined, members
/// joining, changing role and leaving, and tokens. Every user can read the first project
/// (a viewer grant on the org to a team everyone joins), so `rbac.whoCan` on it names them all.
public struct AccessHistory: Sendable {
    public let users: Int
    public let teams: Int
    public let projects: Int
    public let grants: Int

    public init(users: Int = 10_000, teams: Int = 200, projects: Int = 2_000, grants: Int = 100_000) {
        self.users = users
        self.teams = teams
        self.projects = projects
        self.grants = grants
    }

    /// The history as NDJSON, one event per line.
    public func ndjson(seed: UInt64 = 1) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        var clock: Int64 = 1_767_225_600_000  // 2026-01-01
        var out: [UInt8] = []
        var sequence = 0
        func emit(_ type: String, _ stream: String, _ data: String) {
            clock += Int64(random.below(60_000))
            sequence += 1
            let line =
                #"{"type":"\#(type)","stream":"\#(stream)","occurredAt":"\#(Timestamp.format(clock))","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{\#(data)}}"#
            out.append(contentsOf: line.utf8)
            out.append(UInt8(ascii: "\n"))
        }
        let roles = ["owner", "admin", "developer", "viewer", "auditor", "role_release", "role_oncall"]
        emit("role.defined", "role/role_release", #""role":"role_release","permissions":["build:*","project:deploy","function:deploy"]"#)
        emit("role.defined", "role/role_oncall", #""role":"role_oncall","permissions":["*:read","database:restore","function:*"]"#)
        for team in 1...teams { emit("team.created", "team/team_\(team)", #""team":"team_\#(team)","name":"Team \#(team)""#) }
        for project in 1...projects {
            emit(
                "project.created", "project/prj_\(project)",
                #""project":"prj_\#(project)","team":"team_\#(1 + random.below(teams))","name":"p\#(project)""#)
        }
        // Everyone joins team_1 (a viewer grant on the org reaches them all) and one more team.
        emit("role.granted", "grant/grant_all", #""grant":"grant_all","subject":"team/team_1","role":"viewer","scope":"org/org_1""#)
        var invitation = 0
        for user in 1...users {
            for team in [1, 2 + random.below(teams - 1)] {
                invitation += 1
                emit(
                    "member.invited", "team/team_\(team)",
                    #""invitation":"inv_\#(invitation)","team":"team_\#(team)","email":"user\#(user)@example.com","role":"\#(["viewer", "developer"][random.below(2)])","expiresAt":"2027-01-01T00:00:00.000Z""#
                )
                emit(
                    "invitation.accepted", "team/team_\(team)",
                    #""invitation":"inv_\#(invitation)","team":"team_\#(team)","user":"usr_\#(user)""#)
            }
        }
        for token in 1...(users / 10) {
            emit(
                "token.created", "token/tok_\(token)",
                #""token":"tok_\#(token)","owner":"usr_\#(1 + random.below(users))","scopes":["project:*","function:deploy"],"fingerprint":"\#(String(repeating: "a", count: 64))""#
            )
        }
        for grant in 1...grants {
            let subject =
                switch random.below(10) {
                case 0: "team/team_\(1 + random.below(teams))"
                case 1: "tok_\(1 + random.below(users / 10))"
                default: "usr_\(1 + random.below(users))"
                }
            let scope = random.below(20) == 0 ? "team/team_\(1 + random.below(teams))" : "project/prj_\(1 + random.below(projects))"
            let expiry = random.below(4) == 0 ? #","expiresAt":"\#(Timestamp.format(clock + Int64(random.below(30 * 86_400_000))))""# : ""
            emit(
                "role.granted", "grant/grant_\(grant)",
                #""grant":"grant_\#(grant)","subject":"\#(subject)","role":"\#(roles[2 + random.below(roles.count - 2)])","scope":"\#(scope)""#
                    + expiry)
            if random.below(10) == 0 {
                let revoked = 1 + random.below(grant)
                emit("role.revoked", "grant/grant_\(revoked)", #""grant":"grant_\#(revoked)""#)
            }
            if random.below(500) == 0 {
                emit(
                    "role.defined", "role/role_release",
                    #""role":"role_release","permissions":["build:*","project:deploy"\#(random.below(2) == 0 ? #","env:update""# : "")]"#)
            }
            if random.below(50) == 0 {
                let user = 1 + random.below(users)
                let team = 2 + random.below(teams - 1)
                emit("member.removed", "team/team_\(team)", #""team":"team_\#(team)","user":"usr_\#(user)""#)
            }
        }
        return out
    }
}
