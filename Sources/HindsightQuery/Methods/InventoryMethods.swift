public import HindsightCore
public import HindsightProjections

/// The platform's inventories (QUERIES.md): `tokens.list` and `tokens.stale`.
public enum InventoryMethods {
    static let all = [MethodDescription(reading: TokenList.self), MethodDescription(reading: StaleTokens.self)]

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
        let now: Int64 =
            switch moment.when {
            case .seq(_, let occurredAt): occurredAt
            case .time(let ms): ms
            case .now: Timestamp.now()
            }
        let limit = now - params.olderThanDays * 86_400_000
        return InventoryMethods.Tokens(tokens: tokens.filter { $0.status == .active && $0.renewedAt < limit }, position: moment.position)
    }
}
