import Foundation
import HindsightCatalog
public import HindsightCore
public import HindsightEngine
public import HindsightEvidence
import HindsightLog
import HindsightProjections
import HindsightReadSide

/// The questions QUERIES.md lists, as Swift functions over typed parameters and answers. The
/// edges are thin: JSON-RPC (`serve`, `query`) and the command line call it, and it owns what
/// every method shares: reading parameters, `atLeast`, the position an answer reflects,
/// catching up only the read models a method reads, and building again a read model found
/// damaged.
///
/// Reading never takes the writer's lock, so `hindsight query` reads beside a running `serve`;
/// writing uses `serve`'s engine, or opens the directory as its writer for the one request.
public final class QueryService: @unchecked Sendable {
    public let directory: String
    /// `serve`'s engine; nil beside it (`query`, the command line).
    let engineIfServing: Engine?
    /// Where the key that signs checkpoints and exports lives (read when an export asks).
    let signingKey: String
    /// Where exports may be written.
    let exports: ExportPolicy
    /// How long `atLeast` waits for a seq another process has still to append (seconds).
    let atLeastWait: Double
    /// Hears how far the read models' builds and rebuilds have read the log (set before the
    /// first request, by a command that shows it).
    public var progress: ProgressReport?
    /// The subscriptions of the connection this service answers (`log.subscribe`).
    let subscriptions = Subscriptions()

    /// With an engine, the last reader, kept while the log has not grown: opening a reader
    /// reads every chunk header, which a request that reads a little should not pay for.
    private var cachedReader: LogReader?
    /// Without an engine, the log as readers see it, opened for the first request that needed
    /// it (its vault reloads keys when it meets one it does not know).
    private var readingSource: EventSource?
    private var openedProjections: Projections?
    private let lock = NSLock()

    /// How long `atLeast` waits, by default, for the log to reach its seq (seconds).
    public static let atLeastWait: Double = 5

    public init(
        directory: String, engine: Engine? = nil, signingKey: String = SigningKey.defaultPath, exports: ExportPolicy = .off,
        atLeastWait: Double = QueryService.atLeastWait
    ) {
        self.directory = directory
        engineIfServing = engine
        self.signingKey = signingKey
        self.exports = exports
        self.atLeastWait = atLeastWait
    }

    /// Every method, by name.
    public static let methods: [MethodDescription] = {
        let all =
            LogMethods.all + SubscriptionMethods.all + AuditMethods.all + AccessMethods.all + AnalyticsMethods.all + InventoryMethods.all
            + TeamMethods.all
            + ExportMethods.all
            + ProjectionMethods.all
            + [MethodDescription(reading: SystemMethods.self)]
        return all.sorted { $0.name < $1.name }
    }()

    private static let byName = Dictionary(uniqueKeysWithValues: methods.map { ($0.name, $0) })

    /// Answers a method named at run time (an edge's request) with its JSON parameters.
    public func call(_ name: String, _ values: [String: JSONValue]) throws(QueryError) -> JSONValue {
        guard let method = Self.byName[name] else { throw .methodNotFound(name) }
        return try method.run(self, checked(values, listed: method.parameters))
    }

    /// Hands `emit` every event the connection's subscriptions are due, as readers see them,
    /// each with its subscription's id, in seq order within a subscription; false when `emit`
    /// was refused (the connection went away). The edge calls it after each request.
    public func dueEvents(_ emit: (_ subscription: String, _ event: StoredEvent) -> Bool) throws(QueryError) -> Bool {
        if subscriptions.isEmpty { return true }
        let (reader, source) = (try reader(), try source())
        return try engine { () throws(LogError) in
            try subscriptions.due(reader, present: { source.present($0, upcast: $1) }, emit)
        }
    }

    /// Answers a reading method: the read models it lists caught up first (a damaged one built
    /// again from the log, and the question asked again).
    public func ask<M: ReadingMethod>(_ method: M.Type, _ params: M.Params) throws(QueryError) -> M.Answer {
        try retryingDamaged { () throws(QueryError) in try M.answer(params, from: Reading(service: self, models: M.models)) }
    }

    /// Answers a reading method given its parameters as a request would (checked as for one).
    public func ask<M: ReadingMethod>(_ method: M.Type, parameters values: [String: JSONValue]) throws(QueryError) -> M.Answer {
        try ask(M.self, M.Params(checked(values, listed: M.Params.parameters)))
    }

    /// Carries out a writing method given its parameters as a request would.
    public func perform<M: WritingMethod>(_ method: M.Type, parameters values: [String: JSONValue]) throws(QueryError) -> M.Answer {
        try perform(M.self, M.Params(checked(values, listed: M.Params.parameters)))
    }

    /// Carries out a writing method.
    public func perform<M: WritingMethod>(_ method: M.Type, _ params: M.Params) throws(QueryError) -> M.Answer {
        try retryingDamaged { () throws(QueryError) in
            try M.perform(params, with: Writing(service: self, reading: Reading(service: self, models: [])))
        }
    }

    /// A request's parameters checked against what the method lists, once `atLeast` (which
    /// every method takes) is reached.
    private func checked(_ values: [String: JSONValue], listed: [Parameter]) throws(QueryError) -> Parameters {
        let parameters = try Parameters(values, listed: listed, catalog: catalog)
        try reach(parameters.integer("atLeast"))
        return parameters
    }

    /// The catalogue events are checked against and read through.
    var catalog: Catalog { engineIfServing?.catalog ?? .standard }

    private func retryingDamaged<T>(_ body: () throws(QueryError) -> T) throws(QueryError) -> T {
        do {
            return try body()
        } catch .engine(let error) where error.code == .readModelDamaged && rebuildDamaged(at: error.location) {
            return try body()
        }
    }

    /// Builds again the read model whose database at `location` was found damaged; false
    /// when that is not a read model's database, or the build failed too.
    private func rebuildDamaged(at location: String?) -> Bool {
        guard let location, let reader = try? reader(), let projections = lock.withLock({ openedProjections }) else { return false }
        return (try? projections.rebuildDamaged(at: location, reader: reader)) ?? false
    }

    /// `atLeast`: the answer must reflect at least this seq (read models are caught up with
    /// the log before they answer). Beside a writer (`hindsight query` beside `serve`) the seq
    /// may still arrive: it is waited for, up to `atLeastWait` seconds. In `serve` this
    /// process is the writer and answers one request at a time, so a seq not appended yet
    /// cannot arrive while it waits: it is refused at once.
    private func reach(_ seq: Int64?) throws(QueryError) {
        guard let seq else { return }
        let deadline = DispatchTime.now() + (engineIfServing == nil ? atLeastWait : 0)
        while true {
            let size = try reader().size
            if UInt64(seq) <= size { return }
            guard DispatchTime.now() < deadline else {
                throw .engine(LogError(.outOfRange, "the log holds \(size) events; position \(seq) was not reached", fieldPath: "/atLeast"))
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// A reader of everything acknowledged so far.
    func reader() throws(QueryError) -> LogReader {
        lock.lock()
        defer { lock.unlock() }
        if let engine = engineIfServing, let cachedReader, cachedReader.size == engine.size { return cachedReader }
        let reader = try engine { () throws(LogError) in try LogReader(directory: directory) }
        if engineIfServing != nil { cachedReader = reader }
        return reader
    }

    /// The log as readers see it: events presented through the vault.
    func source() throws(QueryError) -> EventSource {
        if let engine = engineIfServing { return engine.events }
        lock.lock()
        defer { lock.unlock() }
        if let readingSource { return readingSource }
        let source = try engine { () throws(LogError) in try EventSource(directory: directory) }
        readingSource = source
        return source
    }

    /// The read models, opened (not caught up) on first use.
    func projections() throws(QueryError) -> Projections {
        let source = try source()
        lock.lock()
        defer { lock.unlock() }
        if let openedProjections { return openedProjections }
        let opened = try engine { () throws(LogError) in try Projections(source: source) }
        opened.progress = progress
        openedProjections = opened
        return opened
    }

    /// The log's writer: `serve`'s engine, or the directory opened as its writer.
    func writer() throws(QueryError) -> Engine {
        if let engine = engineIfServing { return engine }
        return try engine { () throws(LogError) in try Engine(directory: directory) }
    }
}

/// `system.methods`: every method with its parameters and result as JSON Schema.
enum SystemMethods: ReadingMethod {
    static let name = "system.methods"
    static let summary = "Every method: its parameters and result as JSON Schema, and whether it writes."
    static let models: [String] = []

    struct Params: QueryParams {
        static let parameters: [Parameter] = []
        init(_ parameters: Parameters) throws(QueryError) {}
    }

    struct Answer: QueryAnswer {
        let methods: [MethodDescription]
        var position: UInt64? { nil }
        static let hasPosition = false
        var members: [String: JSONValue] { ["methods": .array(methods.map(\.described))] }
        static let schema = Schema.object([
            "methods": .array(
                .object([
                    "name": .string(), "summary": .string(), "writes": .boolean(), "params": .anyObject("JSON Schema of the parameters"),
                    "result": .anyObject("JSON Schema of the result"),
                ]))
        ])
    }

    static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        Answer(methods: QueryService.methods)
    }
}
