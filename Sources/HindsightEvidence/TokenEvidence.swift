public import HindsightCore
public import HindsightProjections

/// Evidence of the platform's API tokens at a moment (`export.tokens`), as a bundle
/// (`ReviewBundle`): every token with its status, its rotations, and whether it is stale (active
/// and not created or rotated within a number of days), as `tokens.list` and `tokens.stale`
/// answer then.
public enum TokenEvidence {
    public static let format = "hindsight-token-evidence/1"

    /// `tokens` and `rotations`, from the tokens read model `db`, at the moment.
    public static func files(at when: AsOf, olderThanDays: Int64, format: ExportFormat, in db: SQLiteDatabase) throws(LogError)
        -> [ReviewBundle.File]
    {
        let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "" }
        let bounds = when.bounds
        let tokens = try TokensReadModel.tokens(at: when, in: db)
        // As tokens.stale: renewed before the moment less the days (none before time began).
        let (limit, overflow) = bounds.time.subtractingReportingOverflow(olderThanDays * 86_400_000)
        let stale = { (token: TokensReadModel.Token) in !overflow && token.status == .active && token.renewedAt < limit }
        let listed = Table(
            columns: [
                "token", "owner", "org", "scopes", "status", "stale", "createdAt", "lastRotatedAt", "rotations", "expiresAt", "revokedAt",
                "reason", "fingerprint",
            ],
            rows: tokens.map { token in
                [
                    token.token, token.owner, token.org, token.scopes, token.status.rawValue, stale(token) ? "true" : "false",
                    time(token.createdAt), time(token.lastRotatedAt), String(token.rotations.count), time(token.expiresAt),
                    time(token.revokedAt),
                    token.reason ?? "", token.fingerprint,
                ]
            })
        // Each listed lifetime's rotations by then, as tokens.list reads them.
        let rotations = tokens.flatMap(\.rotations)
        let rotated = Table(
            columns: ["token", "seq", "rotatedAt", "fingerprint"],
            rows: rotations.map { [$0.token, String($0.seq), time($0.time), $0.fingerprint] })
        return [
            ReviewBundle.File(name: "tokens." + format.rawValue, bytes: listed.encoded(as: format), rows: tokens.count),
            ReviewBundle.File(name: "rotations." + format.rawValue, bytes: rotated.encoded(as: format), rows: rotations.count),
        ]
    }
}
