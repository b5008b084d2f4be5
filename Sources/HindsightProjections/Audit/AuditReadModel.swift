public import HindsightCore

/// The audit read model: every event, findable by actor, org, type or type prefix, any
/// entity it refers to, and time, newest first (`audit.search`, `teams.activity`).
///
/// For every actor, org, type and referred entity it keeps the seqs of its events, in blocks
/// (`audit_posting`, the seqs as gaps in LEB128): appending an event adds its seq to the last
/// block of each of its keys, so building the model from the log writes each block once
/// instead of building an index row by row, and a search walks one key's blocks from the
/// newest seq down. Of each event it keeps only when it occurred and where its stored line
/// starts in the log's content (`StoredEvent.contentOffset`), 512 events to a row
/// (`EventBlock`): a page of results reads its lines from the log (`LogReader.lines(at:)`),
/// so the model holds no second copy of it.
public final class AuditReadModel: ReadModel {
    public let name = "audit"
    public let version = 8
    public let types: Set<String>? = nil

    /// Seqs per posting block.
    static let blockSize = 512

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE audit_events (first_seq INTEGER PRIMARY KEY, times BLOB NOT NULL, places BLOB NOT NULL);
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
        static func correlation(_ id: String) -> Key { Key(kind: "c", name: id) }
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
        var correlations: [String: [Int64]] = [:]
        var hours: [Int64: (first: Int64, last: Int64)] = [:]
        for event in events {
            let stored = event.stored
            let seq = Int64(stored.seq)
            if let correlation = stored.correlationID { correlations[correlation, default: []].append(seq) }
            actors[stored.actorID, default: []].append(seq)
            orgs[stored.org, default: []].append(seq)
            types[stored.type, default: []].append(seq)
            for reference in event.references { resources[reference, default: []].append(seq) }
            let hour = Self.hour(stored.occurredAtMs)
            let span = hours[hour]
            hours[hour] = (min(span?.first ?? seq, seq), max(span?.last ?? seq, seq))
        }
        // In the order of the stored keys: by kind (a, c, o, r, t), then by name.
        let ordered = [
            (Key.actor, actors), (Key.correlation, correlations), (Key.org, orgs), (Key.resource, resources), (Key.type, types),
        ].flatMap { key, lists in
            lists.sorted { $0.key < $1.key }.map { (key: key($0.key).stored, seqs: $0.value) }
        }
        return Batch(events: events, postings: ordered, hours: hours)
    }

    public func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError) {
        try EventBlock.append(batch.events, in: db)
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
                Deltas.append(added, to: &seqs, after: Deltas.values(in: seqs, after: first).last ?? first)
                last.finish()
                try update.reset().bind(1, count).bind(2, blob: seqs).bind(3, key).bind(4, first).run()
                rest = rest.dropFirst(added.count)
            } else {
                last.finish()
            }
            while let first = rest.first {
                let block = rest.prefix(AuditReadModel.blockSize)
                var seqs: [UInt8] = []
                Deltas.append(block, to: &seqs, after: first)
                try insert.reset().bind(1, key).bind(2, first).bind(3, Int64(block.count)).bind(4, blob: seqs).run()
                rest = rest.dropFirst(block.count)
            }
        }
    }

    /// The statements that read the model, named so that `plans` checks the very text the
    /// searches run.
    enum SQL {
        static let lastBlock = "SELECT first_seq, count, seqs FROM audit_posting WHERE key = ? ORDER BY first_seq DESC LIMIT 1"
        static let blockAtOrBelow =
            "SELECT first_seq, seqs FROM audit_posting WHERE key = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1"
        static let eventBlock = "SELECT times, places FROM audit_events WHERE first_seq = ?"
        static let eventBlocksDown = "SELECT first_seq, times FROM audit_events WHERE first_seq <= ? ORDER BY first_seq DESC"
        static let hourSpan = "SELECT min(first_seq), max(last_seq) FROM audit_hour WHERE hour BETWEEN ? AND ?"
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
        /// Only the events that carry this `correlationId`: one change followed across the
        /// events it caused.
        public var correlationId: String?
        /// `occurredAt` bounds in milliseconds, inclusive.
        public var from: Int64?
        public var to: Int64?
        /// Only events below this seq (the cursor of the previous page).
        public var before: UInt64?
        /// Only events up to this seq (`at`).
        public var upTo: UInt64?
        public var limit = 50

        public init() {}

        /// Whether an event that occurred at `time` (ms) is inside the search's window.
        func holds(time: Int64) -> Bool {
            from.map { time >= $0 } ?? true && to.map { time <= $0 } ?? true
        }

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
    /// and checks any other key by looking the seq up in that key's blocks, and the time in
    /// the event's block; without a key it walks the events
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

        // The walk, and the filters it does not answer by itself: the other keys, each a list
        // the walk's seqs are looked up in, and the time window, on the event's row.
        // The most selective first: it is the one walked.
        var keys: [[String]] = []
        if let correlation = search.correlationId { keys.append([Key.correlation(correlation).stored]) }
        if let resource = search.resource { keys.append([Key.resource(resource).stored]) }
        if let actor = search.actor { keys.append([Key.actor(actor).stored]) }
        if let types = search.types { keys.append(Set(types).sorted().map { Key.type($0).stored }) }
        if let org = search.org { keys.append([Key.org(org).stored]) }
        var walks: [PostingWalk]
        if !keys.isEmpty {
            walks = keys.removeFirst().map { PostingWalk(key: $0, below: high) }
        } else {
            // No key: the events themselves, newest first, each checked on its time.
            let blocks = try db.statement(SQL.eventBlocksDown).bind(1, high)
            defer { blocks.finish() }
            var seqs: [Int64] = []
            walk: while try blocks.step() {
                let block = EventBlock(first: blocks.int(0), times: blocks.blob(1), places: [])
                guard block.last >= low else { break }
                for seq in stride(from: min(high, block.last), through: max(low, block.first), by: -1) {
                    if search.holds(time: block.times[Int(seq - block.first)]) { seqs.append(seq) }
                    if seqs.count > search.limit { break walk }
                }
                if block.first <= low { break }
            }
            return (try places(of: Array(seqs.prefix(search.limit)), in: db), seqs.count > search.limit)
        }
        var checks = Checks(keys: keys, time: search.from != nil || search.to != nil)
        var seqs: [Int64] = []
        while seqs.count <= search.limit, let seq = try next(of: &walks, in: db), seq >= low {
            if try checks.pass(seq, search, in: db) { seqs.append(seq) }
        }
        let more = seqs.count > search.limit
        return (try places(of: Array(seqs.prefix(search.limit)), in: db), more)
    }

    /// Where the lines of some events start in the log's content, in the order given.
    private static func places(of seqs: [Int64], in db: SQLiteDatabase) throws(LogError) -> [(seq: UInt64, contentOffset: UInt64)] {
        var blocks = EventBlocks()
        var rows: [(seq: UInt64, contentOffset: UInt64)] = []
        for seq in seqs {
            guard let place = try blocks.block(holding: seq, in: db)?.place(of: seq) else {
                throw LogError(.logCorrupt, "the audit read model has no place for seq \(seq); rebuild it")
            }
            rows.append((UInt64(seq), UInt64(place)))
        }
        return rows
    }

    /// The event block last read, kept while the seqs asked about stay within it.
    private struct EventBlocks {
        var current: EventBlock?

        mutating func block(holding seq: Int64, in db: SQLiteDatabase) throws(LogError) -> EventBlock? {
            if let current, current.first <= seq, seq <= current.last { return current }
            current = try EventBlock.read(holding: seq, in: db)
            return current
        }
    }

    /// The filters a walk leaves to be checked for each seq it gives: each other filter on a
    /// key (the actor, the types, the org) as the seq's presence in one of its posting lists,
    /// and the time window on the event's block.
    private struct Checks {
        /// For each filter, the lists of which the seq must be in one.
        var filters: [[PostingMembership]]
        let time: Bool
        var blocks = EventBlocks()

        init(keys: [[String]], time: Bool) {
            filters = keys.map { $0.map(PostingMembership.init) }
            self.time = time
        }

        /// Whether the event `seq` passes; the seqs asked about come newest first.
        mutating func pass(_ seq: Int64, _ search: Search, in db: SQLiteDatabase) throws(LogError) -> Bool {
            for filter in filters.indices {
                var found = false
                for list in filters[filter].indices where try filters[filter][list].contains(seq, in: db) { found = true }
                if !found { return false }
            }
            guard time else { return true }
            return try blocks.block(holding: seq, in: db)?.time(of: seq).map(search.holds(time:)) ?? false
        }
    }

    /// Whether seqs, asked about newest first, are in one key's posting list: the block at or
    /// below a seq is read when the block in hand no longer reaches down to it, so a check
    /// costs at most one seek, and none while the seqs asked about stay within a block.
    private struct PostingMembership {
        let key: String
        /// The seqs of the block in hand not above the last seq asked about, ascending.
        var block: [Int64] = []
        /// The lowest seq the block in hand holds (`Int64.max` before the first read,
        /// `Int64.min` once no block is left below).
        var lowest = Int64.max

        init(key: String) { self.key = key }

        mutating func contains(_ seq: Int64, in db: SQLiteDatabase) throws(LogError) -> Bool {
            if seq < lowest {
                let row = try db.statement(SQL.blockAtOrBelow).bind(1, key).bind(2, seq)
                defer { row.finish() }
                if try row.step() {
                    lowest = row.int(0)
                    block = Deltas.values(in: row.blob(1), after: lowest)
                } else {
                    lowest = Int64.min
                    block = []
                }
            }
            while let last = block.last, last > seq { block.removeLast() }
            return block.last == seq
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
                block = Deltas.values(in: row.blob(1), after: first).filter { $0 <= below }
                below = first - 1
            }
            return block.last
        }

        mutating func advance() { block.removeLast() }
    }

    /// The statements a search runs and how SQLite answers each (`EXPLAIN QUERY PLAN`), to
    /// check that every one is a seek on a key, never a scan.
    public static func plans(in db: SQLiteDatabase) throws(LogError) -> [String: [String]] {
        let statements = [SQL.lastBlock, SQL.blockAtOrBelow, SQL.eventBlock, SQL.eventBlocksDown, SQL.hourSpan]
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
