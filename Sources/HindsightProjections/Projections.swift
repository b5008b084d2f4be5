public import HindsightCatalog
public import HindsightLog
public import HindsightPrivacy
import Foundation

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
    private let lock = NSLock()
    /// Events per transaction while catching up.
    static let batch = 10_000

    public init(directory: String, catalog: Catalog, vault: PersonalDataVault, models: [any ReadModel] = Projections.models()) throws(LogError) {
        self.directory = directory
        self.catalog = catalog
        self.vault = vault
        self.models = models
        try FileIO.makeDirectory(directory + "/projections")
        for model in models { databases[model.name] = try open(model) }
    }

    private func open(_ model: any ReadModel) throws(LogError) -> SQLiteDatabase {
        let path = directory + "/projections/\(model.name).sqlite"
        var db = try SQLiteDatabase(path: path)
        if try checkpoint(in: db)?.version != model.version {
            // New, or its tables changed: start again from the log.
            db = try recreate(path)
            let created = db
            try db.transaction { () throws(LogError) in
                try created.execute("CREATE TABLE hindsight_checkpoint (position INTEGER NOT NULL, version INTEGER NOT NULL)")
                try created.statement("INSERT INTO hindsight_checkpoint VALUES (0, ?)").bind(1, Int64(model.version)).run()
                try model.create(in: created)
            }
        }
        return db
    }

    private func recreate(_ path: String) throws(LogError) -> SQLiteDatabase {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        return try SQLiteDatabase(path: path)
    }

    private func checkpoint(in db: SQLiteDatabase) throws(LogError) -> (position: UInt64, version: Int)? {
        let exists = try db.statement("SELECT count(*) FROM sqlite_master WHERE name = 'hindsight_checkpoint'")
        guard try exists.step(), exists.int(0) == 1 else { return nil }
        let row = try db.statement("SELECT position, version FROM hindsight_checkpoint")
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
        for model in models { out[model.name] = try checkpoint(in: databases[model.name]!)?.position ?? 0 }
        return out
    }

    /// Applies every event `reader` holds beyond each model's checkpoint.
    public func catchUp(_ reader: LogReader) throws(LogError) {
        lock.lock()
        defer { lock.unlock() }
        for model in models {
            let db = databases[model.name]!
            var position = try checkpoint(in: db)?.position ?? 0
            while position < reader.size {
                let upTo = min(reader.size, position + UInt64(Self.batch))
                var query = ReadQuery()
                query.from = position + 1
                query.to = upTo
                query.types = model.types
                let events = try events(reader, query)
                try db.transaction { () throws(LogError) in
                    for event in events { try model.apply(event, in: db) }
                    try db.statement("UPDATE hindsight_checkpoint SET position = ?").bind(1, Int64(upTo)).run()
                }
                position = upTo
            }
        }
    }

    private func events(_ reader: LogReader, _ query: ReadQuery) throws(LogError) -> [ProjectedEvent] {
        var events: [ProjectedEvent] = []
        do {
            try reader.read(query) { event in
                events.append(ProjectedEvent(event: vault.reveal(event, catalog: catalog).upcast(by: catalog), stored: event))
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
