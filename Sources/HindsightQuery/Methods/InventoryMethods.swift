public import HindsightCore
public import HindsightProjections

/// The platform's inventories (QUERIES.md): `tokens.list`, `tokens.stale`, `databases.list`,
/// `backups.list`, `backups.overdue`, `settings.env`, `settings.domains` and `settings.builds`.
public enum InventoryMethods {
    static let all = [
        MethodDescription(reading: TokenList.self), MethodDescription(reading: StaleTokens.self),
        MethodDescription(reading: DatabaseList.self), MethodDescription(reading: BackupList.self),
        MethodDescription(reading: OverdueBackups.self), MethodDescription(reading: EnvironmentVariables.self),
        MethodDescription(reading: Domains.self), MethodDescription(reading: BuildSettingsHistory.self),
    ]

    /// A project id from `prj_…` or `project/prj_…`.
    static func project(_ text: String) -> String { text.hasPrefix("project/") ? String(text.dropFirst(8)) : text }

    static let at = Parameter(
        "at",
        .position("As of then: after that seq (expiry judged at its occurredAt), or every event that occurred by that time (default now)."))

    /// Tokens as the answers show them.
    public struct Tokens: QueryAnswer {
        public let tokens: [TokensReadModel.Token]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "tokens": .array(
                    tokens.map { token in
                        .object([
                            "token": .string(token.token), "owner": .string(token.owner), "org": .string(token.org),
                            "scopes": .raw(Array(token.scopes.utf8)),
                            "fingerprint": .string(token.fingerprint), "status": .string(token.status.rawValue),
                            "createdAt": .string(Timestamp.format(token.createdAt)), "createdSeq": .integer(token.createdSeq),
                            "lastRotatedAt": token.lastRotatedAt.map { .string(Timestamp.format($0)) } ?? .null,
                            "expiresAt": token.expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
                            "revokedAt": token.revokedAt.map { .string(Timestamp.format($0)) } ?? .null,
                            "reason": token.reason.map { .string($0) } ?? .null,
                        ])
                    })
            ]
        }
        public static let schema = Schema.object([
            "tokens": .array(
                .object([
                    "token": .string(), "owner": .string(), "org": .string(), "scopes": .array(.string()),
                    "fingerprint": .string("The fingerprint in use: the last rotation's, else the creation's."),
                    "status": .oneOf(["active", "revoked", "expired"]),
                    "createdAt": .time(), "createdSeq": .integer(),
                    "lastRotatedAt": .nullable(.time()), "expiresAt": .nullable(.time()),
                    "revokedAt": .nullable(.time()), "reason": .nullable(.string()),
                ]), "By token id.")
        ])
    }

    /// The tokens model's tokens at the moment `at` names.
    static func tokens(owner: String?, at: LogPosition?, _ reading: Reading) throws(QueryError) -> (
        tokens: [TokensReadModel.Token], moment: ModelMoment
    ) {
        let moment = try ModelMoment(at, of: "tokens", reading)
        let db = try reading.database("tokens")
        let tokens = try engine { () throws(LogError) in try TokensReadModel.tokens(owner: owner, at: moment.when, in: db) }
        return (tokens, moment)
    }
}

/// `tokens.list`: every token (of an owner) with its scopes, fingerprint, creation, last
/// rotation, expiry and status.
public enum TokenList: ReadingMethod {
    public static let name = "tokens.list"
    public static let summary = "API tokens with their scopes, created, last rotated, expiry and status (active, revoked or expired)."
    public static let models = ["tokens"]

    public struct Params: QueryParams {
        public var owner: String?
        public var at: LogPosition?
        public static let parameters = [Parameter("owner", .string("Only this user's tokens (usr_…).")), InventoryMethods.at]
        public init(_ p: Parameters) throws(QueryError) {
            owner = try p.string("owner")
            at = try p.position("at")
        }
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> InventoryMethods.Tokens {
        let (tokens, moment) = try InventoryMethods.tokens(owner: params.owner, at: params.at, reading)
        return InventoryMethods.Tokens(tokens: tokens, position: moment.position)
    }
}

/// `tokens.stale`: active tokens not created or rotated within a number of days of the
/// moment asked.
public enum StaleTokens: ReadingMethod {
    public static let name = "tokens.stale"
    public static let summary = "Active tokens not created or rotated within olderThanDays (default 90) of the moment asked."
    public static let models = ["tokens"]

    public struct Params: QueryParams {
        public var olderThanDays: Int64
        public var at: LogPosition?
        public static let parameters = [
            Parameter("olderThanDays", .integer(0...36_500, "Days since the token was created or last rotated (default 90).")),
            InventoryMethods.at,
        ]
        public init(_ p: Parameters) throws(QueryError) {
            olderThanDays = try p.integer("olderThanDays", in: 0...36_500) ?? 90
            at = try p.position("at")
        }
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> InventoryMethods.Tokens {
        let (tokens, moment) = try InventoryMethods.tokens(owner: nil, at: params.at, reading)
        let now = moment.when.bounds.time
        // Before the first event the moment's time is the earliest there is.
        let (limit, overflow) = now.subtractingReportingOverflow(params.olderThanDays * 86_400_000)
        if overflow { return InventoryMethods.Tokens(tokens: [], position: moment.position) }
        return InventoryMethods.Tokens(tokens: tokens.filter { $0.status == .active && $0.renewedAt < limit }, position: moment.position)
    }
}

/// Databases as the answers show them.
public struct DatabasesAnswer: QueryAnswer {
    public let databases: [DatabasesReadModel.Database]
    /// For `backups.overdue`: how long past its schedule each database is (milliseconds).
    public let overdue: [String: Int64]?
    public let position: UInt64?
    public var members: [String: JSONValue] {
        let time = { (ms: Int64?) in ms.map { JSONValue.string(Timestamp.format($0)) } ?? .null }
        return [
            "databases": .array(
                databases.map { database in
                    var members: [String: JSONValue] = [
                        "database": .string(database.database), "project": .string(database.project), "org": .string(database.org),
                        "engine": .string(database.engine), "plan": .string(database.plan), "region": .string(database.region),
                        "status": .string(database.deprovisioned ? "deprovisioned" : "provisioned"),
                        "provisionedAt": time(database.provisionedAt), "deprovisionedAt": time(database.deprovisionedAt),
                        "everyHours": database.everyHours.map { .integer($0) } ?? .null,
                        "retentionDays": database.retentionDays.map { .integer($0) } ?? .null,
                        "lastStartedAt": time(database.lastStartedAt), "lastCompletedAt": time(database.lastCompletedAt),
                        "lastFailedAt": time(database.lastFailedAt),
                    ]
                    if let overdue { members["overdueMs"] = .integer(overdue[database.database] ?? 0) }
                    return .object(members)
                })
        ]
    }
    public static let schema = Schema.object([
        "databases": .array(
            .object(
                [
                    "database": .string(), "project": .string(), "org": .string(), "engine": .string(), "plan": .string(),
                    "region": .string(), "status": .oneOf(["provisioned", "deprovisioned"]), "provisionedAt": .time(),
                    "deprovisionedAt": .nullable(.time()), "everyHours": .nullable(.integer(nil, "The backup schedule in force.")),
                    "retentionDays": .nullable(.integer()), "lastStartedAt": .nullable(.time()),
                    "lastCompletedAt": .nullable(.time()), "lastFailedAt": .nullable(.time()),
                    "overdueMs": .integer(nil, "backups.overdue: how long past its schedule the database is."),
                ], optional: ["overdueMs"]), "By database id.")
    ])
}

/// `databases.list`: every database (of a project) with its engine, plan, region, schedule
/// and last backups.
public enum DatabaseList: ReadingMethod {
    public static let name = "databases.list"
    public static let summary =
        "Databases with engine, plan, region, project, backup schedule and last backup (started, completed, failed)."
    public static let models = ["databases"]

    public struct Params: QueryParams {
        public var project: String?
        public var at: LogPosition?
        public static let parameters = [Parameter("project", .string("Only this project's databases (prj_…).")), InventoryMethods.at]
        public init(_ p: Parameters) throws(QueryError) {
            project = try p.string("project").map(InventoryMethods.project)
            at = try p.position("at")
        }
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> DatabasesAnswer {
        let moment = try ModelMoment(params.at, of: "databases", reading)
        let db = try reading.database("databases")
        let databases = try engine { () throws(LogError) in
            try DatabasesReadModel.databases(project: params.project, at: moment.when, in: db)
        }
        return DatabasesAnswer(databases: databases, overdue: nil, position: moment.position)
    }
}

/// `backups.overdue`: scheduled databases whose last completed backup is older than their
/// schedule at the moment asked.
public enum OverdueBackups: ReadingMethod {
    public static let name = "backups.overdue"
    public static let summary =
        "Provisioned databases with a backup schedule whose last completed backup (or, never backed up, the schedule's start) is older than everyHours at the moment asked."
    public static let models = ["databases"]

    public struct Params: QueryParams {
        public var at: LogPosition?
        public static let parameters = [InventoryMethods.at]
        public init(_ p: Parameters) throws(QueryError) { at = try p.position("at") }
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> DatabasesAnswer {
        let moment = try ModelMoment(params.at, of: "databases", reading)
        let db = try reading.database("databases")
        let databases = try engine { () throws(LogError) in try DatabasesReadModel.databases(at: moment.when, in: db) }
        let now = moment.when.bounds.time
        var overdue: [String: Int64] = [:]
        let late = databases.filter { database in
            guard !database.deprovisioned, let every = database.everyHours,
                let since = database.lastCompletedAt ?? database.firstScheduledAt
            else { return false }
            // Times too far apart for 64 bits (before the first event, a schedule of more hours
            // than any calendar holds) are never overdue.
            let (age, early) = now.subtractingReportingOverflow(since)
            let (window, long) = every.multipliedReportingOverflow(by: 3_600_000)
            let (past, far) = age.subtractingReportingOverflow(window)
            guard !early, !long, !far else { return false }
            overdue[database.database] = past
            return past > 0
        }
        return DatabasesAnswer(databases: late, overdue: overdue, position: moment.position)
    }
}

/// `backups.list`: the backups of a database with status, size, checksum and restores.
public enum BackupList: ReadingMethod {
    public static let name = "backups.list"
    public static let summary = "A database's backups in the order they began: status, size, checksum and restores."
    public static let models = ["databases"]

    public struct Params: QueryParams {
        public var database: String
        public var at: LogPosition?
        public static let parameters = [
            Parameter("database", .string("The database (db_… or database/db_…)."), required: true), InventoryMethods.at,
        ]
        public init(_ p: Parameters) throws(QueryError) {
            let database: String = try p.required("database")
            self.database = database.hasPrefix("database/") ? String(database.dropFirst(9)) : database
            at = try p.position("at")
        }
    }

    public struct Answer: QueryAnswer {
        public let database: String
        public let backups: [DatabasesReadModel.Backup]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            let time = { (ms: Int64?) in ms.map { JSONValue.string(Timestamp.format($0)) } ?? .null }
            return [
                "database": .string(database),
                "backups": .array(
                    backups.map { backup in
                        .object([
                            "backup": .string(backup.backup), "status": .string(backup.status), "startedAt": time(backup.startedAt),
                            "completedAt": time(backup.completedAt), "failedAt": time(backup.failedAt),
                            "bytes": backup.bytes.map { .integer($0) } ?? .null, "sha256": backup.sha256.map { .string($0) } ?? .null,
                            "reason": backup.reason.map { .string($0) } ?? .null,
                            "restores": .array(
                                backup.restores.map { .object(["at": time($0.at), "seq": .integer($0.seq), "target": .string($0.target)]) }),
                        ])
                    }),
            ]
        }
        public static let schema = Schema.object([
            "database": .string(),
            "backups": .array(
                .object([
                    "backup": .string(), "status": .oneOf(["started", "completed", "failed"]), "startedAt": .nullable(.time()),
                    "completedAt": .nullable(.time()), "failedAt": .nullable(.time()), "bytes": .nullable(.integer()),
                    "sha256": .nullable(.string()), "reason": .nullable(.string()),
                    "restores": .array(.object(["at": .time(), "seq": .integer(), "target": .string()])),
                ]), "In the order they began."),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, of: "databases", reading)
        let db = try reading.database("databases")
        let backups = try engine { () throws(LogError) in try DatabasesReadModel.backups(of: params.database, at: moment.when, in: db) }
        return Answer(database: params.database, backups: backups, position: moment.position)
    }
}

/// `settings.env`: a project's environment variables with their fingerprints, never a value.
public enum EnvironmentVariables: ReadingMethod {
    public static let name = "settings.env"
    public static let summary =
        "A project's environment variables by key and target: secret or not, the value's fingerprint (never a value), who set it and when."
    public static let models = ["settings"]

    public struct Params: QueryParams {
        public var project: String
        public var target: String?
        public var at: LogPosition?
        public static let parameters = [
            Parameter("project", .string("The project (prj_… or project/prj_…)."), required: true),
            Parameter("target", .oneOf(["production", "preview", "development"], "Only this target's variables.")),
            InventoryMethods.at,
        ]
        public init(_ p: Parameters) throws(QueryError) {
            project = InventoryMethods.project(try p.required("project"))
            target = try p.string("target")
            if let target, !["production", "preview", "development"].contains(target) {
                throw .invalidParams(message: "target must be production, preview or development, not \(target)", path: "/params/target")
            }
            at = try p.position("at")
        }
    }

    public struct Answer: QueryAnswer {
        public let project: String
        public let variables: [SettingsReadModel.Variable]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "project": .string(project),
                "variables": .array(
                    variables.map {
                        .object([
                            "key": .string($0.key), "target": .string($0.target), "secret": .bool($0.secret),
                            "valueFingerprint": .string($0.valueFingerprint), "setBy": .string($0.setBy),
                            "setByKind": .string($0.setByKind),
                            "setAt": .string(Timestamp.format($0.setAt)), "setSeq": .integer($0.setSeq),
                        ])
                    }),
            ]
        }
        public static let schema = Schema.object([
            "project": .string(),
            "variables": .array(
                .object([
                    "key": .string(), "target": .oneOf(["production", "preview", "development"]), "secret": .boolean(),
                    "valueFingerprint": .string(), "setBy": .string("Who set it: the actor's id."), "setByKind": .string(),
                    "setAt": .time(), "setSeq": .integer(),
                ]), "By key, then target."),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, of: "settings", reading)
        let db = try reading.database("settings")
        let variables = try engine { () throws(LogError) in
            try SettingsReadModel.variables(of: params.project, target: params.target, at: moment.when, in: db)
        }
        return Answer(project: params.project, variables: variables, position: moment.position)
    }
}

/// `settings.domains`: domains (of a project) with their verification.
public enum Domains: ReadingMethod {
    public static let name = "settings.domains"
    public static let summary = "Domains of a project, or of every project, with their verification state and method."
    public static let models = ["settings"]

    public struct Params: QueryParams {
        public var project: String?
        public var at: LogPosition?
        public static let parameters = [Parameter("project", .string("Only this project's domains (prj_…).")), InventoryMethods.at]
        public init(_ p: Parameters) throws(QueryError) {
            project = try p.string("project").map(InventoryMethods.project)
            at = try p.position("at")
        }
    }

    public struct Answer: QueryAnswer {
        public let domains: [SettingsReadModel.Domain]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "domains": .array(
                    domains.map {
                        .object([
                            "domain": .string($0.domain), "project": .string($0.project),
                            "status": .string($0.verified ? "verified" : "unverified"), "method": $0.method.map { .string($0) } ?? .null,
                            "addedAt": .string(Timestamp.format($0.addedAt)),
                            "verifiedAt": $0.verifiedAt.map { .string(Timestamp.format($0)) } ?? .null,
                        ])
                    })
            ]
        }
        public static let schema = Schema.object([
            "domains": .array(
                .object([
                    "domain": .string(), "project": .string(), "status": .oneOf(["verified", "unverified"]),
                    "method": .nullable(.oneOf(["dns", "http"])), "addedAt": .time(), "verifiedAt": .nullable(.time()),
                ]), "By name.")
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, of: "settings", reading)
        let db = try reading.database("settings")
        let domains = try engine { () throws(LogError) in try SettingsReadModel.domains(project: params.project, at: moment.when, in: db) }
        return Answer(domains: domains, position: moment.position)
    }
}

/// `settings.builds`: the history of a project's build settings, who changed what and when.
public enum BuildSettingsHistory: ReadingMethod {
    public static let name = "settings.builds"
    public static let summary =
        "The history of a project's build settings: each change with its fields (from, to), who made it and when, oldest first."
    public static let models = ["settings"]

    public struct Params: QueryParams {
        public var project: String
        public var from: Int64?
        public var to: Int64?
        public var at: LogPosition?
        public static let parameters = [
            Parameter("project", .string("The project (prj_…)."), required: true),
            Parameter("from", .time("Only changes that occurred then or later.")),
            Parameter("to", .time("Only changes that occurred then or earlier.")), InventoryMethods.at,
        ]
        public init(_ p: Parameters) throws(QueryError) {
            project = InventoryMethods.project(try p.required("project"))
            (from, to) = try p.period()
            at = try p.position("at")
        }
    }

    public struct Answer: QueryAnswer {
        public let project: String
        public let changes: [SettingsReadModel.BuildSettingsChange]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "project": .string(project),
                "changes": .array(
                    changes.map {
                        .object([
                            "seq": .integer($0.seq), "changedAt": .string(Timestamp.format($0.changedAt)),
                            "changedBy": .string($0.changedBy), "changedByKind": .string($0.changedByKind),
                            "changes": .raw(Array($0.changes.utf8)),
                        ])
                    }),
            ]
        }
        public static let schema = Schema.object([
            "project": .string(),
            "changes": .array(
                .object([
                    "seq": .integer(), "changedAt": .time(), "changedBy": .string("Who changed them: the actor's id."),
                    "changedByKind": .string(), "changes": .anyObject("The changed fields, each {from, to}, as the event gave them."),
                ]), "Oldest first."),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, of: "settings", reading)
        let db = try reading.database("settings")
        let changes = try engine { () throws(LogError) in
            try SettingsReadModel.buildSettingsChanges(of: params.project, from: params.from, to: params.to, at: moment.when, in: db)
        }
        return Answer(project: params.project, changes: changes, position: moment.position)
    }
}
