public import HindsightLog

/// The audit read model: every event, findable by actor, org, type or type prefix, any
/// entity it refers to, and time, newest first (`audit.search`, `teams.activity`).
///
/// It keeps each event's stored line (personal data sealed) and reveals it when answering.
public final class AuditReadModel: ReadModel {
    public let name = "audit"
    public let version = 4
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
            CREATE TABLE audit_hour (hour INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL);
            """)
    }

    public func createIndexes(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE INDEX audit_by_org ON audit_event (org, seq);
            CREATE INDEX audit_by_actor ON audit_event (actor, seq);
            CREATE INDEX audit_by_type ON audit_event (type, seq);
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
        try db.statement(
            """
            INSERT INTO audit_hour VALUES (?, ?, ?)
            ON CONFLICT (hour) DO UPDATE SET first_seq = min(first_seq, excluded.first_seq), last_seq = max(last_seq, excluded.last_seq)
            """
        ).bind(1, Self.hour(stored.occurredAtMs)).bind(2, seq).bind(3, seq).run()
    }

    /// The hour an `occurredAt` falls in. `audit_hour` keeps, for each hour, the first and
    /// last seq of the events that occurred in it: the seqs a time window can hold, found
    /// without walking the window's events (which may arrive out of time order).
    static func hour(_ ms: Int64) -> Int64 {
        ms >= 0 ? ms / 3_600_000 : (ms + 1) / 3_600_000 - 1
    }

    /// What `audit.search` filters on; every filter is optional and they combine with AND.
    /// A type prefix is given as the `types` it stands for (`narrow(toTypesWithPrefix:among:)`).
    public struct Search: Sendable {
        public var actor: String?
        public var org: String?
        public var types: [String]?
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

        /// Keeps only the types that start with `prefix`, of `types` if given, else of
        /// `known` (the catalogue's).
        public mutating func narrow(toTypesWithPrefix prefix: String, among known: [String]) {
            types = (types ?? known).filter { $0.hasPrefix(prefix) }
        }
    }

    /// A value bound to a placeholder.
    enum Parameter {
        case text(String)
        case number(Int64)
    }

    /// Stored lines of the matching events, newest first, and whether more follow.
    public static func search(_ search: Search, in db: SQLiteDatabase) throws(LogError) -> (lines: [(seq: UInt64, line: [UInt8])], more: Bool) {
        guard let query = try pageQuery(search, in: db) else { return ([], false) }
        // The lines of the page only, each found by its seq.
        let statement = try db.statement(
            "SELECT page.seq, l.line FROM (\(query.sql)) page JOIN audit_line l ON l.seq = page.seq ORDER BY page.seq DESC")
        defer { statement.finish() }
        bind(query.parameters, to: statement)
        var rows: [(UInt64, [UInt8])] = []
        while try statement.step() { rows.append((UInt64(statement.int(0)), statement.bytes(1))) }
        let more = rows.count > search.limit
        return (Array(rows.prefix(search.limit)), more)
    }

    /// How SQLite answers a search, one line per step (`EXPLAIN QUERY PLAN`), to check that
    /// every filter walks an index in seq order and stops after a page.
    public static func plan(_ search: Search, in db: SQLiteDatabase) throws(LogError) -> [String] {
        guard let query = try pageQuery(search, in: db) else { return [] }
        let statement = try db.statement("EXPLAIN QUERY PLAN " + query.sql)
        defer { statement.finish() }
        bind(query.parameters, to: statement)
        var steps: [String] = []
        while try statement.step() { steps.append(statement.text(3) ?? "") }
        return steps
    }

    private static func bind(_ parameters: [Parameter], to statement: SQLiteDatabase.Statement) {
        for (index, parameter) in parameters.enumerated() {
            switch parameter {
            case .text(let text): statement.bind(Int32(index + 1), text)
            case .number(let number): statement.bind(Int32(index + 1), number)
            }
        }
    }

    /// The query for the seqs of one page (one more than `limit`, to tell whether more
    /// follow), newest first; nil when nothing can match. Each filter is answered by walking
    /// an index of (value, seq) downwards from the newest seq and stopping after the page, so
    /// a page costs the same on ten million events as on a thousand. Several types are
    /// several such walks, merged.
    static func pageQuery(_ search: Search, in db: SQLiteDatabase) throws(LogError) -> (sql: String, parameters: [Parameter])? {
        if let types = search.types, types.isEmpty { return nil }
        // The seqs a time window can hold come from the hours it spans, and the walk by seq
        // starts and stops there; the time filter itself still decides.
        var window: (low: Int64, high: Int64)?
        if search.from != nil || search.to != nil {
            let bounds = try db.statement("SELECT min(first_seq), max(last_seq) FROM audit_hour WHERE hour BETWEEN ? AND ?")
                .bind(1, search.from.map(hour) ?? Int64.min).bind(2, search.to.map(hour) ?? Int64.max)
            defer { bounds.finish() }
            guard try bounds.step(), let low = bounds.text(0).flatMap({ Int64($0) }), let high = bounds.text(1).flatMap({ Int64($0) }) else {
                return nil
            }
            window = (low, high)
        }
        // With a resource, rows come in the order of its index (resource, seq).
        let order = search.resource == nil ? "e.seq" : "r.seq"
        func walk(type: String?) -> (String, [Parameter]) {
            var sql = search.resource == nil
                ? "SELECT e.seq AS seq FROM audit_event e WHERE 1"
                : "SELECT r.seq AS seq FROM audit_resource r JOIN audit_event e ON e.seq = r.seq WHERE r.resource = ?"
            var parameters: [Parameter] = search.resource.map { [.text($0)] } ?? []
            if let org = search.org { sql += " AND e.org = ?"; parameters.append(.text(org)) }
            if let actor = search.actor { sql += " AND e.actor = ?"; parameters.append(.text(actor)) }
            if let type { sql += " AND e.type = ?"; parameters.append(.text(type)) }
            if let window {
                sql += " AND \(order) BETWEEN ? AND ? AND e.occurred_at >= ? AND e.occurred_at <= ?"
                parameters += [.number(window.low), .number(window.high), .number(search.from ?? Int64.min), .number(search.to ?? Int64.max)]
            }
            if let before = search.before { sql += " AND \(order) < ?"; parameters.append(.number(Int64(before))) }
            if let upTo = search.upTo { sql += " AND \(order) <= ?"; parameters.append(.number(Int64(upTo))) }
            sql += " ORDER BY \(order) DESC LIMIT ?"
            parameters.append(.number(Int64(search.limit + 1)))
            return (sql, parameters)
        }
        guard let types = search.types, types.count > 1 else { return walk(type: search.types?.first) }
        var sql: [String] = [], parameters: [Parameter] = []
        for type in Set(types).sorted() {
            let (member, values) = walk(type: type)
            sql.append("SELECT seq FROM (\(member))")
            parameters += values
        }
        parameters.append(.number(Int64(search.limit + 1)))
        return (sql.joined(separator: " UNION ALL ") + " ORDER BY seq DESC LIMIT ?", parameters)
    }
}
