import HindsightAccess
import HindsightCatalog
import HindsightCore
import Testing

@Suite("Permissions and roles")
struct PermissionTests {
    @Test func everyPermissionReadsBackAsWrittenAndNothingElseIsOne() {
        #expect(Permission.all.count == 15 * 14)
        for permission in Permission.all {
            #expect(Permission(permission.description) == permission)
        }
        for text in [
            "project", "project:", ":read", "project:fly", "proj:read", "*:read", "*", "PROJECT:read", "project:read:x", " project:read",
        ] {
            #expect(Permission(text) == nil, "\(text)")
        }
    }

    /// Patterns are what the catalogue accepts as a permission in `role.defined` and token
    /// scopes: the two never disagree.
    @Test func aPatternIsExactlyWhatTheCatalogueAcceptsAsAPermission() throws {
        let kinds = Permission.Kind.allCases.map(\.rawValue) + ["*", "", "proj", "Project"]
        let actions = Permission.Action.allCases.map(\.rawValue) + ["*", "", "fly", "READ"]
        var texts = ["*", "**", ":", "*:", ":*", "project:read:write", "project"]
        for kind in kinds { for action in actions { texts.append("\(kind):\(action)") } }
        for text in texts {
            let accepted = try #require(Catalog.standard.conforms(text, to: "permission"))
            #expect((PermissionPattern(text) != nil) == accepted, "\(text)")
            if let pattern = PermissionPattern(text) { #expect(PermissionPattern(pattern.description) == pattern) }
        }
    }

    @Test func patternsMatchTheKindTheActionOrBoth() {
        let deploy = Permission(.project, .deploy)
        #expect(PermissionPattern("*")!.matches(deploy))
        #expect(PermissionPattern("project:*")!.matches(deploy))
        #expect(PermissionPattern("*:deploy")!.matches(deploy))
        #expect(PermissionPattern("project:deploy")!.matches(deploy))
        #expect(!PermissionPattern("database:*")!.matches(deploy))
        #expect(!PermissionPattern("*:read")!.matches(deploy))
        #expect(Permission.all.filter(PermissionPattern("*:read")!.matches).count == 15)
        #expect(Permission.all.filter(PermissionPattern("database:*")!.matches).count == 14)
    }

    /// The built-in roles, each written out here permission by permission from the table in
    /// EVENTS.md, against what the roles confer.
    @Test func theBuiltInRolesConferExactlyWhatTheirTableLists() {
        let reads = Set(Permission.Kind.allCases.map { Permission($0, .read) })
        let all = Set(Permission.all)
        let expected: [String: Set<Permission>] = [
            "owner": all,
            "admin": all.subtracting([Permission(.org, .delete)]),
            "developer": reads.union(Permission.Action.allCases.map { Permission(.build, $0) })
                .union(Permission.Action.allCases.map { Permission(.function, $0) })
                .union([
                    Permission(.project, .deploy), Permission(.database, .query), Permission(.backup, .create),
                    Permission(.env, .update), Permission(.domain, .create), Permission(.webhook, .create),
                ]),
            "viewer": reads.subtracting([Permission(.env, .read), Permission(.audit, .read)]),
            "auditor": reads.union([Permission(.audit, .export)]),
        ]
        #expect(Set(RolePermissions.builtIn.keys) == Set(expected.keys))
        for (role, permissions) in expected {
            #expect(Set(RolePermissions.builtIn[role]!.permissions) == permissions, "\(role)")
        }
    }

    @Test func aCustomRoleConfersWhatItsPatternsMatchAndRefusesWhatIsNoPattern() {
        let role = RolePermissions(defined: ["database:*", "backup:restore"])!
        #expect(role.allows(Permission(.database, .backup)))
        #expect(role.allows(Permission(.backup, .restore)))
        #expect(!role.allows(Permission(.backup, .delete)))
        #expect(role.permissions.count == 15)
        #expect(RolePermissions(defined: ["database:*", "database:fly"]) == nil)
    }
}
