public import HindsightAccess
public import HindsightCore
import HindsightEvidence
import HindsightLog
public import HindsightProjections

/// The access read model's methods (QUERIES.md): `rbac.check`, `rbac.whoCan`, `rbac.whatCan`
/// and `rbac.changes` (`export.accessReview` is with the exports).
enum AccessMethods {
    static let all = [
        MethodDescription(reading: Check.self), MethodDescription(reading: WhoCan.self), MethodDescription(reading: WhatCan.self),
        MethodDescription(reading: Changes.self),
    ]

    static let at = Parameter("at", .position("As of then: after that seq, or every event that occurred by that time (default now)."))
    static let permission = Parameter("permission", .string("KIND:ACTION, such as project:deploy."), required: true)
    static let resource = Parameter("resource", .string("KIND/ID, such as project/prj_9."), required: true)
    static let subject = Parameter("subject", .string("A user (usr_…) or a token (tok_…)."), required: true)

    static func permission(_ p: Parameters) throws(QueryError) -> Permission {
        guard let permission = Permission(try p.required("permission")) else {
            throw .params("permission must be KIND:ACTION, such as project:deploy", at: "/permission")
        }
        return permission
    }

    static let grant = Schema.object(["grant": .string(), "role": .string(), "scope": .string("KIND/ID")])

    static func described(_ reason: AccessReadModel.Reason) -> JSONValue {
        ["grant": .string(reason.grant), "role": .string(reason.role), "scope": .string(reason.scope)]
    }
}

/// The moment a question to a model that keeps its history (access, tokens) is about,
/// resolved against the caught-up model: the model's `AsOf`, and the position the answer
/// reflects.
struct ModelMoment {
    let when: AsOf
    let position: UInt64

    init(_ at: LogPosition?, of model: String = "access", _ reading: Reading) throws(QueryError) {
        let reached = try reading.position(of: model)
        let reader = try reading.reader()
        switch at {
        case .seq(let seq)?:
            let upTo = min(seq, reached)
            when = .seq(upTo, occurredAt: try engine { () throws(LogError) in try reader.occurredAt(upTo) })
            position = upTo
        case .time(let ms)?:
            when = .time(ms)
            position = reached
        case nil:
            when = .now
            position = reached
        }
    }
}

/// `rbac.check`: whether a user or token may do something to something, and why.
public enum Check: ReadingMethod {
    public static let name = "rbac.check"
    public static let summary = "Whether a user or token may do something to something, at a moment, and through which grants."
    public static let models = ["access"]

    public struct Params: QueryParams {
        public var subject: String
        public var permission: Permission
        public var resource: String
        public var at: LogPosition?

        public init(subject: String, permission: Permission, resource: String, at: LogPosition? = nil) {
            self.subject = subject
            self.permission = permission
            self.resource = resource
            self.at = at
        }

        public static let parameters = [AccessMethods.subject, AccessMethods.permission, AccessMethods.resource, AccessMethods.at]

        public init(_ p: Parameters) throws(QueryError) {
            self.init(
                subject: try p.subject("subject")!, permission: try AccessMethods.permission(p), resource: try p.reference("resource")!,
                at: try p.position("at"))
        }
    }

    public struct Answer: QueryAnswer {
        /// The grants (or team roles) that allow it; empty when denied.
        public let grants: [AccessReadModel.Reason]
        /// When denied: the grants and team roles that would have allowed it, and why they did
        /// not (`AccessReadModel.explainDenial`).
        public let wouldHave: [AccessReadModel.Miss]
        public let position: UInt64?
        public var allowed: Bool { !grants.isEmpty }

        public var members: [String: JSONValue] {
            var out: [String: JSONValue] = ["allowed": .bool(allowed), "grants": .array(grants.map(AccessMethods.described))]
            if !allowed {
                out["wouldHave"] = .array(
                    wouldHave.map { miss in
                        [
                            "grant": .string(miss.grant), "role": .string(miss.role), "scope": .string(miss.scope),
                            "why": .string(miss.why),
                            "since": miss.since.map { .string(Timestamp.format($0)) } ?? .null,
                            "entity": miss.entity.map { .string($0) } ?? .null,
                        ]
                    })
            }
            return out
        }
        public static let schema = Schema.object(
            [
                "allowed": .boolean(),
                "grants": .array(AccessMethods.grant, "The grants that allow it (a team role shows as member:TEAM)."),
                "wouldHave": .array(
                    .object([
                        "grant": .string(), "role": .string(), "scope": .string(),
                        "why": .oneOf([
                            "expired", "revoked", "role deleted", "resource deleted", "membership ended", "outside the token's scopes",
                            "the token is revoked or expired",
                        ]),
                        "since": .nullable(.time("When it stopped applying.")),
                        "entity": .nullable(
                            .string("The deleted entity (resource deleted) or the team left (membership ended).")),
                    ]), "When denied: the grants that would have allowed it."),
            ], optional: ["wouldHave"])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, reading)
        let db = try reading.database("access")
        return try engine { () throws(LogError) in
            let reasons = try AccessReadModel.check(params.subject, params.permission, params.resource, at: moment.when, in: db)
            let misses =
                reasons.isEmpty
                ? try AccessReadModel.explainDenial(params.subject, params.permission, params.resource, at: moment.when, in: db) : []
            return Answer(
                grants: reasons.sorted { $0.grant < $1.grant }, wouldHave: misses.sorted { ($0.grant, $0.why) < ($1.grant, $1.why) },
                position: moment.position)
        }
    }
}

/// `rbac.whoCan`: every user and token that may do something to something.
public enum WhoCan: ReadingMethod {
    public static let name = "rbac.whoCan"
    public static let summary = "Every user and token that may do something to something, at a moment, and through which grants."
    public static let models = ["access"]

    public struct Params: QueryParams {
        public var permission: Permission
        public var resource: String
        public var at: LogPosition?

        public init(permission: Permission, resource: String, at: LogPosition? = nil) {
            self.permission = permission
            self.resource = resource
            self.at = at
        }

        public static let parameters = [AccessMethods.permission, AccessMethods.resource, AccessMethods.at]

        public init(_ p: Parameters) throws(QueryError) {
            self.init(permission: try AccessMethods.permission(p), resource: try p.reference("resource")!, at: try p.position("at"))
        }
    }

    public struct Answer: QueryAnswer {
        /// One per subject and grant (or team role) that allows it, by subject then grant.
        public let subjects: [(subject: String, reason: AccessReadModel.Reason)]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "subjects": .array(
                    subjects.map { entry in
                        [
                            "subject": .string(entry.subject), "grant": .string(entry.reason.grant), "role": .string(entry.reason.role),
                            "scope": .string(entry.reason.scope),
                        ]
                    })
            ]
        }
        public static let schema = Schema.object([
            "subjects": .array(.object(["subject": .string(), "grant": .string(), "role": .string(), "scope": .string()]))
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, reading)
        let db = try reading.database("access")
        let holders = try engine { () throws(LogError) in
            try AccessReadModel.whoCan(params.permission, params.resource, at: moment.when, in: db)
        }
        let subjects = holders.keys.sorted().flatMap { subject in holders[subject]!.sorted { $0.grant < $1.grant }.map { (subject, $0) } }
        return Answer(subjects: subjects, position: moment.position)
    }
}

/// `rbac.whatCan`: everything a user or token may do, grant by grant.
public enum WhatCan: ReadingMethod {
    public static let name = "rbac.whatCan"
    public static let summary = "Everything a user or token may do, grant by grant, at a moment."
    public static let models = ["access"]

    public struct Params: QueryParams {
        public var subject: String
        public var at: LogPosition?

        public init(subject: String, at: LogPosition? = nil) {
            self.subject = subject
            self.at = at
        }

        public static let parameters = [AccessMethods.subject, AccessMethods.at]

        public init(_ p: Parameters) throws(QueryError) {
            self.init(subject: try p.subject("subject")!, at: try p.position("at"))
        }
    }

    public struct Answer: QueryAnswer {
        /// The grants in force (a token's narrowed to its scopes).
        public let grants: [AccessReadModel.Holding]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "grants": .array(
                    grants.map { holding in
                        [
                            "grant": .string(holding.grant), "role": .string(holding.role), "scope": .string(holding.scope),
                            "permissions": .array(holding.permissions.map { .string($0.description) }),
                            "expiresAt": holding.expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
                        ]
                    })
            ]
        }
        public static let schema = Schema.object([
            "grants": .array(
                .object([
                    "grant": .string(), "role": .string(), "scope": .string(), "permissions": .array(.string("KIND:ACTION")),
                    "expiresAt": .nullable(.time()),
                ]))
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let moment = try ModelMoment(params.at, reading)
        let db = try reading.database("access")
        return Answer(
            grants: try engine { () throws(LogError) in try AccessReadModel.whatCan(params.subject, at: moment.when, in: db) },
            position: moment.position)
    }
}

/// `rbac.changes`: every gain and loss of access in a period.
public enum Changes: ReadingMethod {
    public static let name = "rbac.changes"
    public static let summary = "Every gain and loss of access in a period, expiries included, with the event that caused it."
    public static let models = ["access"]

    public struct Params: QueryParams {
        public var from: Int64
        public var to: Int64
        public var scope: String?
        public var at: LogPosition?
        public static let parameters = [
            Parameter("from", .time("The period's start."), required: true), Parameter("to", .time("The period's end."), required: true),
            Parameter("scope", .string("KIND/ID: grants and memberships on it or beneath it, as the tree stands now.")),
            Parameter(
                "at", .position("As known then: the changes caused by events up to that seq (expiries up to its time), or by that time.")),
        ]
        public init(_ p: Parameters) throws(QueryError) {
            let (from, to) = try p.period()
            self.from = from!
            self.to = to!
            scope = try p.string("scope")
            at = try p.position("at")
        }
    }

    public struct Answer: QueryAnswer {
        public let changes: [AccessReadModel.Change]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "changes": .array(
                    changes.map { change in
                        var entry: [String: JSONValue] = [
                            "change": .string(change.change), "what": .string(change.subject), "at": .string(Timestamp.format(change.at)),
                            "seq": change.seq.map { .integer(Int64($0)) } ?? .null,
                        ]
                        for (key, value) in change.detail { entry[key] = .string(value) }
                        return .object(entry)
                    })
            ]
        }
        public static let schema = Schema.object([
            "changes": .array(
                .object(
                    [
                        "change": .string("granted, revoked, expired, joined, role changed, left, defined, redefined, deleted, created"),
                        "what": .string(), "at": .time(), "seq": .nullable(.integer(nil, "null for an expiry")),
                        "by": .string("Who made the change (the event's actor id); absent for an expiry."),
                        "byKind": .string("user, token or system."), "reason": .string("The reason a revocation gave."),
                    ], optional: ["by", "byKind", "reason"],
                    "In time order, with the change's details (subject, role, scope …) as further members."))
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let db = try reading.database("access")
        let moment = try ModelMoment(params.at, reading)
        // As known at a moment: the changes caused by its events (up to its seq, or that
        // occurred by its time), and the expiries up to its time.
        let (lastSeq, lastTime): (UInt64, Int64) =
            switch moment.when {
            case .seq(let seq, let occurredAt): (seq, occurredAt)
            case .time(let ms): (moment.position, ms)
            case .now: (moment.position, .max)
            }
        let byTime = params.at.map { if case .time = $0 { true } else { false } } ?? false
        let changes = try engine { () throws(LogError) in
            try AccessReadModel.changes(from: params.from, to: params.to, scope: params.scope, in: db)
        }
        return Answer(
            changes: changes.filter { change in
                guard let seq = change.seq else { return change.at <= lastTime }
                return seq <= lastSeq && (!byTime || change.at <= lastTime)
            }, position: moment.position)
    }
}
