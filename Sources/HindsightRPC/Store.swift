import Foundation
import HindsightEngine
import HindsightEvidence
import HindsightCatalog
public import HindsightCore
import HindsightLog
import HindsightProjections

/// The data a request may use. Reading never takes the writer's lock, so `hindsight query`
/// can read beside a running `serve`; writing uses `serve`'s engine, or opens the directory as
/// its writer for the one request.
final class Store: @unchecked Sendable {
    let directory: String
    let engine: Engine?
    /// With an engine, the last reader, kept while the log has not grown: opening a reader
    /// reads every chunk header, which a request that reads a little should not pay for.
    private var cached: LogReader?
    /// Without an engine, the log as readers see it, opened for the first request that
    /// needed it (its vault reloads keys when it meets one it does not know).
    private var readingSource: EventSource?
    private var projections: Projections?
    private let lock = NSLock()

    /// Where the key that signs checkpoints and exports lives (read when an export asks).
    let signingKey: String
    /// Where exports may be written.
    let exports: ExportPolicy

    init(directory: String, engine: Engine?, signingKey: String, exports: ExportPolicy) {
        self.directory = directory
        self.engine = engine
        self.signingKey = signingKey
        self.exports = exports
    }

    /// The new directory an export request names, if this process may write it there.
    func exportDestination(_ path: String) throws(RPCError) -> ExportDestination {
        do {
            return try ExportDestination.resolve(path, policy: exports, dataDirectory: directory)
        } catch {
            throw RPCError(error)
        }
    }

    /// A reader of everything acknowledged so far.
    func reader() throws(RPCError) -> LogReader {
        lock.lock()
        defer { lock.unlock() }
        if let engine, let cached, cached.size == engine.size { return cached }
        do {
            let reader = try LogReader(directory: directory)
            if engine != nil { cached = reader }
            return reader
        } catch {
            throw RPCError(error)
        }
    }

    /// The catalogue events are checked against and read through.
    var catalog: Catalog { engine?.catalog ?? .standard }

    /// The log as readers see it: events presented through the vault.
    func source() throws(RPCError) -> EventSource {
        if let engine { return engine.events }
        lock.lock()
        defer { lock.unlock() }
        if let readingSource { return readingSource }
        do {
            let source = try EventSource(directory: directory)
            readingSource = source
            return source
        } catch {
            throw RPCError(error)
        }
    }

    /// The read models, caught up with the log before they answer (or, without `caughtUp`,
    /// as they are: for `projections.status`, whose lag is what the models have still to fold).
    func readModels(caughtUp: Bool = true) throws(RPCError) -> Projections {
        let source = try source()
        let reader = try reader()
        lock.lock()
        defer { lock.unlock() }
        do throws(LogError) {
            let models: Projections
            if let projections {
                models = projections
            } else {
                models = try Projections(source: source)
                projections = models
            }
            if caughtUp { try models.catchUp(reader) }
            return models
        } catch {
            throw RPCError(error)
        }
    }

    /// Builds again the read model whose database at `location` was found damaged; false
    /// when that is not a read model's database, or the build failed too.
    func rebuildDamaged(at location: JSONValue?) -> Bool {
        guard case .string(let path)? = location, let reader = try? reader() else { return false }
        guard let projections = lock.withLock({ projections }) else { return false }
        return (try? projections.rebuildDamaged(at: path, reader: reader)) ?? false
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
