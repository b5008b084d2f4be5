import Foundation
import HindsightAccess

/// A deliberately naive reading of the access rules of EVENTS.md: for every question it
/// replays the history up to the moment asked about and decides by brute force. It shares
/// nothing with the engine but the permission types, so that the engine's answers can be
/// checked against it.
struct ReferenceEvaluator {
    /// A moment of history: after event N (evaluated at its `occurredAt`), at a time (every
    /// event that occurred by then), or now (every event).
    enum Moment {
        case seq(Int)
        case time(Int64)
        case now(Int64)
    }

    /// Events in seq order, as decoded JSON objects.
    let events: [[String: Any]]

    /// Whether `subject` (`usr_…` or `tok_…`) may do `permission` on `resource` (`KIND/ID`)
    /// at `moment`, and the grants that allow it (`grant_…`, or `member:TEAM` for a team role).
    func check(_ subject: String, _ permission: Permission, _ resource: String, at moment: Moment) -> (allowed: Bool, by: Set<String>) {
        let by = checker(at: moment)(subject, permission, resource)
        return (!by.isEmpty, by)
    }

    /// Answers many questions about one moment from one replay: the grants allowing each.
    func checker(at moment: Moment) -> (String, Permission, String) -> Set<String> {
        let (state, time) = replay(to: moment)
        return { subject, permission, resource in state.allowing(subject, permission, resource, at: time) }
    }

    private func replay(to moment: Moment) -> (State, Int64) {
        var state = State()
        let seen: [[String: Any]]
        let time: Int64
        switch moment {
        case .seq(let n):
            seen = Array(events.prefix(n))
            time = Self.milliseconds(seen.last?["occurredAt"] as? String ?? "") ?? 0
        case .time(let t):
            seen = events.filter { (Self.milliseconds($0["occurredAt"] as! String) ?? 0) <= t }
            time = t
        case .now(let now):
            seen = events
            time = now
        }
        for event in seen { state.apply(event) }
        return (state, time)
    }

    static func milliseconds(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// What the replay knows.
    struct State {
        struct Grant {
            let subject: String
            let role: String
            let scope: String
            let expiresAt: Int64?
            var revoked = false
        }

        struct Token {
            let owner: String
            let scopes: [PermissionPattern]
            let expiresAt: Int64?
            var revoked = false
        }

        var customRoles: [String: RolePermissions] = [:]
        var deletedRoles: Set<String> = []
        var grants: [String: Grant] = [:]
        var teamOrg: [String: String] = [:]
        var invitationRole: [String: String] = [:]
        /// team → user → role
        var members: [String: [String: String]] = [:]
        /// A project's team; an entity's project; a backup's database.
        var parent: [String: String] = [:]
        var deleted: Set<String> = []
        var tokens: [String: Token] = [:]

        mutating func apply(_ event: [String: Any]) {
            let data = event["data"] as! [String: Any]
            let string = { (key: String) in data[key] as? String }
            switch event["type"] as! String {
            case "role.defined":
                customRoles[string("role")!] = RolePermissions(defined: data["permissions"] as! [String])
            case "role.deleted":
                deletedRoles.insert(string("role")!)
            case "role.granted":
                grants[string("grant")!] = Grant(
                    subject: string("subject")!, role: string("role")!, scope: string("scope")!,
                    expiresAt: string("expiresAt").flatMap(ReferenceEvaluator.milliseconds))
            case "role.revoked":
                grants[string("grant")!]?.revoked = true
            case "team.created":
                teamOrg[string("team")!] = event["org"] as? String
                parent["team/" + string("team")!] = "org/" + (event["org"] as! String)
            case "member.invited":
                invitationRole[string("invitation")!] = string("role")
            case "invitation.accepted":
                members[string("team")!, default: [:]][string("user")!] = invitationRole[string("invitation")!]
            case "member.role_changed":
                // Only an acceptance makes a member; a role change of anyone else is void.
                if members[string("team")!]?[string("user")!] != nil { members[string("team")!]![string("user")!] = string("role") }
            case "member.removed":
                members[string("team")!]?[string("user")!] = nil
            case "project.created", "project.transferred":
                parent["project/" + string("project")!] = "team/" + string("team")!
            case "project.deleted":
                deleted.insert("project/" + string("project")!)
            case "function.deleted":
                deleted.insert("function/" + string("function")!)
            case "database.deprovisioned":
                deleted.insert("database/" + string("database")!)
            case "domain.removed":
                deleted.insert("domain/" + string("domain")!)
            case "token.created":
                tokens[string("token")!] = Token(
                    owner: string("owner")!, scopes: (data["scopes"] as! [String]).map { PermissionPattern($0)! },
                    expiresAt: string("expiresAt").flatMap(ReferenceEvaluator.milliseconds))
            case "token.revoked":
                tokens[string("token")!]?.revoked = true
            default:
                break
            }
            // Whatever names its project, or its database, sits beneath it.
            for kind in ["build", "function", "database", "webhook", "domain"] where event["type"] as! String != "project.created" {
                if let id = string(kind), let project = string("project") { parent[kind + "/" + id] = "project/" + project }
            }
            if let backup = string("backup"), let database = string("database") { parent["backup/" + backup] = "database/" + database }
        }

        /// The resource and everything above it, nearest first; empty when it or one of them
        /// is deleted (nothing reaches it then).
        func path(of resource: String) -> [String] {
            var path: [String] = []
            var current: String? = resource
            while let node = current, !path.contains(node) {
                if deleted.contains(node) { return [] }
                path.append(node)
                current = parent[node]
            }
            return path
        }

        func role(_ name: String) -> RolePermissions? {
            if let builtIn = RolePermissions.builtIn[name] { return builtIn }
            return deletedRoles.contains(name) ? nil : customRoles[name]
        }

        /// The grants (and team roles) allowing it; empty when denied.
        func allowing(_ subject: String, _ permission: Permission, _ resource: String, at time: Int64) -> Set<String> {
            // Environment variables are checked against the project that holds them.
            let path = path(of: resource)
            guard !path.isEmpty else { return [] }
            if subject.hasPrefix("tok_") {
                guard let token = tokens[subject], !token.revoked, token.expiresAt.map({ time < $0 }) ?? true,
                    token.scopes.contains(where: { $0.matches(permission) })
                else { return [] }
                return held(by: token.owner, permission, path, at: time).union(held(by: subject, permission, path, at: time))
            }
            return held(by: subject, permission, path, at: time)
        }

        private func held(by subject: String, _ permission: Permission, _ path: [String], at time: Int64) -> Set<String> {
            var by: Set<String> = []
            let teams = Set(members.filter { $0.value[subject] != nil }.keys)
            for (id, grant) in grants {
                let mine =
                    grant.subject == subject || (grant.subject.hasPrefix("team/") && teams.contains(String(grant.subject.dropFirst(5))))
                guard mine, !grant.revoked, grant.expiresAt.map({ time < $0 }) ?? true, path.contains(grant.scope),
                    role(grant.role)?.allows(permission) == true
                else { continue }
                by.insert(id)
            }
            for team in teams where path.contains("team/" + team) {
                if let role = members[team]?[subject], self.role(role)?.allows(permission) == true { by.insert("member:" + team) }
            }
            return by
        }
    }
}
