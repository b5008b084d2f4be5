public import HindsightCore
public import HindsightProjections

/// The teams inventory (QUERIES.md): `teams.members` and `teams.invitations`.
public enum TeamMethods {
    static let all = [MethodDescription(reading: TeamMembers.self), MethodDescription(reading: TeamInvitations.self)]

    static let team = Parameter("team", .string("The team (team_… or team/team_…)."), required: true)

    /// A team id from `team_…` or `team/team_…`.
    static func team(_ p: Parameters) throws(QueryError) -> String {
        let text = try p.required("team")
        return text.hasPrefix("team/") ? String(text.dropFirst(5)) : text
    }
}

/// `teams.members`: who is on a team, with their role and since when.
public enum TeamMembers: ReadingMethod {
    public static let name = "teams.members"
    public static let summary = "The team's members with their role, since when they are members and since when they hold that role."
    public static let models = ["teams"]

    public struct Params: QueryParams {
        public var team: String
        public var at: LogPosition?
        public static let parameters = [TeamMethods.team, InventoryMethods.at]
        public init(_ p: Parameters) throws(QueryError) {
            team = try TeamMethods.team(p)
            at = try p.position("at")
        }
    }

    public struct Answer: QueryAnswer {
        public let team: String
        /// The members (`members` in the answer's JSON).
        public let memberships: [TeamsReadModel.Member]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "team": .string(team),
                "members": .array(
                    memberships.map {
                        .object([
                            "user": .string($0.user), "role": .string($0.role), "since": .string(Timestamp.format($0.since)),
                            "roleSince": .string(Timestamp.format($0.roleSince)),
                        ])
                    }),
            ]
        }
        public static let schema = Schema.object([
            "team": .string(),
            "members": .array(
                .object([
                    "user": .string(), "role": .string(),
                    "since": .time("When the invitation that made them a member was accepted."),
                    "roleSince": .time("When they were given this role: by an acceptance or a role change."),
                ]), "By user id."),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, of: "teams", reading)
        let db = try reading.database("teams")
        let members = try engine { () throws(LogError) in try TeamsReadModel.members(of: params.team, at: moment.when, in: db) }
        return Answer(team: params.team, memberships: members, position: moment.position)
    }
}

/// `teams.invitations`: a team's invitations with their status, the invitee's e-mail as
/// readers see it.
public enum TeamInvitations: ReadingMethod {
    public static let name = "teams.invitations"
    public static let summary =
        "The team's invitations: e-mail (as readers see it), role, expiry and status (pending, accepted, revoked or expired)."
    public static let models = ["teams"]

    public struct Params: QueryParams {
        public var team: String
        public var status: TeamsReadModel.Status?
        public var at: LogPosition?
        public static let parameters = [
            TeamMethods.team,
            Parameter("status", .oneOf(TeamsReadModel.Status.allCases.map(\.rawValue), "Only invitations with this status.")),
            InventoryMethods.at,
        ]
        public init(_ p: Parameters) throws(QueryError) {
            team = try TeamMethods.team(p)
            if let status = try p.string("status") {
                guard let known = TeamsReadModel.Status(rawValue: status) else {
                    throw .invalidParams(
                        message: "status must be pending, accepted, revoked or expired, not \(status)", path: "/params/status")
                }
                self.status = known
            }
            at = try p.position("at")
        }
    }

    /// An invitation with its invitee's e-mail.
    public struct Invitation: Sendable {
        public let invitation: TeamsReadModel.Invitation
        /// As readers see it: `[erased]` once the person was erased.
        public let email: String
    }

    public struct Answer: QueryAnswer {
        public let team: String
        public let invitations: [Invitation]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            let time = { (ms: Int64?) in ms.map { JSONValue.string(Timestamp.format($0)) } ?? .null }
            return [
                "team": .string(team),
                "invitations": .array(
                    invitations.map {
                        let invitation = $0.invitation
                        return .object([
                            "invitation": .string(invitation.invitation), "team": .string(invitation.team), "email": .string($0.email),
                            "role": .string(invitation.role), "status": .string(invitation.status.rawValue),
                            "invitedAt": time(invitation.invitedAt), "expiresAt": time(invitation.expiresAt),
                            "acceptedAt": time(invitation.acceptedAt), "acceptedBy": invitation.acceptedBy.map { .string($0) } ?? .null,
                            "revokedAt": time(invitation.revokedAt),
                        ])
                    }),
            ]
        }
        public static let schema = Schema.object([
            "team": .string(),
            "invitations": .array(
                .object([
                    "invitation": .string(), "team": .string(),
                    "email": .string("As readers see it: [erased] once the person was erased."), "role": .string(),
                    "status": .oneOf(TeamsReadModel.Status.allCases.map(\.rawValue)),
                    "invitedAt": .time(), "expiresAt": .nullable(.time()),
                    "acceptedAt": .nullable(.time()), "acceptedBy": .nullable(.string("The user who accepted it.")),
                    "revokedAt": .nullable(.time()),
                ]), "By invitation id."),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, of: "teams", reading)
        let db = try reading.database("teams")
        let reader = try reading.reader()
        let source = try reading.source()
        return try engine { () throws(LogError) in
            let invitations = try TeamsReadModel.invitations(of: params.team, status: params.status, at: moment.when, in: db)
            // The e-mails are read from the invitations' own lines in the log, as readers see them.
            let lines = try reader.lines(at: invitations.map { (UInt64($0.invitedSeq), UInt64($0.contentOffset)) })
            var answered: [Invitation] = []
            for (invitation, line) in zip(invitations, lines) {
                let event = source.present(try StoredEvent(storedLine: line), upcast: true)
                answered.append(Invitation(invitation: invitation, email: StoredLine.DataFields(event.line)["email"] ?? ""))
            }
            return Answer(team: params.team, invitations: answered, position: moment.position)
        }
    }
}
