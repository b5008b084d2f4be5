public import HindsightCore

/// Teams, as an auditor reviews them (`teams.members`, `teams.invitations`): each member's
/// role over time and since when they have been a member, and each invitation with how it was
/// settled, kept by seq and time so that any past moment can be asked about.
///
/// As EVENTS.md has it, a user becomes a member only by `invitation.accepted` (of an
/// invitation the log holds), with the role the invitation named, and stays one until
/// `member.removed`; `member.role_changed` changes a member's role and makes nobody a member.
/// An acceptance by a member changes their role and keeps their `since`. An invitation is
/// settled by its first acceptance or revocation; unsettled, it is pending until its
/// `expiresAt` passes. An acceptance counts for membership even after the invitation was
/// revoked or expired: the log says the user joined, and the access model grants by it.
///
/// The invitee's e-mail is personal data, so it is not kept here: each invitation keeps
/// where its `member.invited` line starts in the log (`StoredEvent.contentOffset`), and the
/// answer reads the e-mail from there as readers see it, erased after an erasure.
public final class TeamsReadModel: ReadModel {
    public let name = "teams"
    public let version = 1
    public let types: Set<String>? = [
        "member.invited", "invitation.accepted", "invitation.revoked", "member.role_changed", "member.removed",
    ]

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE team_role (team TEXT NOT NULL, user TEXT NOT NULL, from_seq INTEGER NOT NULL, from_time INTEGER NOT NULL,
                                    to_seq INTEGER, to_time INTEGER, role TEXT NOT NULL,
                                    since_seq INTEGER NOT NULL, since_time INTEGER NOT NULL,
                                    PRIMARY KEY (team, user, from_seq)) WITHOUT ROWID;
            CREATE TABLE team_invitation (invitation TEXT NOT NULL, from_seq INTEGER NOT NULL, from_time INTEGER NOT NULL,
                                          to_seq INTEGER, to_time INTEGER, team TEXT NOT NULL, role TEXT NOT NULL,
                                          expires_at INTEGER, content_offset INTEGER NOT NULL,
                                          settled_seq INTEGER, settled_time INTEGER, outcome TEXT, accepted_by TEXT,
                                          PRIMARY KEY (invitation, from_seq)) WITHOUT ROWID;
            CREATE INDEX team_invitation_by_team ON team_invitation (team, invitation);
            """)
    }

    public func apply(_ events: [ProjectedEvent], in db: SQLiteDatabase) throws(LogError) {
        for event in events {
            let stored = event.stored
            let data = StoredLine.DataFields(stored.line)
            let (seq, time) = (Int64(stored.seq), stored.occurredAtMs)
            switch stored.type {
            case "member.invited":
                guard let invitation = data["invitation"], let team = data["team"], let role = data["role"] else { continue }
                guard let offset = stored.contentOffset else {
                    throw LogError(.io, "event \(stored.seq) reached the teams read model without its place in the log")
                }
                // Invited again under the same id: a fresh invitation replaces the one before.
                try db.statement("UPDATE team_invitation SET to_seq = ?, to_time = ? WHERE invitation = ? AND to_seq IS NULL")
                    .bind(1, seq).bind(2, time).bind(3, invitation).run()
                try db.statement("INSERT INTO team_invitation VALUES (?, ?, ?, NULL, NULL, ?, ?, ?, ?, NULL, NULL, NULL, NULL)")
                    .bind(1, invitation).bind(2, seq).bind(3, time).bind(4, team).bind(5, role)
                    .bind(6, data["expiresAt"].flatMap { Timestamp.parse($0) }).bind(7, Int64(offset)).run()
            case "invitation.accepted", "invitation.revoked":
                guard let invitation = data["invitation"] else { continue }
                let accepted = stored.type == "invitation.accepted"
                let invited = try db.statement("SELECT role FROM team_invitation WHERE invitation = ? AND to_seq IS NULL").bind(
                    1, invitation)
                let role = try invited.step() ? invited.text(0) : nil
                invited.finish()
                guard let role else { continue }
                try db.statement(
                    "UPDATE team_invitation SET settled_seq = ?, settled_time = ?, outcome = ?, accepted_by = ? WHERE invitation = ? AND to_seq IS NULL AND settled_seq IS NULL"
                ).bind(1, seq).bind(2, time).bind(3, accepted ? "accepted" : "revoked").bind(4, accepted ? data["user"] : nil)
                    .bind(5, invitation).run()
                if accepted, let team = data["team"], let user = data["user"] {
                    try setRole(team: team, user: user, role: role, joining: true, seq: seq, time: time, in: db)
                }
            case "member.role_changed":
                guard let team = data["team"], let user = data["user"], let role = data["role"] else { continue }
                try setRole(team: team, user: user, role: role, joining: false, seq: seq, time: time, in: db)
            case "member.removed":
                guard let team = data["team"], let user = data["user"] else { continue }
                try db.statement("UPDATE team_role SET to_seq = ?, to_time = ? WHERE team = ? AND user = ? AND to_seq IS NULL")
                    .bind(1, seq).bind(2, time).bind(3, team).bind(4, user).run()
            default:
                continue
            }
        }
    }

    /// Gives a member a role from this event on, keeping when they became a member; a user who
    /// is not a member becomes one only when `joining` (an acceptance).
    private func setRole(
        team: String, user: String, role: String, joining: Bool, seq: Int64, time: Int64, in db: SQLiteDatabase
    ) throws(LogError) {
        let current = try db.statement("SELECT since_seq, since_time FROM team_role WHERE team = ? AND user = ? AND to_seq IS NULL")
            .bind(1, team).bind(2, user)
        let since = try current.step() ? (seq: current.int(0), time: current.int(1)) : nil
        current.finish()
        guard since != nil || joining else { return }
        try db.statement("UPDATE team_role SET to_seq = ?, to_time = ? WHERE team = ? AND user = ? AND to_seq IS NULL")
            .bind(1, seq).bind(2, time).bind(3, team).bind(4, user).run()
        try db.statement("INSERT INTO team_role VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, ?)")
            .bind(1, team).bind(2, user).bind(3, seq).bind(4, time).bind(5, role).bind(6, since?.seq ?? seq).bind(7, since?.time ?? time)
            .run()
    }

    // MARK: - Questions

    /// A member of a team at a moment.
    public struct Member: Sendable {
        public let user: String
        public let role: String
        /// When the membership began: the acceptance that made them a member.
        public let since: Int64
        /// When they were given the role they hold: that acceptance, a later one or a change.
        public let roleSince: Int64
    }

    /// The members of `team` at the moment, by user id.
    public static func members(of team: String, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [Member] {
        let moment = when.bounds
        let (from, to) = (moment.column("from"), moment.column("to"))
        let rows = try db.statement(
            """
            SELECT user, role, since_time, from_time FROM team_role
            WHERE team = ?1 AND \(from) <= ?2 AND (\(to) IS NULL OR \(to) > ?2) ORDER BY user
            """
        ).bind(1, team).bind(2, moment.value)
        defer { rows.finish() }
        var members: [Member] = []
        while try rows.step() {
            members.append(Member(user: rows.text(0) ?? "", role: rows.text(1) ?? "", since: rows.int(2), roleSince: rows.int(3)))
        }
        return members
    }

    /// What an invitation's status is at a moment.
    public enum Status: String, Sendable, CaseIterable {
        case pending, accepted, revoked, expired
    }

    /// An invitation as it stands at a moment. The invitee's e-mail is in the log, at
    /// `contentOffset` of event `invitedSeq`.
    public struct Invitation: Sendable {
        public let invitation: String
        public let team: String
        public let role: String
        public let invitedAt: Int64
        public let invitedSeq: Int64
        public let contentOffset: Int64
        public let expiresAt: Int64?
        public let status: Status
        /// When and by whom it was accepted, if it was by the moment.
        public let acceptedAt: Int64?
        public let acceptedBy: String?
        /// When it was revoked, if it was by the moment.
        public let revokedAt: Int64?
    }

    /// The invitations to `team` (with `status`, if given) at the moment, by id.
    public static func invitations(
        of team: String, status wanted: Status? = nil, at when: AsOf, in db: SQLiteDatabase
    ) throws(LogError) -> [Invitation] {
        let moment = when.bounds
        let (from, to, settled) = (moment.column("from"), moment.column("to"), moment.column("settled"))
        let rows = try db.statement(
            """
            SELECT invitation, role, from_time, from_seq, content_offset, expires_at,
                   CASE WHEN \(settled) <= ?2 THEN outcome END, settled_time, accepted_by
            FROM team_invitation
            WHERE team = ?1 AND \(from) <= ?2 AND (\(to) IS NULL OR \(to) > ?2) ORDER BY invitation
            """
        ).bind(1, team).bind(2, moment.value)
        defer { rows.finish() }
        var invitations: [Invitation] = []
        while try rows.step() {
            let expiresAt = rows.isNull(5) ? nil : rows.int(5)
            let outcome = rows.text(6)
            let status: Status =
                outcome == "accepted"
                ? .accepted : outcome == "revoked" ? .revoked : expiresAt.map { moment.time >= $0 } == true ? .expired : .pending
            if let wanted, status != wanted { continue }
            invitations.append(
                Invitation(
                    invitation: rows.text(0) ?? "", team: team, role: rows.text(1) ?? "", invitedAt: rows.int(2), invitedSeq: rows.int(3),
                    contentOffset: rows.int(4), expiresAt: expiresAt, status: status,
                    acceptedAt: status == .accepted ? rows.int(7) : nil, acceptedBy: status == .accepted ? rows.text(8) : nil,
                    revokedAt: status == .revoked ? rows.int(7) : nil))
        }
        return invitations
    }
}
