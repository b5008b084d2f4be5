public import HindsightEngine
import HindsightLog
import HindsightPrivacy

/// The data a request may use. Reading never takes the writer's lock, so `hindsight query`
/// can read beside a running `serve`; writing uses `serve`'s engine, or opens the directory as
/// its writer for the one request.
final class Store: Sendable {
    let directory: String
    let engine: Engine?

    init(directory: String, engine: Engine?) {
        self.directory = directory
        self.engine = engine
    }

    /// A reader of everything acknowledged so far.
    func reader() throws(RPCError) -> LogReader {
        do {
            return try LogReader(directory: directory)
        } catch {
            throw RPCError(error)
        }
    }

    /// The vault that shows personal data to readers.
    func vault() throws(RPCError) -> PersonalDataVault {
        if let engine { return engine.vault }
        do {
            return try PersonalDataVault(dataDirectory: directory)
        } catch {
            throw RPCError(error)
        }
    }

    func writer() throws(RPCError) -> Engine {
        if let engine { return engine }
        do {
            return try Engine(directory: directory)
        } catch {
            throw RPCError(error)
        }
    }
}
