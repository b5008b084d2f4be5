/// What a role confers: every permission one of its patterns matches, but those it
/// excepts. Custom roles (`role.defined`) are patterns only; two built-in roles except a few.
public struct RolePermissions: Hashable, Sendable {
    public let patterns: [PermissionPattern]
    public let except: Set<Permission>

    public init(_ patterns: [PermissionPattern], except: Set<Permission> = []) {
        self.patterns = patterns
        self.except = except
    }

    /// A custom role's permissions as `role.defined` lists them; nil if one is not a pattern
    /// (the catalogue refuses such an event, so a stored one never has it).
    public init?(defined texts: [String]) {
        var patterns: [PermissionPattern] = []
        for text in texts {
            guard let pattern = PermissionPattern(text) else { return nil }
            patterns.append(pattern)
        }
        self.init(patterns)
    }

    public func allows(_ permission: Permission) -> Bool {
        !except.contains(permission) && patterns.contains { $0.matches(permission) }
    }

    /// Every permission the role confers.
    public var permissions: [Permission] { Permission.all.filter(allows) }

    /// The roles that exist without events (EVENTS.md).
    public static let builtIn: [String: RolePermissions] = {
        func patterns(_ texts: String...) -> [PermissionPattern] { texts.map { PermissionPattern($0)! } }
        return [
            "owner": RolePermissions(patterns("*")),
            "admin": RolePermissions(patterns("*"), except: [Permission(.org, .delete)]),
            "developer": RolePermissions(
                patterns(
                    "*:read", "project:deploy", "build:*", "function:*", "database:query", "backup:create", "env:update",
                    "domain:create", "webhook:create")),
            "viewer": RolePermissions(patterns("*:read"), except: [Permission(.env, .read), Permission(.audit, .read)]),
            "auditor": RolePermissions(patterns("*:read", "audit:export")),
        ]
    }()
}
