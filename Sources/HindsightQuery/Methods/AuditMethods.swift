public import HindsightCore
public import HindsightProjections

/// The audit read model's methods (QUERIES.md): `audit.search` and `teams.activity`.
public enum AuditMethods {
    static let all = [MethodDescription(reading: Search.self), MethodDescription(reading: TeamActivity.self)]

    static let paging = [
        Parameter("limit", .integer(1...1000, "Records per page (default 50).")),
        Parameter("cursor", .string("A nextCursor a search returned: the next page.")),
        Parameter("at", .position("As of then: up to that seq, or the events that occurred by that time.")),
    ]

    /// A page of a search against the caught-up audit model: records revealed as readers see
    /// them, and the cursor of the next page (the seq below which it starts, so pages stay
    /// stable while events arrive).
    static func page(_ search: AuditReadModel.Search, at: LogPosition?, from reading: Reading) throws(QueryError) -> Page {
        var search = search
        let db = try reading.database("audit")
        let reader = try reading.reader()
        // The lines come from this reader's log: a model another process took further than it
        // answers up to what the reader shows.
        let position = min(try reading.position(of: "audit"), reader.size)
        let source = try reading.source()
        search.upTo = min(search.upTo ?? .max, position)
        switch at {
        case .seq(let seq)?: search.upTo = min(seq, position)
        case .time(let ms)?: search.to = min(search.to ?? ms, ms)
        case nil: break
        }
        return try engine { () throws(LogError) in
            let page = try AuditReadModel.search(search, in: db)
            var records: [StoredEvent] = []
            for line in try reader.lines(at: page.events) {
                records.append(source.present(try StoredEvent(storedLine: line), upcast: true))
            }
            return Page(records: records, nextCursor: page.more ? page.events.last!.seq : nil, position: search.upTo ?? position)
        }
    }

    /// A page of audit records, newest first.
    public struct Page: QueryAnswer {
        /// Events as readers see them, upcast to the newest version of their type.
        public let records: [StoredEvent]
        /// Where the next page starts (below this seq); nil on the last page.
        public let nextCursor: UInt64?
        public let position: UInt64?
        public var members: [String: JSONValue] {
            ["records": .array(records.map { .raw(Array($0.line)) }), "nextCursor": nextCursor.map { .string(String($0)) } ?? .null]
        }
        public static let schema = Schema.object([
            "records": .array(.anyObject("An event as EVENTS.md describes it."), "Newest first."),
            "nextCursor": .nullable(.string("Give it as cursor for the next page; null on the last page.")),
        ])
    }
}

/// `audit.search`: events by who did them, where, of what type, about what and when.
public enum Search: ReadingMethod {
    public static let name = "audit.search"
    public static let summary = "Events by who did them, where, of what type, about what and when, newest first."
    public static let models = ["audit"]

    public struct Params: QueryParams {
        public var search: AuditReadModel.Search
        public var at: LogPosition?

        public init(search: AuditReadModel.Search, at: LogPosition? = nil) {
            self.search = search
            self.at = at
        }

        public static let parameters =
            [
                Parameter("actor", .string("Only events by this actor (its id).")),
                Parameter("org", .string("Only events of this org.")),
                Parameter("types", .array(.string(), "Only events of these types.")),
                Parameter("typePrefix", .string("Only events whose type begins so (build.).")),
                Parameter("resource", .string("Only events that name this entity (KIND/ID), as their stream or in their data.")),
                Parameter("correlationId", .string("Only events that carry this correlationId.")),
                Parameter("from", .time("Only events that occurred then or later.")),
                Parameter("to", .time("Only events that occurred then or earlier.")),
            ] + AuditMethods.paging

        public init(_ p: Parameters) throws(QueryError) {
            var search = AuditReadModel.Search()
            search.actor = try p.string("actor")
            search.org = try p.string("org")
            search.types = try p.eventTypes("types")
            if let prefix = try p.string("typePrefix") {
                guard p.catalog.types.contains(where: { $0.hasPrefix(prefix) }) else {
                    throw .params("no type in the event catalogue begins with \(prefix)", at: "/typePrefix")
                }
                search.narrow(toTypesWithPrefix: prefix, among: p.catalog.types)
            }
            search.resource = try p.string("resource")
            search.correlationId = try p.string("correlationId")
            (search.from, search.to) = try p.period()
            search.limit = Int(try p.integer("limit", in: 1...1000) ?? 50)
            search.before = try p.cursor()
            self.init(search: search, at: try p.position("at"))
        }
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> AuditMethods.Page {
        try AuditMethods.page(params.search, at: params.at, from: reading)
    }
}

/// `teams.activity`: everything that names a team, newest first.
public enum TeamActivity: ReadingMethod {
    public static let name = "teams.activity"
    public static let summary = "Everything that names the team, newest first."
    public static let models = ["audit"]

    public struct Params: QueryParams {
        public var search: AuditReadModel.Search
        public var at: LogPosition?
        public static let parameters = [Parameter("team", .string("The team (team_…)."), required: true)] + AuditMethods.paging

        public init(_ p: Parameters) throws(QueryError) {
            var search = AuditReadModel.Search()
            search.resource = "team/" + (try p.required("team"))
            search.limit = Int(try p.integer("limit", in: 1...1000) ?? 50)
            search.before = try p.cursor()
            self.search = search
            at = try p.position("at")
        }
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> AuditMethods.Page {
        try AuditMethods.page(params.search, at: params.at, from: reading)
    }
}
