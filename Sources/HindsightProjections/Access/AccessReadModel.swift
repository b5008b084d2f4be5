import Foundation
public import HindsightAccess
public import HindsightCore

/// The access read model: who may do what, at any moment, and through which grant.
///
/// Every fact the access rules depend on is kept with the interval it held for, in seqs and
/// in `occurredAt` times: a grant from `role.granted` until `role.revoked`; a custom role's
/// permissions from one `role.defined` until the next or `role.deleted`; a membership and its
/// role from `invitation.accepted` or `member.role_changed` until the next change or
/// `member.removed`; where an entity sits in the ownership tree (a team in its org, a project
/// in its team until transferred, an entity in its project, a backup in its database); a
/// deletion from its event on; a token from `token.created` until `token.revoked`. A question
/// about a moment reads the facts whose interval holds it: nothing is replayed.
public final class AccessReadModel: ReadModel {
    public let name = "access"
    public let version = 10
    /// The access events, and every type whose events say which project a build, function,
    /// database, webhook or domain belongs to (or which database a backup belongs to).
    public let types: Set<String>? = AccessReadModel.accessTypes.union(AccessReadModel.placingTypes)

    static let accessTypes: Set<String> = [
        "role.defined", "role.deleted", "role.granted", "role.revoked", "team.created", "member.invited", "invitation.accepted",
        "member.role_changed", "member.removed", "project.created", "project.transferred", "project.deleted", "function.deleted",
        "database.deprovisioned", "domain.removed", "token.created", "token.revoked",
    ]
    static let placingTypes: Set<String> = [
        "backup.completed", "backup.failed", "backup.restored", "backup.started", "build.canceled", "build.failed", "build.queued",
        "build.started", "build.succeeded", "database.provisioned", "domain.added", "function.deleted", "function.deployed",
        "function.invoked", "webhook.registered",
    ]

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE access_grant (grant_id TEXT NOT NULL, subject TEXT NOT NULL, role TEXT NOT NULL, scope TEXT NOT NULL,
                                       expires_at INTEGER, granted_by TEXT NOT NULL,
                                       from_seq INTEGER NOT NULL, to_seq INTEGER, from_time INTEGER NOT NULL, to_time INTEGER);
            CREATE INDEX access_grant_by_id ON access_grant (grant_id);
            CREATE TABLE access_role (role TEXT NOT NULL, permissions TEXT NOT NULL,
                                      from_seq INTEGER NOT NULL, to_seq INTEGER, from_time INTEGER NOT NULL, to_time INTEGER);
            CREATE INDEX access_role_by_role ON access_role (role, from_seq);
            CREATE TABLE access_invitation (invitation TEXT PRIMARY KEY, role TEXT NOT NULL);
            CREATE TABLE access_member (team TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
                                        from_seq INTEGER NOT NULL, to_seq INTEGER, from_time INTEGER NOT NULL, to_time INTEGER);
            CREATE INDEX access_member_by_team ON access_member (team, user, from_seq);
            CREATE TABLE access_parent (child TEXT NOT NULL, parent TEXT NOT NULL,
                                        from_seq INTEGER NOT NULL, to_seq INTEGER, from_time INTEGER NOT NULL, to_time INTEGER);
            CREATE INDEX access_parent_by_child ON access_parent (child, from_seq);
            CREATE TABLE access_deleted (entity TEXT PRIMARY KEY, from_seq INTEGER NOT NULL, from_time INTEGER NOT NULL);
            CREATE TABLE access_token (token TEXT NOT NULL, owner TEXT NOT NULL, scopes TEXT NOT NULL, expires_at INTEGER,
                                       from_seq INTEGER NOT NULL, to_seq INTEGER, from_time INTEGER NOT NULL, to_time INTEGER);
            CREATE INDEX access_token_by_token ON access_token (token, from_seq);
            CREATE TABLE access_actor (seq INTEGER PRIMARY KEY, actor TEXT NOT NULL, actor_kind TEXT NOT NULL, reason TEXT);
            """)
    }

    /// The indexes questions need and folding does not, made after a build's load.
    public func createIndexes(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE INDEX access_grant_by_subject ON access_grant (subject, scope, from_seq);
            CREATE INDEX access_grant_by_scope ON access_grant (scope, from_seq);
            CREATE INDEX access_member_by_user ON access_member (user, from_seq);
            """)
    }

    /// What folding one event does to the tables, read from the event in `prepare` so that
    /// `apply` only writes.
    enum Step: Sendable {
        case place(_ child: String, under: String)
        case defineRole(_ role: String, permissions: String)
        case deleteRole(_ role: String)
        case grant(_ grant: String, subject: String, role: String, scope: String, expiresAt: Int64?, grantedBy: String)
        case revoke(_ grant: String)
        case createTeam(_ team: String, org: String)
        case invite(_ invitation: String, role: String)
        case accept(_ invitation: String, team: String, user: String)
        case changeRole(team: String, user: String, role: String)
        case removeMember(team: String, user: String)
        case moveProject(_ project: String, toTeam: String)
        case delete(_ entity: String)
        case createToken(_ token: String, owner: String, scopes: String, expiresAt: Int64?)
        case revokeToken(_ token: String)
        /// Who made the change the event before records, and the reason it gives (a revocation's).
        case actedBy(_ actor: String, kind: String, reason: String?)
    }

    /// A batch's steps, each with the moment of the event it comes from, in seq order.
    public struct Batch: Sendable {
        let steps: [(step: Step, at: Moment)]
    }

    public func prepare(_ events: [ProjectedEvent]) -> Batch {
        var steps: [(step: Step, at: Moment)] = []
        // Entities placed by an earlier event of the batch: only the first placement counts.
        var placed: Set<String> = []
        for event in events {
            let stored = event.stored
            let at = Moment(seq: Int64(stored.seq), time: stored.occurredAtMs)
            let text = StoredLine.DataFields(stored.line)
            if Self.placingTypes.contains(stored.type) {
                // An entity sits beneath the project it names (a backup beneath its database),
                // from the first event that says so: entities never move.
                for kind in ["build", "function", "database", "webhook", "domain"] {
                    if let id = text[kind], let project = text["project"], placed.insert(kind + "/" + id).inserted {
                        steps.append((.place(kind + "/" + id, under: "project/" + project), at))
                    }
                }
                if let backup = text["backup"], let database = text["database"], placed.insert("backup/" + backup).inserted {
                    steps.append((.place("backup/" + backup, under: "database/" + database), at))
                }
            }
            if let step = Self.step(stored, text) {
                steps.append((step, at))
                steps.append((.actedBy(stored.actorID, kind: stored.actorKind, reason: text["reason"]), at))
            }
        }
        return Batch(steps: steps)
    }

    /// The step an access event takes; nil for other events, and for events lacking a field
    /// the catalogue requires (which validation keeps out of the log).
    private static func step(_ stored: StoredEvent, _ text: StoredLine.DataFields) -> Step? {
        guard accessTypes.contains(stored.type) else { return nil }
        // The fields read here are neither personal data nor added by later versions: the
        // stored line serves, and only the two lists are decoded as JSON.
        let list = { (key: String) -> String in
            let line = try? JSONSerialization.jsonObject(with: Data(stored.line)) as? [String: Any]
            return ((line?["data"] as? [String: Any])?[key] as? [String] ?? []).joined(separator: ",")
        }
        switch stored.type {
        case "role.defined": return text["role"].map { .defineRole($0, permissions: list("permissions")) }
        case "role.deleted": return text["role"].map { .deleteRole($0) }
        case "role.granted":
            guard let grant = text["grant"], let subject = text["subject"], let role = text["role"], let scope = text["scope"] else {
                return nil
            }
            return .grant(
                grant, subject: subject, role: role, scope: scope, expiresAt: text["expiresAt"].flatMap { Timestamp.parse($0) },
                grantedBy: stored.actorID)
        case "role.revoked": return text["grant"].map { .revoke($0) }
        case "team.created": return text["team"].map { .createTeam("team/" + $0, org: "org/" + stored.org) }
        case "member.invited":
            guard let invitation = text["invitation"], let role = text["role"] else { return nil }
            return .invite(invitation, role: role)
        case "invitation.accepted":
            guard let invitation = text["invitation"], let team = text["team"], let user = text["user"] else { return nil }
            return .accept(invitation, team: team, user: user)
        case "member.role_changed":
            guard let team = text["team"], let user = text["user"], let role = text["role"] else { return nil }
            return .changeRole(team: team, user: user, role: role)
        case "member.removed":
            guard let team = text["team"], let user = text["user"] else { return nil }
            return .removeMember(team: team, user: user)
        case "project.created", "project.transferred":
            guard let project = text["project"], let team = text["team"] else { return nil }
            return .moveProject("project/" + project, toTeam: "team/" + team)
        case "project.deleted": return text["project"].map { .delete("project/" + $0) }
        case "function.deleted": return text["function"].map { .delete("function/" + $0) }
        case "database.deprovisioned": return text["database"].map { .delete("database/" + $0) }
        case "domain.removed": return text["domain"].map { .delete("domain/" + $0) }
        case "token.created":
            guard let token = text["token"], let owner = text["owner"] else { return nil }
            return .createToken(token, owner: owner, scopes: list("scopes"), expiresAt: text["expiresAt"].flatMap { Timestamp.parse($0) })
        case "token.revoked": return text["token"].map { .revokeToken($0) }
        default: return nil
        }
    }

    public func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError) {
        for (step, at) in batch.steps {
            switch step {
            case .place(let child, let parent):
                let known = try db.statement("SELECT 1 FROM access_parent WHERE child = ? LIMIT 1").bind(1, child)
                let placed = try known.step()
                known.finish()
                if !placed {
                    try insert("INSERT INTO access_parent VALUES (?, ?, ?, NULL, ?, NULL)", [.text(child), .text(parent)], at: at, in: db)
                }
            case .defineRole(let role, let permissions):
                try end(Ending.role, [role], at: at, in: db)
                try insert("INSERT INTO access_role VALUES (?, ?, ?, NULL, ?, NULL)", [.text(role), .text(permissions)], at: at, in: db)
            case .deleteRole(let role):
                try end(Ending.role, [role], at: at, in: db)
            case .grant(let grant, let subject, let role, let scope, let expiresAt, let grantedBy):
                try insert(
                    "INSERT INTO access_grant VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)",
                    [.text(grant), .text(subject), .text(role), .text(scope), .number(expiresAt), .text(grantedBy)], at: at, in: db)
            case .revoke(let grant):
                try end(Ending.grant, [grant], at: at, in: db)
            case .createTeam(let team, let org):
                try insert("INSERT INTO access_parent VALUES (?, ?, ?, NULL, ?, NULL)", [.text(team), .text(org)], at: at, in: db)
            case .invite(let invitation, let role):
                try db.statement("INSERT OR REPLACE INTO access_invitation VALUES (?, ?)").bind(1, invitation).bind(2, role).run()
            case .accept(let invitation, let team, let user):
                let role = try db.statement("SELECT role FROM access_invitation WHERE invitation = ?").bind(1, invitation)
                let invited = try role.step() ? role.text(0) : nil
                role.finish()
                if let invited { try setMember(team: team, user: user, role: invited, at: at, in: db) }
            case .changeRole(let team, let user, let role):
                // A role change makes nobody a member: only an acceptance does (EVENTS.md).
                let member = try db.statement("SELECT 1 FROM access_member WHERE team = ? AND user = ? AND to_seq IS NULL")
                    .bind(1, team).bind(2, user)
                let isMember = try member.step()
                member.finish()
                if isMember { try setMember(team: team, user: user, role: role, at: at, in: db) }
            case .removeMember(let team, let user):
                try end(Ending.membership, [team, user], at: at, in: db)
            case .moveProject(let project, let team):
                try end(Ending.placement, [project], at: at, in: db)
                try insert("INSERT INTO access_parent VALUES (?, ?, ?, NULL, ?, NULL)", [.text(project), .text(team)], at: at, in: db)
            case .delete(let entity):
                try db.statement("INSERT OR IGNORE INTO access_deleted VALUES (?, ?, ?)").bind(1, entity).bind(2, at.seq).bind(3, at.time)
                    .run()
            case .createToken(let token, let owner, let scopes, let expiresAt):
                // A token created again under the same id (the platform's mistake, kept in the
                // log) replaces the one before from that moment, as a replay would.
                try end(Ending.token, [token], at: at, in: db)
                try insert(
                    "INSERT INTO access_token VALUES (?, ?, ?, ?, ?, NULL, ?, NULL)",
                    [.text(token), .text(owner), .text(scopes), .number(expiresAt)], at: at, in: db)
            case .revokeToken(let token):
                try end(Ending.token, [token], at: at, in: db)
            case .actedBy(let actor, let kind, let reason):
                try db.statement("INSERT OR REPLACE INTO access_actor VALUES (?, ?, ?, ?)").bind(1, at.seq).bind(2, actor).bind(3, kind)
                    .bind(4, reason).run()
            }
        }
    }

    // MARK: - Folding

    /// Where an event lies: its seq and its `occurredAt`.
    struct Moment: Sendable {
        let seq: Int64
        let time: Int64
    }

    private enum Value {
        case text(String)
        case number(Int64?)
    }

    /// Inserts a row whose last placeholders are its start (seq, then time).
    private func insert(_ sql: String, _ values: [Value], at moment: Moment, in db: SQLiteDatabase) throws(LogError) {
        let statement = try db.statement(sql)
        for (index, value) in values.enumerated() {
            switch value {
            case .text(let text): statement.bind(Int32(index + 1), text)
            case .number(let number): statement.bind(Int32(index + 1), number)
            }
        }
        statement.bind(Int32(values.count + 1), moment.seq).bind(Int32(values.count + 2), moment.time)
        try statement.run()
    }

    /// The statements that end the open interval of a row: of a role's definition, a grant, a
    /// membership, a placement in the ownership tree, a token.
    private enum Ending {
        static let role = sql("access_role", where: "role = ?")
        static let grant = sql("access_grant", where: "grant_id = ?")
        static let membership = sql("access_member", where: "team = ? AND user = ?")
        static let placement = sql("access_parent", where: "child = ?")
        static let token = sql("access_token", where: "token = ?")

        private static func sql(_ table: String, where condition: String) -> String {
            "UPDATE \(table) SET to_seq = ?, to_time = ? WHERE \(condition) AND to_seq IS NULL"
        }
    }

    /// Ends the open interval of the rows an `Ending` statement selects by `keys`.
    private func end(_ ending: String, _ keys: [String], at moment: Moment, in db: SQLiteDatabase) throws(LogError) {
        let statement = try db.statement(ending)
        statement.bind(1, moment.seq).bind(2, moment.time)
        for (index, key) in keys.enumerated() { statement.bind(Int32(index + 3), key) }
        try statement.run()
    }

    private func setMember(team: String, user: String, role: String, at moment: Moment, in db: SQLiteDatabase) throws(LogError) {
        try end(Ending.membership, [team, user], at: moment, in: db)
        try insert(
            "INSERT INTO access_member VALUES (?, ?, ?, ?, NULL, ?, NULL)", [.text(team), .text(user), .text(role)], at: moment, in: db)
    }

    // MARK: - Questions

    /// Why a permission is allowed: a grant (`grant_…`) or a team role (`member:TEAM`), with
    /// the role and the scope it is held on.
    public struct Reason: Hashable, Sendable {
        public let grant: String
        public let role: String
        public let scope: String
    }

    /// Whether `subject` (`usr_…` or `tok_…`) may do `permission` on `resource` (`KIND/ID`),
    /// and the grants and team roles that allow it; empty when denied.
    public static func check(
        _ subject: String, _ permission: Permission, _ resource: String, at when: AsOf, in db: SQLiteDatabase
    ) throws(LogError) -> Set<Reason> {
        let view = View(when, in: db)
        let path = try view.path(of: resource)
        guard !path.isEmpty else { return [] }
        if subject.hasPrefix("tok_") {
            let token = try db.statement("SELECT owner, scopes, expires_at FROM access_token WHERE token = ? AND \(view.holds)").bind(
                1, subject)
            view.bindMoment(token, from: 2)
            defer { token.finish() }
            guard try token.step(), let owner = token.text(0) else { return [] }
            let scopes = (token.text(1) ?? "").split(separator: ",").compactMap { PermissionPattern(String($0)) }
            let expiry = token.isNull(2) ? nil : token.int(2)
            guard view.time < (expiry ?? .max), scopes.contains(where: { $0.matches(permission) }) else { return [] }
            token.finish()
            return try view.held(by: owner, permission, path).union(view.held(by: subject, permission, path))
        }
        return try view.held(by: subject, permission, path)
    }

    /// One line of an access review: a role a subject holds on a scope at the moment, and how.
    public struct ReviewRow: Hashable, Sendable {
        public let subject: String
        public let role: String
        public let scope: String
        public let grant: String
        public let grantedAt: Int64
        public let grantedBy: String?
        public let expiresAt: Int64?
        /// `direct`, `via team/ID` (a grant to a team the subject is a member of), `team role`
        /// (the role the subject holds as a member), or `via token owner usr_…`.
        public let heldAs: String
    }

    /// Who holds which role on what in an org at a moment: one row per subject, role, scope
    /// and grant in force, users and tokens, ordered by subject.
    public static func accessReview(org: String, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [ReviewRow] {
        let view = View(when, in: db)
        var subjects: Set<String> = []
        for sql in [
            "SELECT DISTINCT subject FROM access_grant WHERE subject NOT LIKE 'team/%'", "SELECT DISTINCT user FROM access_member",
            "SELECT DISTINCT token FROM access_token",
        ] {
            let rows = try db.statement(sql)
            while try rows.step() { subjects.insert(rows.text(0) ?? "") }
            rows.finish()
        }
        var review: [ReviewRow] = []
        for subject in subjects.sorted() {
            var holdings: [(Holding, String)] = []
            if subject.hasPrefix("tok_") {
                let owner = try db.statement("SELECT owner FROM access_token WHERE token = ? AND \(view.holds)").bind(1, subject)
                view.bindMoment(owner, from: 2)
                let name = try owner.step() ? owner.text(0) ?? "" : ""
                owner.finish()
                for holding in try whatCan(subject, at: when, in: db) {
                    holdings.append((holding, holding.heldBy == subject ? "direct" : "via token owner \(name)"))
                }
            } else {
                for holding in try view.holdings(of: subject) {
                    let how =
                        holding.heldBy == subject ? "direct" : holding.heldBy.hasPrefix("member:") ? "team role" : "via \(holding.heldBy)"
                    holdings.append((holding, how))
                }
            }
            for (holding, how) in holdings where try view.path(of: holding.scope).contains("org/" + org) {
                review.append(
                    ReviewRow(
                        subject: subject, role: holding.role, scope: holding.scope, grant: holding.grant, grantedAt: holding.grantedAt,
                        grantedBy: holding.grantedBy, expiresAt: holding.expiresAt, heldAs: how))
            }
        }
        return review
    }

    /// A grant that would have allowed a denied permission, and why it did not.
    public struct Miss: Hashable, Sendable {
        public let grant: String
        public let role: String
        public let scope: String
        /// `expired`, `revoked`, `role deleted`, `resource deleted`, `membership ended`,
        /// `outside the token's scopes` or `the token is revoked or expired`.
        public let why: String
        /// When it stopped applying (milliseconds): the expiry, the revocation, the deletion or
        /// the end of the membership; nil for a token's scopes.
        public let since: Int64?
        /// For `resource deleted`, the deleted entity (the resource or what holds it); for
        /// `membership ended`, the team (`team/ID`).
        public let entity: String?

        init(grant: String, role: String, scope: String, why: String, since: Int64?, entity: String? = nil) {
            (self.grant, self.role, self.scope, self.why, self.since, self.entity) = (grant, role, scope, why, since, entity)
        }
    }

    /// Why `check` denies: the grants and team roles on the resource's path whose role allows
    /// the permission but that had, by the moment, expired, been revoked, lost their custom
    /// role to `role.deleted`, or reached the subject through a team they have left; every one
    /// of them when the resource (or what holds it) was deleted; and for a token, what its
    /// owner holds that its scopes leave out or that it can no longer use. Empty when nothing
    /// would have allowed it (or when it is allowed).
    public static func explainDenial(
        _ subject: String, _ permission: Permission, _ resource: String, at when: AsOf, in db: SQLiteDatabase
    ) throws(LogError) -> Set<Miss> {
        let view = View(when, in: db)
        let path = try view.path(of: resource)
        // A token acts for its owner, within its scopes: what the owner lost, the token lost.
        let token = subject.hasPrefix("tok_") ? try view.token(subject) : nil
        let owner = token.flatMap { $0.scopes.contains(where: { $0.matches(permission) }) ? $0.owner : nil }
        guard !path.isEmpty else {
            var misses = try view.deleted(for: subject, permission, resource)
            if let owner { misses.formUnion(try view.deleted(for: owner, permission, resource)) }
            return misses
        }
        var misses = try view.ended(for: subject, permission, path).union(try view.left(by: subject, permission, path))
        guard let token else { return misses }
        if let owner { misses.formUnion(try view.ended(for: owner, permission, path).union(try view.left(by: owner, permission, path))) }
        // What would allow it but for the token itself: its owner's access and its own grants.
        let why = !token.inForce ? "the token is revoked or expired" : owner == nil ? "outside the token's scopes" : nil
        if let why {
            let held = try view.held(by: token.owner, permission, path).union(try view.held(by: subject, permission, path))
            for reason in held { misses.insert(Miss(grant: reason.grant, role: reason.role, scope: reason.scope, why: why, since: nil)) }
        }
        return misses
    }

    /// Everyone (users and tokens) who may do `permission` on `resource`, each with every
    /// grant or team role that allows it, as `check` would answer for each of them.
    public static func whoCan(
        _ permission: Permission, _ resource: String, at when: AsOf, in db: SQLiteDatabase
    ) throws(LogError) -> [String: Set<Reason>] {
        let view = View(when, in: db)
        let path = try view.path(of: resource)
        guard !path.isEmpty else { return [:] }
        var holders: [String: Set<Reason>] = [:]
        // Grants on the path, to users, teams (their members) and tokens.
        var grants: [(id: String, subject: String, role: String, scope: String)] = []
        let rows = try db.statement(
            "SELECT grant_id, subject, role, scope, expires_at FROM access_grant WHERE scope IN (\(View.placeholders(path.count))) AND \(view.holds)"
        )
        for (index, node) in path.enumerated() { rows.bind(Int32(index + 1), node) }
        view.bindMoment(rows, from: Int32(path.count + 1))
        while try rows.step() {
            guard view.time < (rows.isNull(4) ? .max : rows.int(4)) else { continue }
            grants.append((rows.text(0) ?? "", rows.text(1) ?? "", rows.text(2) ?? "", rows.text(3) ?? ""))
        }
        rows.finish()
        var tokenGrants: [String: Set<Reason>] = [:]
        for grant in grants where try view.role(grant.role)?.allows(permission) == true {
            let reason = Reason(grant: grant.id, role: grant.role, scope: grant.scope)
            if grant.subject.hasPrefix("team/") {
                for (user, _) in try view.members(of: String(grant.subject.dropFirst(5))) { holders[user, default: []].insert(reason) }
            } else if grant.subject.hasPrefix("tok_") {
                tokenGrants[grant.subject, default: []].insert(reason)
            } else {
                holders[grant.subject, default: []].insert(reason)
            }
        }
        // Team roles on teams on the path.
        for node in path where node.hasPrefix("team/") {
            let team = String(node.dropFirst(5))
            for (user, role) in try view.members(of: team) where try view.role(role)?.allows(permission) == true {
                holders[user, default: []].insert(Reason(grant: "member:" + team, role: role, scope: node))
            }
        }
        // Tokens in force whose scopes match act for their owners, and through their own grants:
        // those of the users found so far, and those holding grants themselves.
        if !holders.isEmpty || !tokenGrants.isEmpty {
            // Every token in force, read once: a list of thousands of owners to look up would
            // cost more than the tokens themselves, which are at most a few per user.
            let tokens = try db.statement("SELECT token, owner, scopes, expires_at FROM access_token WHERE \(view.holds)")
            view.bindMoment(tokens, from: 1)
            var acting: [(token: String, reasons: Set<Reason>)] = []
            while try tokens.step() {
                guard let token = tokens.text(0), let owner = tokens.text(1), view.time < (tokens.isNull(3) ? .max : tokens.int(3)) else {
                    continue
                }
                let reasons = (holders[owner] ?? []).union(tokenGrants[token] ?? [])
                guard !reasons.isEmpty,
                    (tokens.text(2) ?? "").split(separator: ",").contains(where: {
                        PermissionPattern(String($0))?.matches(permission) == true
                    })
                else { continue }
                acting.append((token, reasons))
            }
            tokens.finish()
            for (token, reasons) in acting { holders[token] = reasons }
        }
        return holders
    }

    /// A grant (or team role) in force for a subject: where, which role, what it confers
    /// (for a token, only what its scopes also allow) and until when.
    public struct Holding: Hashable, Sendable {
        public let grant: String
        public let role: String
        public let scope: String
        public let permissions: [Permission]
        /// Milliseconds since the Unix epoch; nil when it does not expire.
        public let expiresAt: Int64?
        /// Whom the grant names: the subject itself, `team/ID` (held as a member), or
        /// `member:TEAM` for a team role.
        public let heldBy: String
        /// When it was granted (or the membership began) and by whom (nil for a team role).
        public let grantedAt: Int64
        public let grantedBy: String?

        func narrowed(to permissions: [Permission]) -> Holding {
            Holding(
                grant: grant, role: role, scope: scope, permissions: permissions, expiresAt: expiresAt, heldBy: heldBy,
                grantedAt: grantedAt, grantedBy: grantedBy)
        }
    }

    /// Everything `subject` (`usr_…` or `tok_…`) may do, grant by grant, at a moment.
    public static func whatCan(_ subject: String, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [Holding] {
        let view = View(when, in: db)
        guard subject.hasPrefix("tok_") else { return try view.holdings(of: subject) }
        let token = try db.statement("SELECT owner, scopes, expires_at FROM access_token WHERE token = ? AND \(view.holds)").bind(
            1, subject)
        view.bindMoment(token, from: 2)
        guard try token.step(), let owner = token.text(0), view.time < (token.isNull(2) ? .max : token.int(2)) else {
            token.finish()
            return []
        }
        let scopes = (token.text(1) ?? "").split(separator: ",").compactMap { PermissionPattern(String($0)) }
        token.finish()
        return try (view.holdings(of: owner) + view.holdings(of: subject)).compactMap { holding in
            let narrowed = holding.permissions.filter { permission in scopes.contains { $0.matches(permission) } }
            return narrowed.isEmpty ? nil : holding.narrowed(to: narrowed)
        }
    }

    /// A gain or loss of access: a grant `granted`, `revoked` or `expired`; a membership
    /// `joined`, `role changed` or `left`; a custom role `defined`, `redefined` or `deleted`;
    /// a token `created`, `revoked` or `expired`. `seq` is the event that caused it (nil for an expiry, which no
    /// event marks), `at` its time.
    public struct Change: Hashable, Sendable {
        public let change: String
        public let seq: UInt64?
        public let at: Int64
        /// What changed: the grant, `member:TEAM`, the role or the token.
        public let subject: String
        /// What it was about (`subject`, `user`, `role`, `scope`, `owner`), who made it (`by`,
        /// `byKind`: absent for an expiry, which no one makes) and a revocation's `reason`.
        public let detail: [String: String]
    }

    /// Every change of access whose time falls in `from...to` (milliseconds), in time order;
    /// with `scope`, only grants and memberships on it or beneath it. None when `from` is
    /// after `to`.
    public static func changes(from: Int64, to: Int64, scope: String?, in db: SQLiteDatabase) throws(LogError) -> [Change] {
        guard from <= to else { return [] }
        let now = View(.now, in: db)
        let reaches = { (target: String) throws(LogError) -> Bool in
            guard let scope else { return true }
            // Deleted or not: the change happened to something beneath the scope.
            return try now.path(of: target, throughDeletions: true).contains(scope)
        }
        var changes: [Change] = []
        let grants = try db.statement(
            "SELECT grant_id, subject, role, scope, expires_at, from_seq, to_seq, from_time, to_time FROM access_grant"
                + " WHERE (from_time BETWEEN ?1 AND ?2) OR (to_time BETWEEN ?1 AND ?2) OR (expires_at BETWEEN ?1 AND ?2)"
        )
        .bind(1, from).bind(2, to)
        var rows:
            [(
                grant: String, subject: String, role: String, scope: String, expires: Int64?, fromSeq: Int64, toSeq: Int64?,
                fromTime: Int64, toTime: Int64?
            )] = []
        while try grants.step() {
            rows.append(
                (
                    grants.text(0) ?? "", grants.text(1) ?? "", grants.text(2) ?? "", grants.text(3) ?? "",
                    grants.isNull(4) ? nil : grants.int(4), grants.int(5), grants.isNull(6) ? nil : grants.int(6),
                    grants.int(7), grants.isNull(8) ? nil : grants.int(8)
                ))
        }
        grants.finish()
        for row in rows where try reaches(row.scope) {
            let detail = ["subject": row.subject, "role": row.role, "scope": row.scope]
            if (from...to).contains(row.fromTime) {
                changes.append(Change(change: "granted", seq: UInt64(row.fromSeq), at: row.fromTime, subject: row.grant, detail: detail))
            }
            if let end = row.toTime, let seq = row.toSeq, (from...to).contains(end), end < (row.expires ?? .max) {
                changes.append(Change(change: "revoked", seq: UInt64(seq), at: end, subject: row.grant, detail: detail))
            }
            if let expiry = row.expires, (from...to).contains(expiry), expiry <= (row.toTime ?? .max) {
                changes.append(Change(change: "expired", seq: nil, at: expiry, subject: row.grant, detail: detail))
            }
        }
        // Memberships: a row begins when a user joins or their role changes, and ends when it
        // changes again or they leave.
        let members = try db.statement(
            "SELECT team, user, role, from_seq, to_seq, from_time, to_time FROM access_member WHERE (from_time BETWEEN ?1 AND ?2) OR (to_time BETWEEN ?1 AND ?2)"
        )
        .bind(1, from).bind(2, to)
        var memberships: [(team: String, user: String, role: String, fromSeq: Int64, toSeq: Int64?, fromTime: Int64, toTime: Int64?)] = []
        while try members.step() {
            memberships.append(
                (
                    members.text(0) ?? "", members.text(1) ?? "", members.text(2) ?? "", members.int(3),
                    members.isNull(4) ? nil : members.int(4), members.int(5), members.isNull(6) ? nil : members.int(6)
                ))
        }
        members.finish()
        let begins = Set(memberships.map { "\($0.team) \($0.user) \($0.fromSeq)" })
        let ends = Set(memberships.compactMap { row in row.toSeq.map { "\(row.team) \(row.user) \($0)" } })
        for row in memberships where try reaches("team/" + row.team) {
            let detail = ["user": row.user, "role": row.role, "scope": "team/" + row.team]
            if (from...to).contains(row.fromTime) {
                let changed = ends.contains("\(row.team) \(row.user) \(row.fromSeq)")
                changes.append(
                    Change(
                        change: changed ? "role changed" : "joined", seq: UInt64(row.fromSeq), at: row.fromTime,
                        subject: "member:" + row.team, detail: detail))
            }
            if let end = row.toTime, let seq = row.toSeq, (from...to).contains(end), !begins.contains("\(row.team) \(row.user) \(seq)") {
                changes.append(Change(change: "left", seq: UInt64(seq), at: end, subject: "member:" + row.team, detail: detail))
            }
        }
        if scope == nil {
            changes += try lifetimes(of: "role", in: "access_role", kinds: ("defined", "deleted", "redefined"), from: from, to: to, in: db)
            changes += try lifetimes(of: "token", in: "access_token", kinds: ("created", "revoked", "replaced"), from: from, to: to, in: db)
            let expiring = try db.statement(
                "SELECT token, owner, expires_at FROM access_token WHERE expires_at BETWEEN ? AND ? AND (to_time IS NULL OR to_time >= expires_at)"
            )
            .bind(1, from).bind(2, to)
            while try expiring.step() {
                changes.append(
                    Change(
                        change: "expired", seq: nil, at: expiring.int(2), subject: expiring.text(0) ?? "",
                        detail: ["owner": expiring.text(1) ?? ""]))
            }
            expiring.finish()
        }
        // Who made each change (an expiry has no seq, and no one made it), and a revocation's reason.
        let actors = try db.statement("SELECT actor, actor_kind, reason FROM access_actor WHERE seq = ?")
        defer { actors.finish() }
        let attributed = try changes.map { change throws(LogError) -> Change in
            guard let seq = change.seq else { return change }
            actors.reset().bind(1, Int64(seq))
            guard try actors.step() else { return change }
            var detail = change.detail
            detail["by"] = actors.text(0)
            detail["byKind"] = actors.text(1)
            if change.change == "revoked", let reason = actors.text(2) { detail["reason"] = reason }
            return Change(change: change.change, seq: change.seq, at: change.at, subject: change.subject, detail: detail)
        }
        return attributed.sorted { ($0.at, $0.seq ?? 0, $0.subject, $0.change) < ($1.at, $1.seq ?? 0, $1.subject, $1.change) }
    }

    /// When the rows of a table keyed by `key` began and ended within the period; a row
    /// that ends where the next begins (a redefined role) is one change, `replaced`.
    private static func lifetimes(
        of key: String, in table: String, kinds: (begun: String, ended: String, replaced: String), from: Int64, to: Int64,
        in db: SQLiteDatabase
    ) throws(LogError) -> [Change] {
        let rows = try db.statement(
            "SELECT \(key), from_seq, to_seq, from_time, to_time FROM \(table) WHERE (from_time BETWEEN ?1 AND ?2) OR (to_time BETWEEN ?1 AND ?2)"
        )
        .bind(1, from).bind(2, to)
        defer { rows.finish() }
        var begun: [String: Change] = [:]
        var ended: [String: Change] = [:]
        while try rows.step() {
            let name = rows.text(0) ?? ""
            if (from...to).contains(rows.int(3)) {
                begun["\(name) \(rows.int(1))"] = Change(
                    change: kinds.begun, seq: UInt64(rows.int(1)), at: rows.int(3), subject: name, detail: [:])
            }
            if !rows.isNull(4), (from...to).contains(rows.int(4)) {
                ended["\(name) \(rows.int(2))"] = Change(
                    change: kinds.ended, seq: UInt64(rows.int(2)), at: rows.int(4), subject: name, detail: [:])
            }
        }
        var changes = Array(ended.filter { begun[$0.key] == nil }.values)
        for (key, change) in begun {
            changes.append(
                ended[key] == nil
                    ? change : Change(change: kinds.replaced, seq: change.seq, at: change.at, subject: change.subject, detail: [:]))
        }
        return changes
    }

    /// The model's tables as they stood at one moment.
    private struct View {
        let db: SQLiteDatabase
        let bySeq: Bool
        let moment: Int64
        /// The time expiries are measured against.
        let time: Int64

        init(_ when: AsOf, in db: SQLiteDatabase) {
            self.db = db
            let bounds = when.bounds
            (bySeq, moment, time) = (bounds.bySeq, bounds.value, bounds.time)
        }

        /// `name` with the `_seq` or `_time` suffix the moment compares.
        func column(_ name: String) -> String { name + (bySeq ? "_seq" : "_time") }

        /// A token's lifetime at the moment: its owner and scopes, and whether it may act
        /// (neither revoked nor expired); nil before it was created.
        func token(_ id: String) throws(LogError) -> (owner: String, scopes: [PermissionPattern], inForce: Bool)? {
            let row = try db.statement(
                "SELECT owner, scopes, expires_at, \(column("to")) FROM access_token WHERE token = ? AND \(column("from")) <= ? ORDER BY \(column("from")) DESC LIMIT 1"
            ).bind(1, id).bind(2, moment)
            defer { row.finish() }
            guard try row.step(), let owner = row.text(0) else { return nil }
            let scopes = (row.text(1) ?? "").split(separator: ",").compactMap { PermissionPattern(String($0)) }
            let revoked = !row.isNull(3) && row.int(3) <= moment
            return (owner, scopes, !revoked && time < (row.isNull(2) ? .max : row.int(2)))
        }

        /// SQL that holds when a row's interval contains the moment; its two placeholders
        /// take the moment twice (`bindMoment`).
        var holds: String {
            bySeq ? "from_seq <= ? AND (to_seq IS NULL OR to_seq > ?)" : "from_time <= ? AND (to_time IS NULL OR to_time > ?)"
        }

        static func placeholders(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ",") }

        func bindMoment(_ statement: SQLiteDatabase.Statement, from index: Int32) {
            statement.bind(index, moment).bind(index + 1, moment)
        }

        /// One step up the ownership tree: whether a node (?1) is deleted at the moment (?2),
        /// and what holds it then.
        private static let stepBySeq =
            "SELECT (SELECT 1 FROM access_deleted WHERE entity = ?1 AND from_seq <= ?2),"
            + " (SELECT parent FROM access_parent WHERE child = ?1 AND from_seq <= ?2 AND (to_seq IS NULL OR to_seq > ?2))"
        private static let stepByTime =
            "SELECT (SELECT 1 FROM access_deleted WHERE entity = ?1 AND from_time <= ?2),"
            + " (SELECT parent FROM access_parent WHERE child = ?1 AND from_time <= ?2 AND (to_time IS NULL OR to_time > ?2))"

        /// The resource and what holds it, nearest first; empty when one of them is deleted,
        /// unless `throughDeletions`.
        func path(of resource: String, throughDeletions: Bool = false) throws(LogError) -> [String] {
            var path: [String] = []
            var current: String? = resource
            while let node = current, !path.contains(node) {
                // Whether the node is deleted, and what holds it, in one statement.
                let step = try db.statement(bySeq ? Self.stepBySeq : Self.stepByTime).bind(1, node).bind(2, moment)
                defer { step.finish() }
                guard try step.step() else { return path }
                if !step.isNull(0) && !throughDeletions { return [] }
                path.append(node)
                current = step.text(1)
            }
            return path
        }

        /// The teams a user is a member of at the moment, with its role there and since when.
        func memberships(of user: String) throws(LogError) -> [(team: String, role: String, since: Int64)] {
            let members = try db.statement("SELECT team, role, from_time FROM access_member WHERE user = ? AND \(holds)").bind(1, user)
            bindMoment(members, from: 2)
            defer { members.finish() }
            var teams: [(team: String, role: String, since: Int64)] = []
            while try members.step() { teams.append((members.text(0) ?? "", members.text(1) ?? "", members.int(2))) }
            return teams
        }

        /// The grants and team roles in force for a user or token itself (a user's include its
        /// teams'), whose role is defined and whose scope is not deleted.
        func holdings(of subject: String) throws(LogError) -> [Holding] {
            let teams = try memberships(of: subject)
            let holders = [subject] + teams.map { "team/" + $0.team }
            let rows = try db.statement(
                "SELECT grant_id, role, scope, expires_at, subject, from_time, granted_by FROM access_grant"
                    + " WHERE subject IN (\(Self.placeholders(holders.count))) AND \(holds)")
            for (index, holder) in holders.enumerated() { rows.bind(Int32(index + 1), holder) }
            bindMoment(rows, from: Int32(holders.count + 1))
            var found: [(grant: String, role: String, scope: String, expiresAt: Int64?, heldBy: String, at: Int64, by: String?)] = []
            while try rows.step() {
                found.append(
                    (
                        rows.text(0) ?? "", rows.text(1) ?? "", rows.text(2) ?? "", rows.isNull(3) ? nil : rows.int(3),
                        rows.text(4) ?? "", rows.int(5), rows.text(6)
                    ))
            }
            rows.finish()
            found += teams.map { ("member:" + $0.team, $0.role, "team/" + $0.team, nil, "member:" + $0.team, $0.since, nil) }
            var holdings: [Holding] = []
            for held in found where time < (held.expiresAt ?? .max) {
                guard let role = try role(held.role), try !path(of: held.scope).isEmpty else { continue }
                holdings.append(
                    Holding(
                        grant: held.grant, role: held.role, scope: held.scope, permissions: role.permissions, expiresAt: held.expiresAt,
                        heldBy: held.heldBy, grantedAt: held.at, grantedBy: held.by))
            }
            return holdings.sorted { $0.grant < $1.grant }
        }

        /// The grants of a subject and its teams on the path, whose role allows the
        /// permission, that had expired or been revoked by the moment.
        func ended(for subject: String, _ permission: Permission, _ path: [String]) throws(LogError) -> Set<Miss> {
            let holders = [subject] + (try memberships(of: subject)).map { "team/" + $0.team }
            let (from, to) = (column("from"), column("to"))
            let rows = try db.statement(
                "SELECT grant_id, role, scope, expires_at, to_time, \(to) FROM access_grant WHERE subject IN (\(Self.placeholders(holders.count)))"
                    + " AND scope IN (\(Self.placeholders(path.count))) AND \(from) <= ?")
            for (index, value) in (holders + path).enumerated() { rows.bind(Int32(index + 1), value) }
            rows.bind(Int32(holders.count + path.count + 1), moment)
            var found: [(grant: String, role: String, scope: String, expiry: Int64?, revokedAt: Int64?, revoked: Bool)] = []
            while try rows.step() {
                let revoked = !rows.isNull(5) && rows.int(5) <= moment
                found.append(
                    (
                        rows.text(0) ?? "", rows.text(1) ?? "", rows.text(2) ?? "", rows.isNull(3) ? nil : rows.int(3),
                        rows.isNull(4) ? nil : rows.int(4), revoked
                    ))
            }
            rows.finish()
            var misses: Set<Miss> = []
            for grant in found {
                // A custom role deleted since: what it allowed before.
                let defined = try role(grant.role)
                let deleted = defined == nil ? try deletedRole(grant.role) : nil
                guard (defined ?? deleted?.role)?.allows(permission) == true else { continue }
                // What ended it first: its revocation, its expiry or its role's deletion.
                let causes: [(why: String, since: Int64)] = [
                    grant.revoked ? ("revoked", grant.revokedAt ?? .min) : nil,
                    grant.expiry.flatMap { $0 <= time ? ("expired", $0) : nil },
                    deleted.map { ("role deleted", $0.at) },
                ].compactMap { $0 }
                if let first = causes.min(by: { $0.since < $1.since }) {
                    misses.insert(Miss(grant: grant.grant, role: grant.role, scope: grant.scope, why: first.why, since: first.since))
                }
            }
            return misses
        }

        /// A custom role's permissions as last defined, and when it was deleted, if it was by
        /// the moment (a role redefined is not deleted: its new definition holds).
        func deletedRole(_ name: String) throws(LogError) -> (role: RolePermissions, at: Int64)? {
            let (from, to) = (column("from"), column("to"))
            let row = try db.statement(
                "SELECT permissions, \(to), to_time FROM access_role WHERE role = ? AND \(from) <= ? ORDER BY from_seq DESC LIMIT 1"
            ).bind(1, name).bind(2, moment)
            defer { row.finish() }
            guard try row.step(), !row.isNull(1), row.int(1) <= moment,
                let role = RolePermissions(defined: (row.text(0) ?? "").split(separator: ",").map(String.init))
            else { return nil }
            return (role, row.int(2))
        }

        /// What the subject held through teams it had left by the moment: the teams' grants on
        /// the path, and its role on a team on the path, that would allow the permission.
        func left(by subject: String, _ permission: Permission, _ path: [String]) throws(LogError) -> Set<Miss> {
            let (from, to) = (column("from"), column("to"))
            let current = Set(try memberships(of: subject).map(\.team))
            let rows = try db.statement(
                "SELECT team, role, to_time FROM access_member WHERE user = ? AND \(from) <= ? AND \(to) <= ? ORDER BY from_seq"
            )
            .bind(1, subject).bind(2, moment).bind(3, moment)
            var ended: [String: (role: String, at: Int64)] = [:]
            while try rows.step() {
                let team = rows.text(0) ?? ""
                if !current.contains(team) { ended[team] = (rows.text(1) ?? "", rows.int(2)) }
            }
            rows.finish()
            var misses: Set<Miss> = []
            for (team, membership) in ended {
                let entity = "team/" + team
                if path.contains(entity), try role(membership.role)?.allows(permission) == true {
                    misses.insert(
                        Miss(
                            grant: "member:" + team, role: membership.role, scope: entity, why: "membership ended", since: membership.at,
                            entity: entity))
                }
                for grant in try inForce(to: [entity], on: path) where try role(grant.role)?.allows(permission) == true {
                    misses.insert(
                        Miss(
                            grant: grant.id, role: grant.role, scope: grant.scope, why: "membership ended", since: membership.at,
                            entity: entity))
                }
            }
            return misses
        }

        /// When the resource or what holds it was deleted: every grant and team role of the
        /// subject on its path as it stood, that would otherwise allow the permission.
        func deleted(for subject: String, _ permission: Permission, _ resource: String) throws(LogError) -> Set<Miss> {
            let path = try path(of: resource, throughDeletions: true)
            var deletion: (entity: String, at: Int64)?
            for node in path where deletion == nil {
                let row = try db.statement("SELECT from_time FROM access_deleted WHERE entity = ? AND \(column("from")) <= ?").bind(1, node)
                    .bind(2, moment)
                if try row.step() { deletion = (node, row.int(0)) }
                row.finish()
            }
            guard let deletion else { return [] }
            return Set(
                try held(by: subject, permission, path).map {
                    Miss(
                        grant: $0.grant, role: $0.role, scope: $0.scope, why: "resource deleted", since: deletion.at,
                        entity: deletion.entity)
                })
        }

        /// The grants to `holders` on `path` in force at the moment (neither revoked nor
        /// expired).
        func inForce(to holders: [String], on path: [String]) throws(LogError) -> [(id: String, role: String, scope: String)] {
            let rows = try db.statement(
                "SELECT grant_id, role, scope, expires_at FROM access_grant WHERE subject IN (\(Self.placeholders(holders.count)))"
                    + " AND scope IN (\(Self.placeholders(path.count))) AND \(holds)")
            for (index, value) in (holders + path).enumerated() { rows.bind(Int32(index + 1), value) }
            bindMoment(rows, from: Int32(holders.count + path.count + 1))
            defer { rows.finish() }
            var grants: [(id: String, role: String, scope: String)] = []
            while try rows.step() {
                if time < (rows.isNull(3) ? .max : rows.int(3)) {
                    grants.append((rows.text(0) ?? "", rows.text(1) ?? "", rows.text(2) ?? ""))
                }
            }
            return grants
        }

        /// The members of a team at the moment, with their roles.
        func members(of team: String) throws(LogError) -> [(user: String, role: String)] {
            let rows = try db.statement("SELECT user, role FROM access_member WHERE team = ? AND \(holds)").bind(1, team)
            bindMoment(rows, from: 2)
            defer { rows.finish() }
            var members: [(user: String, role: String)] = []
            while try rows.step() { members.append((rows.text(0) ?? "", rows.text(1) ?? "")) }
            return members
        }

        func role(_ name: String) throws(LogError) -> RolePermissions? {
            if let builtIn = RolePermissions.builtIn[name] { return builtIn }
            let row = try db.statement("SELECT permissions FROM access_role WHERE role = ? AND \(holds)").bind(1, name)
            bindMoment(row, from: 2)
            defer { row.finish() }
            guard try row.step() else { return nil }
            return RolePermissions(defined: (row.text(0) ?? "").split(separator: ",").map(String.init))
        }

        func held(by subject: String, _ permission: Permission, _ path: [String]) throws(LogError) -> Set<Reason> {
            let teams = try memberships(of: subject)
            var reasons: Set<Reason> = []
            // The grants of the subject and of its teams on the resource's path, in one query.
            for grant in try inForce(to: [subject] + teams.map { "team/" + $0.team }, on: path)
            where try role(grant.role)?.allows(permission) == true {
                reasons.insert(Reason(grant: grant.id, role: grant.role, scope: grant.scope))
            }
            for (team, name, _) in teams where path.contains("team/" + team) {
                if try role(name)?.allows(permission) == true {
                    reasons.insert(Reason(grant: "member:" + team, role: name, scope: "team/" + team))
                }
            }
            return reasons
        }
    }
}
