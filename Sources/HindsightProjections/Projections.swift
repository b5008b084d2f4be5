public import HindsightCatalog
public import HindsightLog
public import HindsightPrivacy
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Keeps every read model caught up with the log: at start from each model's checkpoint,
/// then after appends (`catchUp`), applying events in seq order in transactions that also
/// move the checkpoint.
public final class Projections: @unchecked Sendable {
    /// The read models, in the order they are caught up. Adding one is one line here.
    public static func models() -> [any ReadModel] {
        [AuditReadModel()]
    }

    public let models: [any ReadModel]
    private let directory: String
    private let catalog: Catalog
    private let vault: PersonalDataVault
    private var databases: [String: SQLiteDatabase] = [:]
    /// Models being rebuilt beside the ones in use.
    private var rebuilding: Set<String> = []
    private let lock = NSLock()
    /// Events per transaction while catching up, and while building from the log.
    static let batch = 10_000
    static let buildBatch = 200_000

    public init(directory: String, catalog: Catalog, vault: PersonalDataVault, models: [any ReadModel] = Projections.models()) throws(LogError) {
        self.directory = directory
        self.catalog = catalog
        self.vault = vault
        self.models = models
        try FileIO.makeDirectory(directory + "/projections")
        for model in models {
            // What an interrupted build left, unless another process is building right now.
            if let lock = try BuildLock(path(of: model), wait: false) {
                Self.remove(path(of: model) + ".building")
                lock.release()
            }
            if let db = try openIfCurrent(model) { databases[model.name] = db }
        }
    }

    private func path(of model: any ReadModel) -> String { directory + "/projections/\(model.name).sqlite" }

    /// The model's database, if it exists and its tables are of the model's version.
    private func openIfCurrent(_ model: any ReadModel) throws(LogError) -> SQLiteDatabase? {
        guard FileIO.exists(path(of: model)) else { return nil }
        let db = try SQLiteDatabase(path: path(of: model))
        return try checkpoint(in: db)?.version == model.version ? db : nil
    }

    private static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// Builds a read model from the whole log into a file beside its database, without a
    /// journal and with its indexes made after the load, then puts the file in place. Until
    /// then the old database (if any) stays as it was; a build interrupted by a crash leaves a
    /// `.building` file that the next start removes.
    private func build(_ model: any ReadModel, from reader: LogReader) throws(LogError) -> SQLiteDatabase {
        let buildLock = try BuildLock(path(of: model), wait: true)!
        defer { buildLock.release() }
        // Another process may have built it while this one waited.
        if let db = try openIfCurrent(model) { return db }
        let building = try buildBeside(model, from: reader)
        return try swapIn(model, building, catchingUpTo: reader)
    }

    /// The model built from the log up to `reader`'s end in `NAME.sqlite.building`, closed.
    private func buildBeside(_ model: any ReadModel, from reader: LogReader) throws(LogError) -> String {
        let building = path(of: model) + ".building"
        Self.remove(building)
        let db = try SQLiteDatabase(path: building, bulkLoad: true)
        try db.execute("CREATE TABLE hindsight_checkpoint (position INTEGER NOT NULL, version INTEGER NOT NULL)")
        try db.statement("INSERT INTO hindsight_checkpoint VALUES (0, ?)").bind(1, Int64(model.version)).run()
        try model.create(in: db)
        try apply(model, to: db, from: 0, reader: reader, batch: Self.buildBatch)
        try model.createIndexes(in: db)
        return building
    }

    /// Catches a built file up to `reader` and puts it in place of the model's database.
    private func swapIn(_ model: any ReadModel, _ building: String, catchingUpTo reader: LogReader) throws(LogError) -> SQLiteDatabase {
        do {
            let db = try SQLiteDatabase(path: building, bulkLoad: true)
            try apply(model, to: db, from: try checkpoint(in: db)?.position ?? 0, reader: reader, batch: Self.buildBatch)
        }
        let path = path(of: model)
        databases[model.name] = nil
        Self.remove(path)  // the old database and its WAL, which must not meet the new file
        guard rename(building, path) == 0 else { throw LogError.system("rename", path: building, errno: errno) }
        try FileIO.fsyncDirectory(directory + "/projections")
        return try SQLiteDatabase(path: path)
    }

    /// Builds a read model again from the log beside the one in use, which goes on answering
    /// (and being caught up) meanwhile, and swaps the new one in once it has caught up; in the
    /// background, the call returns once the rebuild is under way (`modelsBeingRebuilt`).
    /// `reader` gives a reader of the log as it is at each moment.
    public func rebuild(_ name: String, inBackground: Bool = false, reader: @escaping @Sendable () throws(LogError) -> LogReader) throws(LogError) {
        guard let model = models.first(where: { $0.name == name }) else {
            throw LogError(.outOfRange, "there is no read model \(name); there are \(models.map(\.name).joined(separator: ", "))", fieldPath: "/name")
        }
        let started = lock.withLock { rebuilding.insert(name).inserted }
        guard started else { throw LogError(.writerLocked, "read model \(name) is being rebuilt already", fieldPath: "/name") }
        let work = { @Sendable [self] () throws(LogError) in
            defer { lock.withLock { _ = rebuilding.remove(name) } }
            let buildLock = try BuildLock(path(of: model), wait: true)!
            defer { buildLock.release() }
            let building = try buildBeside(model, from: reader())  // without the lock: queries go on
            lock.lock()
            defer { lock.unlock() }
            databases[model.name] = try swapIn(model, building, catchingUpTo: reader())
        }
        if inBackground {
            Thread.detachNewThread {
                do {
                    try work()
                } catch {
                    // The model in use goes on answering; the failure is a diagnostic.
                    FileHandle.standardError.write(Data("hindsight: rebuilding read model \(name) failed: \(error)\n".utf8))
                }
            }
        } else {
            try work()
        }
    }

    /// The models being rebuilt now.
    public var modelsBeingRebuilt: Set<String> { lock.withLock { rebuilding } }

    private func checkpoint(in db: SQLiteDatabase) throws(LogError) -> (position: UInt64, version: Int)? {
        let exists = try db.statement("SELECT count(*) FROM sqlite_master WHERE name = 'hindsight_checkpoint'")
        defer { exists.finish() }
        guard try exists.step(), exists.int(0) == 1 else { return nil }
        let row = try db.statement("SELECT position, version FROM hindsight_checkpoint")
        defer { row.finish() }
        guard try row.step() else { return nil }
        return (UInt64(row.int(0)), Int(row.int(1)))
    }

    /// The database of a read model, for its queries.
    public func database(_ name: String) -> SQLiteDatabase? { lock.withLock { databases[name] } }

    /// The seq each read model has reached.
    public func positions() throws(LogError) -> [String: UInt64] {
        lock.lock()
        defer { lock.unlock() }
        var out: [String: UInt64] = [:]
        for model in models { out[model.name] = try databases[model.name].flatMap { db throws(LogError) in try checkpoint(in: db)?.position } ?? 0 }
        return out
    }

    /// Applies every event `reader` holds beyond each model's checkpoint, building a model
    /// that has no database of its version yet.
    public func catchUp(_ reader: LogReader) throws(LogError) {
        lock.lock()
        defer { lock.unlock() }
        for model in models {
            guard let db = databases[model.name] else {
                databases[model.name] = try build(model, from: reader)
                continue
            }
            try apply(model, to: db, from: try checkpoint(in: db)?.position ?? 0, reader: reader, batch: Self.batch)
        }
    }

    /// Applies the events after `position`, `batch` to a transaction that also moves the
    /// checkpoint.
    private func apply(_ model: any ReadModel, to db: SQLiteDatabase, from position: UInt64, reader: LogReader, batch: Int) throws(LogError) {
        var position = position
        while position < reader.size {
            let upTo = min(reader.size, position + UInt64(batch))
            var query = ReadQuery()
            query.from = position + 1
            query.to = upTo
            query.types = model.types
            let events = try events(reader, query)
            // The checkpoint is read again inside the transaction: another process (a query
            // beside serve) may have applied these events meanwhile.
            position = try db.transaction { () throws(LogError) -> UInt64 in
                let current = try checkpoint(in: db)?.position ?? 0
                guard current == position else { return current }
                for event in events { try model.apply(event, in: db) }
                try db.statement("UPDATE hindsight_checkpoint SET position = ?").bind(1, Int64(upTo)).run()
                return upTo
            }
        }
    }

    private func events(_ reader: LogReader, _ query: ReadQuery) throws(LogError) -> [ProjectedEvent] {
        var events: [ProjectedEvent] = []
        do {
            try reader.read(query) { event in
                events.append(ProjectedEvent(stored: event, catalog: catalog, vault: vault))
                return true
            }
        } catch let error as LogError {
            throw error
        } catch {
            throw LogError(.io, "cannot read the log: \(error)")
        }
        return events
    }
}

/// Held while a read model is built beside its database (`NAME.sqlite.lock`, flock), so that
/// two processes never build the same file and a start never removes a build in progress.
final class BuildLock {
    private let fd: Int32

    /// Takes the lock; without `wait`, nil when another process holds it.
    init?(_ databasePath: String, wait: Bool) throws(LogError) {
        let path = databasePath + ".lock"
        fd = try FileIO.open(path, O_RDWR | O_CREAT)
        if flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw LogError.system("flock", path: path, errno: code)
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
