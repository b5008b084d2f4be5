public import HindsightCore
public import HindsightEngine
public import HindsightEvidence
public import HindsightLog
public import HindsightProjections
public import HindsightReadSide

/// A method's parameters as a Swift value: read from a request's named parameters by the
/// method's own checks, or built directly by a caller in Swift (the command line).
public protocol QueryParams: Sendable {
    /// What a request may give, as `system.methods` publishes it.
    static var parameters: [Parameter] { get }
    init(_ parameters: Parameters) throws(QueryError)
}

/// A method's answer as a Swift value, and as the JSON object every edge writes.
public protocol QueryAnswer: Sendable {
    /// The seq the answer reflects (QUERIES.md: every answer carries it); nil for answers
    /// about the interface itself (`system.methods`, whose schema says so with `hasPosition`).
    var position: UInt64? { get }
    static var hasPosition: Bool { get }
    /// The answer's members but `position`.
    var members: [String: JSONValue] { get }
    /// The shape of `members`, as `system.methods` publishes it.
    static var schema: Schema { get }
}

extension QueryAnswer {
    /// The answer as JSON: its members and `position`.
    public var json: JSONValue {
        var all = members
        if let position { all["position"] = .integer(Int64(position)) }
        return .object(all)
    }

    public static var hasPosition: Bool { true }

    static var resultSchema: JSONValue {
        guard hasPosition, case .object(var members, let optional, let about) = schema else { return schema.json }
        members["position"] = .integer(0...Int64.max, "The seq this answer reflects.")
        return Schema.object(members, optional: optional, about).json
    }
}

/// A method that only reads: it gets the log as readers see it and the read models it names,
/// caught up, and no writer, so a request to it cannot change stored data.
public protocol ReadingMethod: Sendable {
    associatedtype Params: QueryParams
    associatedtype Answer: QueryAnswer
    static var name: String { get }
    static var summary: String { get }
    /// The read models it reads: only these are caught up before it answers.
    static var models: [String] { get }
    static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer
}

/// A method that writes: the log (through the engine), a read model's files, or a bundle.
public protocol WritingMethod: Sendable {
    associatedtype Params: QueryParams
    associatedtype Answer: QueryAnswer
    static var name: String { get }
    static var summary: String { get }
    static func perform(_ params: Params, with writing: Writing) throws(QueryError) -> Answer
}

/// What a reading method may use: the log as readers see it and the read models it lists,
/// each worked out once per question (one reader, so every part of an answer sees the same
/// log). It holds no writer and no way to one (its sources are private), so a reading method
/// cannot change stored data: it may only read the models it lists, or fold one in memory.
public final class Reading {
    private let openSource: () throws(QueryError) -> EventSource
    private let openReader: () throws(QueryError) -> LogReader
    private let openProjections: () throws(QueryError) -> Projections
    let models: [String]
    /// The connection's subscriptions to new events (`log.subscribe`): what it is to be sent,
    /// not stored data.
    let subscriptions: Subscriptions
    private var opened: (reader: LogReader, projections: Projections?)?

    init(service: QueryService, models: [String]) {
        subscriptions = service.subscriptions
        openSource = { () throws(QueryError) in try service.source() }
        openReader = { () throws(QueryError) in try service.reader() }
        openProjections = { () throws(QueryError) in try service.projections() }
        self.models = models
    }

    /// The log as readers see it (`present` shows an event with its personal data as readers
    /// may see it).
    public func source() throws(QueryError) -> EventSource { try openSource() }

    /// A reader of everything acknowledged when the question was asked, with the read models
    /// the method lists caught up with it.
    public func reader() throws(QueryError) -> LogReader { try open().reader }

    private func open() throws(QueryError) -> (reader: LogReader, projections: Projections?) {
        if let opened { return opened }
        let reader = try openReader()
        var projections: Projections?
        if !models.isEmpty {
            let models = try openProjections()
            try engine { () throws(LogError) in try models.catchUp(reader, only: self.models) }
            projections = models
        }
        opened = (reader, projections)
        return (reader, projections)
    }

    /// The database of a read model the method lists, caught up.
    public func database(_ name: String) throws(QueryError) -> SQLiteDatabase {
        precondition(models.contains(name), "a method reads only the read models it lists")
        guard let db = try open().projections?.database(name) else { throw .engine(LogError(.io, "the \(name) read model is not open")) }
        return db
    }

    /// Every read model as it is, without catching it up (`projections.status`, whose lag
    /// is what each model has still to fold): its position, and whether it is being rebuilt.
    public func readModelsAsTheyAre() throws(QueryError) -> [(name: String, position: UInt64, rebuilding: Bool)] {
        let projections = try openProjections()
        let positions = try engine { () throws(LogError) in try projections.positions() }
        let rebuilding = projections.modelsBeingRebuilt
        return positions.keys.sorted().map { ($0, positions[$0]!, rebuilding.contains($0)) }
    }

    /// The seq a read model the method lists has reached.
    public func position(of name: String) throws(QueryError) -> UInt64 {
        precondition(models.contains(name), "a method reads only the read models it lists")
        guard let projections = try open().projections else { return 0 }
        return try engine { () throws(LogError) in try projections.positions()[name] ?? 0 }
    }

    /// A model the method lists, folded in memory from the log's events `query` selects
    /// (`Projections.fold`, with its `start`): the model as it stood at a past moment.
    public func fold<Model: ReadModel>(
        _ model: Model, matching query: ReadQuery, start: (SQLiteDatabase) throws(LogError) -> Void = { _ in }
    ) throws(QueryError) -> SQLiteDatabase {
        precondition(models.contains(model.name), "a method reads only the read models it lists")
        let reader = try reader()
        let projections = try openProjections()
        return try engine { () throws(LogError) in try projections.fold(model, matching: query, reader: reader, start: start) }
    }

    /// The first seq of the log's first chunk holding an event that occurred at `time` or
    /// later: every such event is at or after it (nil: none is).
    public func firstSeq(occurredAtOrAfter time: Int64) throws(QueryError) -> UInt64? {
        try reader().firstSeq(occurredAtOrAfter: time)
    }
}

/// What a writing method may use: everything a reading one may, and the writers.
public struct Writing {
    let service: QueryService
    public let reading: Reading

    /// What a method reads while it writes, with `models` caught up.
    public func reading(_ models: [String]) -> Reading { Reading(service: service, models: models) }

    /// The log's writer: `serve`'s engine, or the directory opened as its writer for this one
    /// request.
    public func engine() throws(QueryError) -> Engine { try service.writer() }

    /// The read models, opened, to rebuild them.
    public func projections() throws(QueryError) -> Projections { try service.projections() }

    /// The new directory an export names, if this process may write it there.
    public func exportDestination(_ path: String) throws(QueryError) -> ExportDestination {
        do {
            return try ExportDestination.resolve(path, policy: service.exports, dataDirectory: service.directory)
        } catch {
            throw .engine(error)
        }
    }

    /// The key exports and checkpoints are signed with.
    public func signingKey() throws(QueryError) -> SigningKey {
        do {
            return try SigningKey(path: service.signingKey)
        } catch {
            throw .engine(error)
        }
    }

    public var checkpoints: CheckpointStore { CheckpointStore(dataDirectory: service.directory) }

    /// Whether the rebuild of a read model can run beside the requests (in `serve`).
    public var isServing: Bool { service.engineIfServing != nil }

    /// Readers of the log as it is when each is asked for (for work that outlasts the request).
    public func currentReader() throws(QueryError) -> @Sendable () throws(LogError) -> LogReader {
        let source = try service.source()
        return { () throws(LogError) in try source.reader() }
    }
}

/// A method as the edges see it: its name, what it takes and returns as JSON Schema, whether
/// it writes, and how to run it on JSON parameters.
public struct MethodDescription: Sendable {
    public let name: String
    public let summary: String
    public let writes: Bool
    public let parameters: [Parameter]
    /// JSON Schema of the result object.
    public let result: JSONValue
    let run: @Sendable (QueryService, Parameters) throws(QueryError) -> JSONValue

    init<M: ReadingMethod>(reading method: M.Type) {
        self.init(M.name, M.summary, M.Params.self, M.Answer.self, writes: false) { service, values throws(QueryError) in
            try service.ask(M.self, M.Params(values)).json
        }
    }

    init<M: WritingMethod>(writing method: M.Type) {
        self.init(M.name, M.summary, M.Params.self, M.Answer.self, writes: true) { service, values throws(QueryError) in
            try service.perform(M.self, M.Params(values)).json
        }
    }

    private init<P: QueryParams, A: QueryAnswer>(
        _ name: String, _ summary: String, _: P.Type, _: A.Type, writes: Bool,
        run: @escaping @Sendable (QueryService, Parameters) throws(QueryError) -> JSONValue
    ) {
        self.name = name
        self.summary = summary
        self.writes = writes
        parameters = P.parameters
        result = A.resultSchema
        self.run = run
    }

    /// JSON Schema of the parameters object.
    public var paramsSchema: JSONValue { Parameters.schema(of: parameters) }

    /// The method as `system.methods` lists it.
    public var described: JSONValue {
        ["name": .string(name), "summary": .string(summary), "writes": .bool(writes), "params": paramsSchema, "result": result]
    }
}
