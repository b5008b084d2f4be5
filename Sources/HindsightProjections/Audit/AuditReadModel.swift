public import HindsightCore

/// The audit read model: every event, findable by actor, org, type or type prefix, any
/// entity it refers to, and time, newest first (`audit.search`, `teams.activity`).
///
/// It keeps each event's fields and where its stored line starts in the log's content
/// (`StoredEvent.contentOffset`): a page of results reads its lines from the log
/// (`LogReader.lines(at:)`), so the model holds no second copy of the log. For every actor,
/// org, type and referred entity it keeps the seqs of its events, in blocks
/// (`audit_posting`, the seqs as gaps in LEB128): appending an event adds its seq to the last block of each of its keys,
/// so building the model from the log writes each block once instead of building an index
/// row by row, and a search walks one key's blocks from the newest seq down.
public final class AuditReadModel: ReadModel {
    public let name = "audit"
    public let version = 6
    public let types: Set<String>? = nil

    /// Seqs per posting block.
    static let blockSize = 512

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE audit_event (seq INTEGER PRIMARY KEY, occurred_at INTEGER NOT NULL, org TEXT NOT NULL,
                                      actor TEXT NOT NULL, type TEXT NOT NULL, line_at INTEGER NOT NULL);
            CREATE TABLE audit_posting (key TEXT NOT NULL, first_seq INTEGER NOT NULL, count INTEGER NOT NULL, seqs BLOB NOT NULL,
                                        PRIMARY KEY (key, first_seq)) WITHOUT ROWID;
            CREATE TABLE audit_hour (hour INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL);
            """)
    }

    /// A posting list's key: what it names and the name, stored as `a:ID` (an actor), `o:ID`
    /// (an org), `t:TYPE` or `r:KIND/ID` (an entity the event refers to).
    struct Key: Hashable, Sendable {
        let kind: Character
        let name: String

        static func actor(_ id: String) -> Key { Key(kind: "a", name: id) }
        static func org(_ id: String) -> Key { Key(kind: "o", name: id) }
        static func type(_ type: String) -> Key { Key(kind: "t", name: type) }
        static func resource(_ reference: String) -> Key { Key(kind: "r", name: reference) }

        var stored: String { "\(kind):\(name)" }
    }

    /// A batch of events with the seqs to add to each key (ordered by key, so that the
    /// writes walk the posting table in its order) and the seqs of each hour, worked out
    /// before the batch is applied.
    public struct Batch: Sendable {
        let events: [ProjectedEvent]
        let postings: [(key: String, seqs: [Int64])]
        let hours: [Int64: (first: Int64, last: Int64)]
    }

    public func prepare(_ events: [ProjectedEvent]) -> Batch {
        // Seqs by name, a table per kind of key: the names are the events' own strings, so
        // only the batch's keys (not every event's) are spelled out as stored.
        var actors: [String: [Int64]] = [:]
        var orgs: [String: [Int64]] = [:]
        var types: [String: [Int64]] = [:]
        var resources: [String: [Int64]] = [:]
        var hours: [Int64: (first: Int64, last: Int64)] = [:]
        for event in events {
            let stored = event.stored
            let seq = Int64(stored.seq)
            actors[stored.actorID, default: []].append(seq)
            orgs[stored.org, default: []].append(seq)
            types[stored.type, default: []].append(seq)
            for reference in event.references { resources[reference, default: []].append(seq) }
            let hour = Self.hour(stored.occurredAtMs)
            let span = hours[hour]
            hours[hour] = (min(span?.first ?? seq, seq), max(span?.last ?? seq, seq))
        }
        // In the order of the stored keys: by kind (a, o, r, t), then by name.
        let ordered = [(Key.actor, actors), (Key.org, orgs), (Key.resource, resources), (Key.type, types)].flatMap { key, lists in
            lists.sorted { $0.key < $1.key }.map { (key: key($0.key).stored, seqs: $0.value) }
        }
        return Batch(events: events, postings: ordered, hours: hours)
    }

    public func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError) {
        let insert = try db.statement("INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?)")
        for event in batch.events {
            let stored = event.stored
            guard let offset = stored.contentOffset else {
                throw LogError(.io, "event \(stored.seq) reached the audit read model without its place in the log")
            }
            try insert.reset().bind(1, Int64(stored.seq)).bind(2, stored.occurredAtMs).bind(3, stored.org).bind(4, stored.actorID)
                .bind(5, stored.type).bind(6, Int64(offset)).run()
        }
        let postings = PostingWriter(
            lastBlock: try db.statement(SQL.lastBlock),
            update: try db.statement("UPDATE audit_posting SET count = ?, seqs = ? WHERE key = ? AND first_seq = ?"),
            insert: try db.statement("INSERT INTO audit_posting VALUES (?, ?, ?, ?)"))
        for (key, seqs) in batch.postings { try postings.append(seqs, to: key) }
        for (hour, span) in batch.hours {
            try db.statement(
                """
                INSERT INTO audit_hour VALUES (?, ?, ?)
                ON CONFLICT (hour) DO UPDATE SET first_seq = min(first_seq, excluded.first_seq), last_seq = max(last_seq, excluded.last_seq)
                """
            ).bind(1, hour).bind(2, span.first).bind(3, span.last).run()
        }
    }

    /// Adds seqs to posting lists, with the three statements it needs prepared once a batch.
    private struct PostingWriter {
        let lastBlock: SQLiteDatabase.Statement
        let update: SQLiteDatabase.Statement
        let insert: SQLiteDatabase.Statement

        /// Adds seqs (ascending, above every seq the key has) to the key's blocks: the last
        /// block is filled up to `blockSize`, then new ones follow. However the events are cut
        /// into batches, a key's blocks end up the same.
        func append(_ seqs: [Int64], to key: String) throws(LogError) {
            var rest = seqs[...]
            let last = lastBlock.reset().bind(1, key)
            if try last.step(), last.int(1) < Int64(AuditReadModel.blockSize) {
                let first = last.int(0)
                let added = rest.prefix(AuditReadModel.blockSize - Int(last.int(1)))
                let count = last.int(1) + Int64(added.count)
                var seqs = last.blob(2)
                PostingBlock.append(added, to: &seqs, after: PostingBlock.seqs(in: seqs, first: first).last ?? first)
                last.finish()
                try update.reset().bind(1, count).bind(2, blob: seqs).bind(3, key).bind(4, first).run()
                rest = rest.dropFirst(added.count)
            } else {
                last.finish()
            }
            while let first = rest.first {
                let block = rest.prefix(AuditReadModel.blockSize)
                var seqs: [UInt8] = []
                PostingBlock.append(block, to: &seqs, after: first)
                try insert.reset().bind(1, key).bind(2, first).bind(3, Int64(block.count)).bind(4, blob: seqs).run()
                rest = rest.dropFirst(block.count)
            }
        }
    }

    /// A posting block's seqs as stored: each as its distance from the one before (the first
    /// from the block's `first_seq`, so 0) in LEB128, one byte for the close seqs of a busy
    /// key. Decimal text took 7 to 8 bytes a seq, most of the model once lines were gone.
    enum PostingBlock {
        /// Appends ascending seqs, all above `last` (the block's last seq, or its first seq
        /// when the block is new), to a block's bytes.
        static func append(_ seqs: ArraySlice<Int64>, to bytes: inout [UInt8], after last: Int64) {
            bytes.reserveCapacity(bytes.count + seqs.count * 2)
            var previous = last
            for seq in seqs {
                var gap = UInt64(seq - previous)
                while gap >= 0x80 {
                    bytes.append(UInt8(gap & 0x7F) | 0x80)
                    gap >>= 7
                }
                bytes.append(UInt8(gap))
                previous = seq
            }
        }

        /// The seqs of a block that starts at `first`, ascending.
        static func seqs(in bytes: [UInt8], first: Int64) -> [Int64] {
            var seqs: [Int64] = []
            seqs.reserveCapacity(AuditReadModel.blockSize)
            var seq = first
            var gap: UInt64 = 0
            var shift: UInt64 = 0
            for byte in bytes {
                gap |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 != 0 {
                    shift += 7
                    continue
                }
                seq += Int64(gap)
                seqs.append(seq)
                gap = 0
                shift = 0
            }
            return seqs
        }
    }

    /// The statements that read the model, named so that `plans` checks the very text the
    /// searches run.
    enum SQL {
        static let lastBlock = "SELECT first_seq, count, seqs FROM audit_posting WHERE key = ? ORDER BY first_seq DESC LIMIT 1"
        static let blockAtOrBelow =
            "SELECT first_seq, seqs FROM audit_posting WHERE key = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1"
        static let eventsDown = "SELECT seq, org, actor, type, occurred_at FROM audit_event WHERE seq BETWEEN ? AND ? ORDER BY seq DESC"
        static let eventFields = "SELECT org, actor, type, occurred_at FROM audit_event WHERE seq = ?"
        static let hourSpan = "SELECT min(first_seq), max(last_seq) FROM audit_hour WHERE hour BETWEEN ? AND ?"
        static func places(_ count: Int) -> String {
            "SELECT seq, line_at FROM audit_event WHERE seq IN (" + Array(repeating: "?", count: count).joined(separator: ",") + ")"
        }
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

    /// The matching events, newest first, each with where its line starts in the log's
    /// content (read with `LogReader.lines(at:)`), and whether more follow.
    ///
    /// The search walks the posting blocks of its most selective key (an entity, else the
    /// actor, else each type, merged, else the org) from the newest seq it may show down,
    /// and checks any other filter on the event's row; without a key it walks the events
    /// themselves. Either way it stops after the page, so a page costs about the same on ten
    /// million events as on a thousand.
    public static func search(_ search: Search, in db: SQLiteDatabase) throws(LogError) -> (
        events: [(seq: UInt64, contentOffset: UInt64)], more: Bool
    ) {
        if let types = search.types, types.isEmpty { return ([], false) }
        var high = Int64.max
        var low: Int64 = 1
        if let before = search.before { high = min(high, Int64(clamping: before) - 1) }
        if let upTo = search.upTo { high = min(high, Int64(clamping: upTo)) }
        if search.from != nil || search.to != nil {
            // The seqs a time window can hold, from the hours it spans.
            let bounds = try db.statement(SQL.hourSpan)
                .bind(1, search.from.map(hour) ?? Int64.min).bind(2, search.to.map(hour) ?? Int64.max)
            defer { bounds.finish() }
            guard try bounds.step(), let first = bounds.text(0).flatMap({ Int64($0) }), let last = bounds.text(1).flatMap({ Int64($0) })
            else {
                return ([], false)
            }
            low = max(low, first)
            high = min(high, last)
        }
        guard low <= high else { return ([], false) }

        // The walk, and the filters it does not answer by itself.
        var checks = Checks(search: search)
        var walks: [PostingWalk]
        if let resource = search.resource {
            walks = [PostingWalk(key: Key.resource(resource).stored, below: high)]
        } else if let actor = search.actor {
            walks = [PostingWalk(key: Key.actor(actor).stored, below: high)]
            checks.actor = nil
        } else if let types = search.types {
            walks = Set(types).sorted().map { PostingWalk(key: Key.type($0).stored, below: high) }
            checks.types = nil
        } else if let org = search.org {
            walks = [PostingWalk(key: Key.org(org).stored, below: high)]
            checks.org = nil
        } else {
            // No key: the events themselves, newest first, each checked on its own row.
            let rows = try db.statement(SQL.eventsDown).bind(1, low).bind(2, high)
            defer { rows.finish() }
            var seqs: [Int64] = []
            while seqs.count <= search.limit, try rows.step() {
                if checks.pass(org: rows.text(1), actor: rows.text(2), type: rows.text(3), time: rows.int(4)) { seqs.append(rows.int(0)) }
            }
            return (try places(of: Array(seqs.prefix(search.limit)), in: db), seqs.count > search.limit)
        }
        var seqs: [Int64] = []
        while seqs.count <= search.limit, let seq = try next(of: &walks, in: db), seq >= low {
            if try checks.pass(seq, in: db) { seqs.append(seq) }
        }
        let more = seqs.count > search.limit
        return (try places(of: Array(seqs.prefix(search.limit)), in: db), more)
    }

    /// Where the lines of some events start in the log's content, in the order given.
    private static func places(of seqs: [Int64], in db: SQLiteDatabase) throws(LogError) -> [(seq: UInt64, contentOffset: UInt64)] {
        guard !seqs.isEmpty else { return [] }
        let statement = try db.statement(SQL.places(seqs.count))
        defer { statement.finish() }
        for (index, seq) in seqs.enumerated() { statement.bind(Int32(index + 1), seq) }
        var found: [Int64: Int64] = [:]
        while try statement.step() { found[statement.int(0)] = statement.int(1) }
        var rows: [(seq: UInt64, contentOffset: UInt64)] = []
        for seq in seqs {
            guard let offset = found[seq] else { throw LogError(.logCorrupt, "the audit read model has no row for seq \(seq); rebuild it") }
            rows.append((UInt64(seq), UInt64(offset)))
        }
        return rows
    }

    /// The filters a walk leaves to be checked on each event's row.
    private struct Checks {
        var org: String?
        var actor: String?
        var types: Set<String>?
        let from: Int64?
        let to: Int64?

        init(search: Search) {
            org = search.org
            actor = search.actor
            types = search.types.map(Set.init)
            from = search.from
            to = search.to
        }

        var isEmpty: Bool { org == nil && actor == nil && types == nil && from == nil && to == nil }

        /// Whether an event's row passes, read by its seq.
        func pass(_ seq: Int64, in db: SQLiteDatabase) throws(LogError) -> Bool {
            if isEmpty { return true }
            let row = try db.statement(SQL.eventFields).bind(1, seq)
            defer { row.finish() }
            guard try row.step() else { return false }
            return pass(org: row.text(0), actor: row.text(1), type: row.text(2), time: row.int(3))
        }

        func pass(org: String?, actor: String?, type: String?, time: Int64) -> Bool {
            if let wanted = self.org, org != wanted { return false }
            if let wanted = self.actor, actor != wanted { return false }
            if let types, !types.contains(type ?? "") { return false }
            if let from, time < from { return false }
            if let to, time > to { return false }
            return true
        }
    }

    /// The newest seq not yet taken among several posting lists (merged), or nil when all
    /// are exhausted.
    private static func next(of walks: inout [PostingWalk], in db: SQLiteDatabase) throws(LogError) -> Int64? {
        var best: Int?
        var bestSeq = Int64.min
        for index in walks.indices {
            if let seq = try walks[index].peek(in: db), seq > bestSeq {
                best = index
                bestSeq = seq
            }
        }
        guard let best else { return nil }
        walks[best].advance()
        return bestSeq
    }

    /// One key's seqs, newest first, read a block at a time.
    private struct PostingWalk {
        let key: String
        /// Seqs not yet read are at most this.
        var below: Int64
        /// The current block's seqs at or below `below`, ascending; the next is the last.
        var block: [Int64] = []
        var exhausted = false

        init(key: String, below: Int64) {
            self.key = key
            self.below = below
        }

        mutating func peek(in db: SQLiteDatabase) throws(LogError) -> Int64? {
            while block.isEmpty && !exhausted {
                let row = try db.statement(SQL.blockAtOrBelow).bind(1, key).bind(2, below)
                defer { row.finish() }
                guard try row.step() else {
                    exhausted = true
                    break
                }
                let first = row.int(0)
                block = PostingBlock.seqs(in: row.blob(1), first: first).filter { $0 <= below }
                below = first - 1
            }
            return block.last
        }

        mutating func advance() { block.removeLast() }
    }

    /// The statements a search runs and how SQLite answers each (`EXPLAIN QUERY PLAN`), to
    /// check that every one is a seek on a key, never a scan.
    public static func plans(in db: SQLiteDatabase) throws(LogError) -> [String: [String]] {
        let statements = [SQL.lastBlock, SQL.blockAtOrBelow, SQL.eventsDown, SQL.eventFields, SQL.places(3), SQL.hourSpan]
        var plans: [String: [String]] = [:]
        for sql in statements {
            let statement = try db.statement("EXPLAIN QUERY PLAN " + sql)
            defer { statement.finish() }
            var steps: [String] = []
            while try statement.step() { steps.append(statement.text(3) ?? "") }
            plans[sql] = steps
        }
        return plans
    }
}
