public import HindsightCore
import HindsightLog

/// The read models' own methods: how far each has folded the log, and rebuilding one.
enum ProjectionMethods {
    static let all = [MethodDescription(reading: Status.self), MethodDescription(writing: Rebuild.self)]
}

/// `projections.status`: each read model as it is (not caught up first, so its lag is real).
public enum Status: ReadingMethod {
    public static let name = "projections.status"
    public static let summary = "How far each read model has folded the log, as it is (asking does not catch it up)."
    public static let models: [String] = []

    public struct Params: QueryParams {
        public init() {}
        public static let parameters: [Parameter] = []
        public init(_ p: Parameters) throws(QueryError) {}
    }

    public struct Answer: QueryAnswer {
        public let readModels: [(name: String, position: UInt64, rebuilding: Bool)]
        /// The log's size.
        public let position: UInt64?
        public var members: [String: JSONValue] {
            let size = position ?? 0
            return [
                "readModels": .array(
                    readModels.map { model in
                        [
                            "name": .string(model.name), "position": .integer(Int64(model.position)),
                            "lag": .integer(Int64(size - min(size, model.position))),
                            "rebuilding": .bool(model.rebuilding),
                        ]
                    })
            ]
        }
        public static let schema = Schema.object([
            "readModels": .array(
                .object([
                    "name": .string(), "position": .integer(nil, "The last seq it folded."),
                    "lag": .integer(nil, "Events it has still to fold."),
                    "rebuilding": .boolean(),
                ]))
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let models = try reading.readModelsAsTheyAre()
        return Answer(readModels: models, position: try reading.reader().size)
    }
}

/// `projections.rebuild`: a read model built again from the log beside the one in use.
public enum Rebuild: WritingMethod {
    public static let name = "projections.rebuild"
    public static let summary = "Builds a read model again from the log beside the one in use, which keeps answering, and swaps it in."

    public struct Params: QueryParams {
        public var name: String
        public init(name: String) { self.name = name }
        public static let parameters = [Parameter("name", .string("The read model (projections.status lists them)."), required: true)]
        public init(_ p: Parameters) throws(QueryError) { name = try p.required("name") }
    }

    public struct Answer: QueryAnswer {
        public let name: String
        /// The seq of the snapshot it starts from; 0: the log's start.
        public let from: UInt64
        /// True while serve builds it in the background.
        public let rebuilding: Bool
        public let position: UInt64?
        public var members: [String: JSONValue] {
            ["name": .string(name), "from": .integer(Int64(from)), "rebuilding": .bool(rebuilding)]
        }
        public static let schema = Schema.object([
            "name": .string(), "from": .integer(nil, "The seq of the snapshot it starts from; 0: the log's start."),
            "rebuilding": .boolean("True while serve builds it in the background."),
        ])
    }

    public static func perform(_ params: Params, with writing: Writing) throws(QueryError) -> Answer {
        let models = try writing.projections()
        guard models.models.contains(where: { $0.name == params.name }) else {
            throw .params(
                "there is no read model \(params.name); there are \(models.models.map(\.name).joined(separator: ", "))", at: "/name")
        }
        // Caught up first, so that the rebuild starts from the model's current state.
        let reader = try writing.reading.reader()
        // In serve, the rebuild runs beside the requests, which the old model goes on answering.
        let inBackground = writing.isServing
        let current = try writing.currentReader()
        return try engine { () throws(LogError) in
            try models.catchUp(reader, only: [params.name])
            let from = try models.rebuild(params.name, inBackground: inBackground, reader: current)
            return Answer(name: params.name, from: from, rebuilding: inBackground, position: try models.positions()[params.name] ?? 0)
        }
    }
}
