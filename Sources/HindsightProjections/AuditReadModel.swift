public import HindsightLog

/// The audit read model: every event, findable by actor, org, type or type prefix, any
/// entity it refers to, and time, newest first (`audit.search`, `teams.activity`).
///
/// It keeps each event's stored line (personal data sealed) and reveals it when answering.
public final class AuditReadModel: ReadModel {
    public let name = "audit"
    public let version = 3
    public let types: Set<String>? = nil
    public let storedLineColumns: Set<String> = ["audit_line.line"]

    public init() {}

    /// The fields searched on apart from the lines, so that building the indexes sorts a
    /// narrow table; every table is appended to in seq order while the model is built, and
    /// indexed after.
    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE audit_event (seq INTEGER PRIMARY KEY, occurred_at INTEGER NOT NULL, org TEXT NOT NULL,
                                      actor TEXT NOT NULL, type TEXT NOT NULL);
            CREATE TABLE audit_line (seq INTEGER PRIMARY KEY, line TEXT NOT NULL);
            CREATE TABLE audit_resource (resource TEXT NOT NULL, seq INTEGER NOT NULL);
            """)
    }

    public func createIndexes(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE INDEX audit_by_org ON audit_event (org, seq);
            CREATE INDEX audit_by_actor ON audit_event (actor, seq);
            CREATE INDEX audit_by_type ON audit_event (type, seq);
            CREATE INDEX audit_by_time ON audit_event (occurred_at, seq);
            CREATE UNIQUE INDEX audit_by_resource ON audit_resource (resource, seq);
            """)
    }

    public func apply(_ event: ProjectedEvent, in db: SQLiteDatabase) throws(LogError) {
        let stored = event.stored
        let seq = Int64(stored.seq)
        try db.statement("INSERT INTO audit_event VALUES (?, ?, ?, ?, ?)")
            .bind(1, seq).bind(2, stored.occurredAtMs).bind(3, stored.org).bind(4, stored.actorID).bind(5, event.type).run()
        try db.statement("INSERT INTO audit_line VALUES (?, ?)").bind(1, seq).bind(2, text: stored.line).run()
        for reference in event.references {
            try db.statement("INSERT INTO audit_resource VALUES (?, ?)").bind(1, reference).bind(2, seq).run()
        }
    }

    /// What `audit.search` filters on; every filter is optional and they combine with AND.
    public struct Search: Sendable {
        public var actor: String?
        public var org: String?
        public var types: [String]?
        public var typePrefix: String?
        public var resource: String?
        /// `occurredAt` bounds in milliseconds, inclusive.
        public var from: Int64?
        public var to: Int64?
        /// Only events below this seq (the cursor of the previous page).
        public var before: UInt64?
        /// Only events up to this seq (`at`).
        public var upTo: UInt64?
        public var limit = 50

        public init() {}
    }

    /// Stored lines of the matching events, newest first, and whether more follow.
    public static func search(_ search: Search, in db: SQLiteDatabase) throws(LogError) -> (lines: [(seq: UInt64, line: [UInt8])], more: Bool) {
        // With a resource, rows come in the order of audit_resource's key (resource, seq).
        let order = search.resource == nil ? "e.seq" : "r.seq"
        var sql = search.resource == nil
            ? "SELECT e.seq FROM audit_event e WHERE 1"
            : "SELECT e.seq FROM audit_resource r JOIN audit_event e ON e.seq = r.seq WHERE r.resource = ?"
        var texts: [String] = search.resource.map { [$0] } ?? []
        var numbers: [Int64] = []
        if let org = search.org { sql += " AND e.org = ?"; texts.append(org) }
        if let actor = search.actor { sql += " AND e.actor = ?"; texts.append(actor) }
        if let types = search.types, !types.isEmpty {
            sql += " AND e.type IN (" + types.map { _ in "?" }.joined(separator: ",") + ")"
            texts += types
        }
        if let prefix = search.typePrefix { sql += " AND substr(e.type, 1, length(?)) = ?"; texts += [prefix, prefix] }
        // Numbers are bound after the texts: their placeholders come later in the statement.
        if search.from != nil || search.to != nil {
            // Events are stored about in time order, so the seqs of a time window are found on
            // the time index and the newest-first walk by seq starts and stops there; the time
            // filter itself still decides (an event may arrive after later ones).
            let bounds = try db.statement("SELECT min(seq), max(seq) FROM audit_event WHERE occurred_at >= ? AND occurred_at <= ?")
                .bind(1, search.from ?? Int64.min).bind(2, search.to ?? Int64.max)
            defer { bounds.finish() }
            guard try bounds.step(), let low = bounds.text(0).flatMap({ Int64($0) }), let high = bounds.text(1).flatMap({ Int64($0) }) else {
                return ([], false)
            }
            sql += " AND \(order) BETWEEN ? AND ? AND e.occurred_at >= ? AND e.occurred_at <= ?"
            numbers += [low, high, search.from ?? Int64.min, search.to ?? Int64.max]
        }
        if let before = search.before { sql += " AND \(order) < ?"; numbers.append(Int64(before)) }
        if let upTo = search.upTo { sql += " AND \(order) <= ?"; numbers.append(Int64(upTo)) }
        sql += " ORDER BY \(order) DESC LIMIT ?"
        numbers.append(Int64(search.limit + 1))
        let statement = try db.statement(sql)
        defer { statement.finish() }
        var index: Int32 = 1
        for text in texts { statement.bind(index, text); index += 1 }
        for number in numbers { statement.bind(index, number); index += 1 }
        var seqs: [Int64] = []
        while try statement.step() { seqs.append(statement.int(0)) }
        let more = seqs.count > search.limit
        // The lines of the page only, each found by its seq.
        let line = try db.statement("SELECT line FROM audit_line WHERE seq = ?")
        defer { line.finish() }
        var rows: [(UInt64, [UInt8])] = []
        for seq in seqs.prefix(search.limit) {
            line.reset()
            line.bind(1, seq)
            guard try line.step() else { throw LogError(.logCorrupt, "the audit read model has no line for seq \(seq); rebuild it") }
            rows.append((UInt64(seq), line.bytes(0)))
        }
        return (rows, more)
    }
}
