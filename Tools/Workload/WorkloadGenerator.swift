import HindsightCore

/// Deterministic platform histories in the catalogue's envelope (EVENTS.md), for tests and
/// benchmarks: the same seed always gives the same bytes.
///
/// Like a real platform's log it is dominated by `function.invoked` and `metric.recorded`,
/// with build lifecycles, RBAC, teams, tokens, databases and backups, webhooks and settings
/// woven in, always in causal order: a build is queued before it starts, a function is
/// deployed before it is invoked, an invitation is sent before it is accepted.
public struct WorkloadGenerator: Sendable {
    private var random: SplitMix64
    private var clock: Int64
    private var counter = 0

    private var orgs: [Org] = []
    private var builds: [Build] = []
    private var nextBuildNumber = 0

    /// Starts a history at 2026-01-01T00:00:00.000Z.
    public init(seed: UInt64) {
        random = SplitMix64(seed: seed)
        clock = 1_767_225_600_000
    }

    /// The next `count` events as NDJSON, one per line.
    public mutating func ndjson(count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * 320)
        for _ in 0..<count {
            out.append(contentsOf: nextEvent().utf8)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// One seeded history of `count` events as NDJSON.
    public static func ndjson(count: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = WorkloadGenerator(seed: seed)
        return generator.ndjson(count: count)
    }

    /// The next event as one JSON line (without newline).
    public mutating func nextEvent() -> String {
        clock += Int64(random.below(5200))  // about 2.6 s apart on average
        if orgs.isEmpty || (orgs.count < 8 && random.below(40_000) == 0) { return createOrg() }
        let org = random.below(orgs.count)
        if orgs[org].teams.isEmpty { return createTeam(org) }
        if orgs[org].projects.isEmpty { return createProject(org) }
        if orgs[org].functions.isEmpty { return deployFunction(org) }
        let roll = random.below(1000)
        switch roll {
        case 0..<440: return invokeFunction(org)
        case 440..<780: return recordMetric(org)
        case 780..<880: return advanceBuild(org)
        case 880..<905: return queryDatabase(org)
        case 905..<920: return deliverWebhook(org)
        case 920..<930: return deployFunction(org)
        case 930..<940: return grantRole(org)
        case 940..<945: return revokeGrant(org)
        case 945..<955: return inviteOrAccept(org)
        case 955..<958: return changeOrRemoveMember(org)
        case 958..<966: return tokenEvent(org)
        case 966..<976: return databaseEvent(org)
        case 976..<982: return settingsEvent(org)
        case 982..<985: return createProject(org)
        case 985..<987: return createTeam(org)
        case 987..<991: return alertRule(org)
        case 991..<995: return accessDenied(org)
        case 995..<997: return registerWebhook(org)
        default: return defineRole(org)
        }
    }

    // MARK: - The platform's entities

    private struct Org {
        let id: String
        var users: [String] = []
        var teams: [String] = []
        var projects: [(id: String, team: String)] = []
        var functions: [(id: String, project: String)] = []
        var databases: [(id: String, project: String)] = []
        /// Databases ever provisioned: ids are never used again, even once deprovisioned.
        var provisioned = 0
        var webhooks: [String] = []
        var tokens: [String] = []
        var grants: [String] = []
        var roles: [String] = []
        var invitations: [(id: String, team: String)] = []
        var members: [(team: String, user: String)] = []
        var backups = 0
        /// By database: the backup begun and not yet ended, and the last one completed.
        var running: [String: String] = [:]
        var completed: [String: String] = [:]
    }

    private struct Build {
        let org: Int
        let id: String
        let project: String
        var stage: Int
        var steps: Int
    }

    private static let runtimes = ["node", "python", "go", "ruby"]
    private static let builtInRoles = ["owner", "admin", "developer", "viewer", "auditor"]
    private static let metricNames = ["http.requests", "http.latency_ms", "cpu.percent", "memory.mb", "queue.depth"]
    private static let regions = ["eu-west-1", "us-east-1", "ap-south-1"]
    private static let steps = ["install", "lint", "test", "compile", "bundle", "upload"]

    // MARK: - Event builders

    private mutating func createOrg() -> String {
        let id = "org_\(orgs.count + 1)"
        var org = Org(id: id)
        org.users = (1...12).map { "usr_\(orgs.count + 1)_\($0)" }
        orgs.append(org)
        return createTeam(orgs.count - 1)
    }

    private mutating func createTeam(_ org: Int) -> String {
        let team = "team_\(orgs[org].id.dropFirst(4))_\(orgs[org].teams.count + 1)"
        orgs[org].teams.append(team)
        return envelope(org, "team.created", "team/\(team)", #""team":"\#(team)","name":"Team \#(orgs[org].teams.count)""#)
    }

    private mutating func createProject(_ org: Int) -> String {
        let project = "prj_\(orgs[org].id.dropFirst(4))_\(orgs[org].projects.count + 1)"
        let team = pick(orgs[org].teams)
        orgs[org].projects.append((project, team))
        return envelope(
            org, "project.created", "project/\(project)",
            #""project":"\#(project)","team":"\#(team)","name":"service-\#(orgs[org].projects.count)""#)
    }

    private mutating func deployFunction(_ org: Int) -> String {
        let project = pick(orgs[org].projects).id
        let function: String
        if orgs[org].functions.count < 4 * orgs[org].projects.count || random.below(3) == 0 {
            function = "fn_\(orgs[org].id.dropFirst(4))_\(orgs[org].functions.count + 1)"
            orgs[org].functions.append((function, project))
        } else {
            function = pick(orgs[org].functions).id
        }
        let owner = orgs[org].functions.first { $0.id == function }!.project
        let runtime = pick(Self.runtimes)
        return envelope(
            org, "function.deployed", "function/\(function)",
            #""function":"\#(function)","project":"\#(owner)","runtime":"\#(runtime)","version":"v\#(random.below(90) + 1)","memoryMb":\#([128, 256, 512, 1024][random.below(4)]),"timeoutMs":\#([3000, 10000, 30000][random.below(3)])"#
        )
    }

    private mutating func invokeFunction(_ org: Int) -> String {
        let function = pick(orgs[org].functions)
        let cold = random.below(20) == 0
        let statusRoll = random.below(100)
        let status = statusRoll < 96 ? "ok" : statusRoll < 99 ? "error" : "timeout"
        let duration = status == "timeout" ? 10000 : 5 + random.below(cold ? 1500 : 300)
        return envelope(
            org, "function.invoked", "function/\(function.id)",
            #""function":"\#(function.id)","project":"\#(function.project)","mode":"\#(random.below(4) == 0 ? "async" : "sync")","durationMs":\#(duration),"coldStart":\#(cold),"status":"\#(status)""#,
            actor: (kind: "system", id: "invoker"))
    }

    private mutating func recordMetric(_ org: Int) -> String {
        let name = pick(Self.metricNames)
        let project = pick(orgs[org].projects).id
        let value = Double(random.below(100_000)) / 100
        return envelope(
            org, "metric.recorded", "metric/\(name)",
            #""name":"\#(name)","value":\#(value),"unit":"\#(name.hasSuffix("_ms") ? "ms" : "count")","tags":{"project":"\#(project)","region":"\#(pick(Self.regions))"}"#,
            actor: (kind: "system", id: "collector"))
    }

    private mutating func advanceBuild(_ org: Int) -> String {
        if let index = builds.indices.filter({ builds[$0].org == org }).randomElement(using: &random), random.below(5) != 0 {
            var build = builds[index]
            let stream = "build/\(build.id)"
            defer { if build.stage >= 3 { builds.remove(at: index) } else { builds[index] = build } }
            switch build.stage {
            case 0:
                build.stage = 1
                return envelope(
                    org, "build.started", stream,
                    #""build":"\#(build.id)","project":"\#(build.project)","runner":"runner-\#(random.below(16))""#,
                    actor: (kind: "system", id: "ci"))
            case 1:
                build.stage = 2
                return envelope(
                    org, "build.cache_restored", stream,
                    #""build":"\#(build.id)","key":"deps-\#(build.project)","hit":\#(random.below(3) != 0),"bytes":\#(random.below(50_000_000))"#,
                    actor: (kind: "system", id: "ci"))
            case 2 where build.steps < Self.steps.count:
                let step = Self.steps[build.steps]
                build.steps += 1
                let failed = random.below(40) == 0
                if failed { build.stage = 3 }
                let logged = envelope(
                    org, "build.step_logged", stream,
                    #""build":"\#(build.id)","step":"\#(step)","status":"\#(failed ? "failed" : "ok")","durationMs":\#(200 + random.below(90_000)),"logLines":\#(random.below(4000))"#,
                    actor: (kind: "system", id: "ci"))
                if failed { builds.append(Build(org: org, id: build.id, project: build.project, stage: 9, steps: build.steps)) }
                return logged
            default:
                build.stage = 3
                if random.below(30) == 0 {
                    return envelope(org, "build.canceled", stream, #""build":"\#(build.id)","project":"\#(build.project)""#)
                }
                return envelope(
                    org, "build.succeeded", stream,
                    #""build":"\#(build.id)","project":"\#(build.project)","durationMs":\#(30_000 + random.below(600_000)),"artifactBytes":\#(random.below(200_000_000))"#,
                    actor: (kind: "system", id: "ci"))
            }
        }
        if let index = builds.firstIndex(where: { $0.org == org && $0.stage == 9 }) {
            let build = builds.remove(at: index)
            return envelope(
                org, "build.failed", "build/\(build.id)",
                #""build":"\#(build.id)","project":"\#(build.project)","durationMs":\#(10_000 + random.below(300_000)),"step":"\#(Self.steps[build.steps - 1])","reason":"step exited with status 1""#,
                actor: (kind: "system", id: "ci"))
        }
        nextBuildNumber += 1
        let id = "b_\(nextBuildNumber)"
        let project = pick(orgs[org].projects).id
        builds.append(Build(org: org, id: id, project: project, stage: 0, steps: 0))
        return envelope(
            org, "build.queued", "build/\(id)",
            #""build":"\#(id)","project":"\#(project)","commit":"\#(hex(40))","branch":"\#(random.below(4) == 0 ? "feature-\(random.below(50))" : "main")","trigger":"\#(["push", "manual", "hook", "api"][random.below(4)])""#
        )
    }

    private mutating func queryDatabase(_ org: Int) -> String {
        guard let database = orgs[org].databases.randomElement(using: &random) else { return databaseEvent(org) }
        return envelope(
            org, "database.query_executed", "database/\(database.id)",
            #""database":"\#(database.id)","statementHash":"\#(hex(16))","durationMs":\#(random.below(2000)),"rows":\#(random.below(10_000))"#,
            actor: (kind: "system", id: "db-proxy"))
    }

    private mutating func registerWebhook(_ org: Int) -> String {
        let project = pick(orgs[org].projects).id
        let webhook = "wh_\(orgs[org].id.dropFirst(4))_\(orgs[org].webhooks.count + 1)"
        orgs[org].webhooks.append(webhook)
        return envelope(
            org, "webhook.registered", "webhook/\(webhook)",
            #""webhook":"\#(webhook)","project":"\#(project)","url":"https://hooks.example.com/\#(webhook)","events":["build.succeeded","build.failed"],"secretFingerprint":"\#(hex(64))""#
        )
    }

    private mutating func deliverWebhook(_ org: Int) -> String {
        guard let webhook = orgs[org].webhooks.randomElement(using: &random) else { return registerWebhook(org) }
        let delivery = "dlv_\(counter)"
        if random.below(10) == 0 {
            return envelope(
                org, "webhook.failed", "webhook/\(webhook)",
                #""webhook":"\#(webhook)","delivery":"\#(delivery)","event":"build.succeeded","attempt":\#(1 + random.below(3)),"error":"connection timed out""#,
                actor: (kind: "system", id: "dispatcher"))
        }
        return envelope(
            org, "webhook.delivered", "webhook/\(webhook)",
            #""webhook":"\#(webhook)","delivery":"\#(delivery)","event":"build.succeeded","httpStatus":200,"attempt":1,"durationMs":\#(20 + random.below(800))"#,
            actor: (kind: "system", id: "dispatcher"))
    }

    private mutating func grantRole(_ org: Int) -> String {
        let grant = "grant_\(orgs[org].id.dropFirst(4))_\(orgs[org].grants.count + 1)"
        orgs[org].grants.append(grant)
        let subject = random.below(4) == 0 ? "team/\(pick(orgs[org].teams))" : pick(orgs[org].users)
        let role = orgs[org].roles.isEmpty || random.below(3) != 0 ? pick(Self.builtInRoles) : pick(orgs[org].roles)
        let scope = random.below(3) == 0 ? "team/\(pick(orgs[org].teams))" : "project/\(pick(orgs[org].projects).id)"
        let expiry = random.below(3) == 0 ? #","expiresAt":"\#(timestamp(clock + Int64(random.below(90)) * 86_400_000))""# : ""
        return envelope(
            org, "role.granted", "grant/\(grant)",
            #""grant":"\#(grant)","subject":"\#(subject)","role":"\#(role)","scope":"\#(scope)"\#(expiry)"#)
    }

    private mutating func revokeGrant(_ org: Int) -> String {
        guard !orgs[org].grants.isEmpty else { return grantRole(org) }
        let grant = orgs[org].grants.remove(at: random.below(orgs[org].grants.count))
        return envelope(org, "role.revoked", "grant/\(grant)", #""grant":"\#(grant)","reason":"access review""#)
    }

    private mutating func defineRole(_ org: Int) -> String {
        let role = "role_\(orgs[org].id.dropFirst(4))_\(orgs[org].roles.count + 1)"
        orgs[org].roles.append(role)
        return envelope(
            org, "role.defined", "role/\(role)",
            #""role":"\#(role)","permissions":["build:*","function:invoke","database:query"],"description":"release managers""#)
    }

    private mutating func inviteOrAccept(_ org: Int) -> String {
        if let index = orgs[org].invitations.indices.randomElement(using: &random), random.below(3) != 0 {
            let invitation = orgs[org].invitations.remove(at: index)
            let user = pick(orgs[org].users)
            // One in five is withdrawn instead (decided by the counter: no random number is
            // drawn for it).
            if counter % 5 == 0 {
                return envelope(
                    org, "invitation.revoked", "team/\(invitation.team)", #""invitation":"\#(invitation.id)","team":"\#(invitation.team)""#)
            }
            orgs[org].members.append((invitation.team, user))
            return envelope(
                org, "invitation.accepted", "team/\(invitation.team)",
                #""invitation":"\#(invitation.id)","team":"\#(invitation.team)","user":"\#(user)""#, actor: (kind: "user", id: user))
        }
        let invitation = "inv_\(counter)"
        let team = pick(orgs[org].teams)
        orgs[org].invitations.append((invitation, team))
        return envelope(
            org, "member.invited", "team/\(team)",
            #""invitation":"\#(invitation)","team":"\#(team)","email":"person\#(random.below(100_000))@example.com","role":"\#(pick(["developer", "viewer", "admin"]))","expiresAt":"\#(timestamp(clock + 7 * 86_400_000))""#
        )
    }

    private mutating func changeOrRemoveMember(_ org: Int) -> String {
        guard let index = orgs[org].members.indices.randomElement(using: &random) else { return inviteOrAccept(org) }
        let member = orgs[org].members[index]
        if random.below(2) == 0 {
            orgs[org].members.remove(at: index)
            return envelope(org, "member.removed", "team/\(member.team)", #""team":"\#(member.team)","user":"\#(member.user)""#)
        }
        return envelope(
            org, "member.role_changed", "team/\(member.team)",
            #""team":"\#(member.team)","user":"\#(member.user)","role":"\#(pick(["developer", "viewer", "admin"]))""#)
    }

    private mutating func tokenEvent(_ org: Int) -> String {
        if let token = orgs[org].tokens.randomElement(using: &random), random.below(2) == 0 {
            if random.below(4) == 0 {
                orgs[org].tokens.removeAll { $0 == token }
                return envelope(org, "token.revoked", "token/\(token)", #""token":"\#(token)","reason":"rotation policy""#)
            }
            return envelope(org, "token.rotated", "token/\(token)", #""token":"\#(token)","fingerprint":"\#(hex(64))""#)
        }
        let token = "tok_\(orgs[org].id.dropFirst(4))_\(counter)"
        orgs[org].tokens.append(token)
        return envelope(
            org, "token.created", "token/\(token)",
            #""token":"\#(token)","owner":"\#(pick(orgs[org].users))","scopes":["build:*","function:read"],"fingerprint":"\#(hex(64))","expiresAt":"\#(timestamp(clock + 180 * 86_400_000))""#
        )
    }

    private mutating func databaseEvent(_ org: Int) -> String {
        guard let database = orgs[org].databases.randomElement(using: &random), random.below(4) != 0 else {
            orgs[org].provisioned += 1
            let database = "db_\(orgs[org].id.dropFirst(4))_\(orgs[org].provisioned)"
            let project = pick(orgs[org].projects).id
            orgs[org].databases.append((database, project))
            return envelope(
                org, "database.provisioned", "database/\(database)",
                #""database":"\#(database)","project":"\#(project)","engine":"\#(pick(["postgres", "mysql", "mongodb", "redis"]))","plan":"\#(pick(["hobby", "pro", "scale"]))","region":"\#(pick(Self.regions))""#
            )
        }
        let stream = "database/\(database.id)"
        switch random.below(4) {
        case 0:
            let (every, retention) = ([6, 12, 24][random.below(3)], [7, 30, 90][random.below(3)])
            // Now and then a database is deprovisioned instead (decided by the counter).
            if counter % 40 == 0 {
                orgs[org].databases.removeAll { $0.id == database.id }
                return envelope(org, "database.deprovisioned", stream, #""database":"\#(database.id)""#)
            }
            return envelope(
                org, "backup.schedule_set", stream, #""database":"\#(database.id)","everyHours":\#(every),"retentionDays":\#(retention)"#)
        case 1:
            orgs[org].backups += 1
            let backup = "bak_\(orgs[org].id.dropFirst(4))_\(orgs[org].backups)"
            orgs[org].running[database.id] = backup
            return envelope(
                org, "backup.started", stream, #""backup":"\#(backup)","database":"\#(database.id)""#, actor: (kind: "system", id: "backup")
            )
        default:
            // A backup ends only once it has begun, on its own database; one completed may be
            // restored. Which of these happens is decided by the counter.
            let (bytes, digest) = (random.below(2_000_000_000), hex(64))
            if counter % 13 == 0, let done = orgs[org].completed[database.id] {
                return envelope(
                    org, "backup.restored", stream, #""backup":"\#(done)","database":"\#(database.id)","target":"\#(database.id)_restored""#
                )
            }
            guard let backup = orgs[org].running.removeValue(forKey: database.id) else { return queryDatabase(org) }
            if counter % 9 == 0 {
                return envelope(
                    org, "backup.failed", stream, #""backup":"\#(backup)","database":"\#(database.id)","reason":"snapshot timed out""#,
                    actor: (kind: "system", id: "backup"))
            }
            orgs[org].completed[database.id] = backup
            return envelope(
                org, "backup.completed", stream,
                #""backup":"\#(backup)","database":"\#(database.id)","bytes":\#(bytes),"sha256":"\#(digest)""#,
                actor: (kind: "system", id: "backup"))
        }
    }

    private mutating func settingsEvent(_ org: Int) -> String {
        let project = pick(orgs[org].projects).id
        switch random.below(3) {
        case 0:
            let secret = random.below(2) == 0
            let value = secret ? "" : #","value":"\#(pick(["info", "debug", "eu-west-1", "true"]))""#
            return envelope(
                org, "env_var.set", "project/\(project)",
                #""project":"\#(project)","key":"\#(pick(["LOG_LEVEL", "API_KEY", "REGION", "FEATURE_FLAG"]))","target":"\#(pick(["production", "preview", "development"]))","secret":\#(secret)\#(value),"valueFingerprint":"\#(hex(64))""#
            )
        case 1:
            return envelope(
                org, "build_settings.changed", "project/\(project)",
                #""project":"\#(project)","changes":{"nodeVersion":{"from":"18","to":"20"}}"#)
        default:
            let domain = "d\(counter).example.com"
            return envelope(org, "domain.added", "domain/\(domain)", #""domain":"\#(domain)","project":"\#(project)""#)
        }
    }

    private mutating func alertRule(_ org: Int) -> String {
        let rule = "rule_\(orgs[org].id.dropFirst(4))_\(random.below(20))"
        return envelope(
            org, "alert.rule_defined", "alert/\(rule)",
            #""rule":"\#(rule)","metric":"\#(pick(Self.metricNames))","op":"gt","threshold":\#(random.below(1000)),"windowSec":300"#)
    }

    private mutating func accessDenied(_ org: Int) -> String {
        let user = pick(orgs[org].users)
        return envelope(
            org, "access.denied", "project/\(pick(orgs[org].projects).id)",
            #""subject":"\#(user)","permission":"project:deploy","resource":"project/\#(pick(orgs[org].projects).id)""#,
            actor: (kind: "user", id: user))
    }

    // MARK: - Helpers

    private mutating func envelope(
        _ org: Int, _ type: String, _ stream: String, _ data: String,
        actor: (kind: String, id: String)? = nil
    ) -> String {
        counter += 1
        let who = actor ?? (kind: "user", id: pick(orgs[org].users))
        return
            #"{"id":"\#(uuid())","type":"\#(type)","stream":"\#(stream)","occurredAt":"\#(timestamp(clock))","actor":{"kind":"\#(who.kind)","id":"\#(who.id)"},"org":"\#(orgs[org].id)","data":{\#(data)}}"#
    }

    private mutating func pick<T>(_ values: [T]) -> T { values[random.below(values.count)] }

    private mutating func hex(_ digits: Int) -> String {
        let alphabet = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digits)
        var bits = random.next()
        for index in 0..<digits {
            if index % 16 == 0 && index > 0 { bits = random.next() }
            out.append(alphabet[Int(bits & 15)])
            bits >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A version-4 UUID drawn from the seeded generator.
    private mutating func uuid() -> String {
        let h = hex(32)
        let u = Array(h.utf8)
        let variant = Array("89ab".utf8)[Int(u[16] & 3)]
        let parts = [u[0..<8], u[8..<12], [UInt8(ascii: "4")] + u[13..<16], [variant] + u[17..<20], u[20..<32]]
        return parts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "-")
    }

    private func timestamp(_ ms: Int64) -> String { Timestamp.format(ms) }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<bound (the modulo bias is negligible at the bounds used here).
    public mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// A number in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }
}
