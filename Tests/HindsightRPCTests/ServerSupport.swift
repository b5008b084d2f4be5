import HindsightCore
import HindsightEngine
import HindsightQuery
import HindsightRPC

extension RPCServer {
    /// A server over a data directory, as `serve` (with its engine) or `query` (without) runs one.
    convenience init(directory: String, engine: Engine?, atLeastWait: Double = QueryService.atLeastWait) {
        self.init(QueryService(directory: directory, engine: engine, atLeastWait: atLeastWait))
    }
}
