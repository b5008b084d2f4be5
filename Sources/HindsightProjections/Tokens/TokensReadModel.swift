public import HindsightCore

/// API tokens, as an auditor reviews them (`tokens.list`, `tokens.stale`): each token's
/// lifetime from its `token.created` (owner, org, scopes, fingerprint, expiry), its rotations
/// and its revocation, kept by seq and time so that any past moment can be asked about.
///
/// A token created again under an id already used (a platform's mistake, kept in the log)
/// starts a new lifetime that replaces the one before from that moment, as the access model
/// and a replay take it. A rotation or revocation of a token with no lifetime yet is kept in
/// the log and the audit trail, and changes nothing here.
public final class TokensReadModel: ReadModel {
    public let name = "tokens"
    public let version = 1
    public let types: Set<String>? = ["token.created", "token.rotated", "token.revoked"]

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE inventory_token (token TEXT NOT NULL, from_seq INTEGER NOT NULL, from_time INTEGER NOT NULL,
                                          to_seq INTEGER, to_time INTEGER, owner TEXT NOT NULL, org TEXT NOT NULL,
                                          scopes TEXT NOT NULL, fingerprint TEXT NOT NULL, expires_at INTEGER,
                                          revoked_seq INTEGER, revoked_time INTEGER, reason TEXT,
                                          PRIMARY KEY (token, from_seq)) WITHOUT ROWID;
            CREATE INDEX inventory_token_by_owner ON inventory_token (owner, token);
            CREATE TABLE inventory_token_rotation (token TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
                                                   fingerprint TEXT NOT NULL, PRIMARY KEY (token, seq)) WITHOUT ROWID;
            """)
    }

    public func apply(_ events: [ProjectedEvent], in db: SQLiteDatabase) throws(LogError) {
        for event in events {
            let stored = event.stored
            let data = StoredLine.DataFields(stored.line)
            guard let token = data["token"] else { continue }
            let seq = Int64(stored.seq)
            let time = stored.occurredAtMs
            switch stored.type {
            case "token.created":
                try db.statement("UPDATE inventory_token SET to_seq = ?, to_time = ? WHERE token = ? AND to_seq IS NULL")
                    .bind(1, seq).bind(2, time).bind(3, token).run()
                try db.statement("INSERT INTO inventory_token VALUES (?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, NULL, NULL, NULL)")
                    .bind(1, token).bind(2, seq).bind(3, time).bind(4, data["owner"] ?? "").bind(5, stored.org)
                    .bind(6, data.text("scopes").map { String(decoding: $0, as: UTF8.self) } ?? "[]").bind(7, data["fingerprint"] ?? "")
                    .bind(8, data["expiresAt"].flatMap { Timestamp.parse($0) }).run()
            case "token.rotated":
                guard try Self.isOpen(token, in: db) else { continue }
                try db.statement("INSERT OR REPLACE INTO inventory_token_rotation VALUES (?, ?, ?, ?)")
                    .bind(1, token).bind(2, seq).bind(3, time).bind(4, data["fingerprint"] ?? "").run()
            case "token.revoked":
                try db.statement(
                    "UPDATE inventory_token SET revoked_seq = ?, revoked_time = ?, reason = ? WHERE token = ? AND to_seq IS NULL AND revoked_seq IS NULL"
                ).bind(1, seq).bind(2, time).bind(3, data["reason"]).bind(4, token).run()
            default:
                continue
            }
        }
    }

    private static func isOpen(_ token: String, in db: SQLiteDatabase) throws(LogError) -> Bool {
        let row = try db.statement("SELECT 1 FROM inventory_token WHERE token = ? AND to_seq IS NULL").bind(1, token)
        defer { row.finish() }
        return try row.step()
    }

    // MARK: - Questions

    /// What a token's status is at a moment.
    public enum Status: String, Sendable {
        case active, revoked, expired
    }

    /// A token as it stands at a moment.
    public struct Token: Sendable {
        public let token: String
        public let owner: String
        public let org: String
        /// The scopes as JSON (an array of strings), as `token.created` gave them.
        public let scopes: String
        /// The fingerprint in use: the last rotation's, else the creation's.
        public let fingerprint: String
        public let createdAt: Int64
        public let createdSeq: Int64
        /// The last rotation by the moment, if any.
        public var lastRotatedAt: Int64? { rotations.last?.time }
        /// This lifetime's rotations by the moment, in log order.
        public let rotations: [Rotation]
        public let expiresAt: Int64?
        public let status: Status
        /// When it was revoked and why, if it was by the moment.
        public let revokedAt: Int64?
        public let reason: String?

        /// When it was last given a new secret: created or rotated, whichever occurred later.
        public var renewedAt: Int64 { max(createdAt, lastRotatedAt ?? createdAt) }
    }

    /// The tokens (of `owner`, if given) whose lifetime holds the moment, ordered by id.
    public static func tokens(owner: String? = nil, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [Token] {
        let bounds = when.bounds
        let (bySeq, moment, now) = (bounds.bySeq, bounds.value, bounds.time)
        let (from, to, revoked) = bySeq ? ("from_seq", "to_seq", "revoked_seq") : ("from_time", "to_time", "revoked_time")
        // The rotations by the moment, of the tokens asked about, read in one pass: a
        // subquery per token cost more than the list itself.
        let rotations = Dictionary(grouping: try Self.rotations(owner: owner, at: when, in: db), by: \.token)
        let rows = try db.statement(
            """
            SELECT token, owner, org, scopes, fingerprint, from_time, from_seq, expires_at, to_seq,
                   CASE WHEN \(revoked) <= ?1 THEN revoked_time END, CASE WHEN \(revoked) <= ?1 THEN reason END
            FROM inventory_token
            WHERE \(from) <= ?1 AND (\(to) IS NULL OR \(to) > ?1) AND \(owner == nil ? "?2 IS NULL" : "owner = ?2")
            ORDER BY token
            """
        ).bind(1, moment).bind(2, owner)
        defer { rows.finish() }
        var tokens: [Token] = []
        while try rows.step() {
            let token = rows.text(0) ?? ""
            let (created, ended) = (rows.int(6), rows.isNull(8) ? Int64.max : rows.int(8))
            // This lifetime's rotations by the moment, in log order (as a replay of the events
            // by then applies them).
            let own = rotations[token]?.filter { created < $0.seq && $0.seq < ended } ?? []
            let revokedAt = rows.isNull(9) ? nil : rows.int(9)
            let expiresAt = rows.isNull(7) ? nil : rows.int(7)
            let status: Status = revokedAt != nil ? .revoked : expiresAt.map { now >= $0 } == true ? .expired : .active
            tokens.append(
                Token(
                    token: token, owner: rows.text(1) ?? "", org: rows.text(2) ?? "", scopes: rows.text(3) ?? "[]",
                    fingerprint: own.last?.fingerprint ?? rows.text(4) ?? "", createdAt: rows.int(5), createdSeq: created,
                    rotations: own, expiresAt: expiresAt, status: status, revokedAt: revokedAt, reason: rows.text(10)))
        }
        return tokens
    }

    /// A token's new secret.
    public struct Rotation: Sendable {
        public let token: String
        public let seq: Int64
        public let time: Int64
        public let fingerprint: String
    }

    /// The rotations (of `owner`'s tokens, if given) by the moment, by token and seq.
    private static func rotations(owner: String? = nil, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [Rotation] {
        let bounds = when.bounds
        let rows = try db.statement(
            """
            SELECT token, seq, time, fingerprint FROM inventory_token_rotation
            WHERE \(bounds.at) <= ?1 AND \(owner == nil ? "?2 IS NULL" : "token IN (SELECT token FROM inventory_token WHERE owner = ?2)")
            ORDER BY token, seq
            """
        ).bind(1, bounds.value).bind(2, owner)
        defer { rows.finish() }
        var rotations: [Rotation] = []
        while try rows.step() {
            rotations.append(Rotation(token: rows.text(0) ?? "", seq: rows.int(1), time: rows.int(2), fingerprint: rows.text(3) ?? ""))
        }
        return rotations
    }
}
