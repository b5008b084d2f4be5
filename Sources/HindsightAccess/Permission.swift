/// A permission: an action on a kind of thing, written `KIND:ACTION` (`project:deploy`).
/// Both lists are closed (EVENTS.md, Roles and access).
public struct Permission: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, CaseIterable, Sendable {
        case org, team, project, build, function, database, backup, token, webhook, env, domain, role, audit, metric, alert
    }

    public enum Action: String, CaseIterable, Sendable {
        case read, create, update, delete, deploy, invoke, query, backup, restore, rotate, revoke, invite, grant, export
    }

    public let kind: Kind
    public let action: Action

    public init(_ kind: Kind, _ action: Action) {
        self.kind = kind
        self.action = action
    }

    /// Parses `KIND:ACTION`; nil for anything else (a pattern with `*` is not a permission).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let kind = Kind(rawValue: String(parts[0])), let action = Action(rawValue: String(parts[1])) else {
            return nil
        }
        self.init(kind, action)
    }

    /// Every permission there is.
    public static let all: [Permission] = Kind.allCases.flatMap { kind in Action.allCases.map { Permission(kind, $0) } }

    public var description: String { "\(kind.rawValue):\(action.rawValue)" }
}

/// A set of permissions as roles and token scopes name them: `KIND:ACTION`, with `*` for the
/// kind, the action or both (`database:*`, `*:read`, `*`).
public struct PermissionPattern: Hashable, Sendable, CustomStringConvertible {
    /// nil stands for any.
    public let kind: Permission.Kind?
    public let action: Permission.Action?

    public init(kind: Permission.Kind?, action: Permission.Action?) {
        self.kind = kind
        self.action = action
    }

    /// Parses a pattern; nil for anything that is not one.
    public init?(_ text: String) {
        if text == "*" {
            self.init(kind: nil, action: nil)
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let kind = parts[0] == "*" ? nil : Permission.Kind(rawValue: String(parts[0]))
        let action = parts[1] == "*" ? nil : Permission.Action(rawValue: String(parts[1]))
        guard kind != nil || parts[0] == "*", action != nil || parts[1] == "*" else { return nil }
        self.init(kind: kind, action: action)
    }

    public func matches(_ permission: Permission) -> Bool {
        (kind == nil || kind == permission.kind) && (action == nil || action == permission.action)
    }

    public var description: String {
        if kind == nil && action == nil { return "*" }
        return "\(kind?.rawValue ?? "*"):\(action?.rawValue ?? "*")"
    }
}
