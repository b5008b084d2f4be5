import Dispatch
import Foundation
public import HindsightCore
import HindsightFiles
public import HindsightLog
public import HindsightReadSide

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps every read model caught up with the log: at start from each model's checkpoint,
/// then after appends (`catchUp`), applying events in seq order in transactions that also
/// move the checkpoint.
public final class Projections: @unchecked Sendable {
    /// The read models, in the order they are caught up. Adding one is one line here.
    public static func models() -> [any ReadModel] {
        [
            AuditReadModel(), AccessReadModel(), BuildsReadModel(), FunctionsReadModel(), MetricsReadModel(), WebhooksReadModel(),
            AlertsReadModel(), TokensReadModel(), DatabasesReadModel(), SettingsReadModel(), TeamsReadModel(),
        ]
    }

    public let models: [any ReadModel]
    /// Hears how far a build, rebuild or catch-up has read the log (events of the whole to read);
    /// set before the operation.
    public var progress: ProgressReport?
    private let directory: String
    private let source: EventSource
    private var databases: [String: SQLiteDatabase] = [:]
    /// The generation of each model's database in use (see `ModelFiles`).
    private var generations: [String: Int] = [:]
    private let snapshots: SnapshotStore
    /// Models being rebuilt beside the ones in use.
    private var rebuilding: Set<String> = []
    private let lock = NSLock()
    /// Events per transaction while catching up (while building from the log: the model's
    /// `buildBatch`).
    static let batch = 10_000
    /// Events in the first batch of a long apply, after which batches grow.
    static let firstBatch = 5_000
    /// Batches read (and prepared) ahead of the one applied: two keep both cores busy while
    /// the one being read waits for a core.
    static let readAhead = 2

    public init(source: EventSource, models: [any ReadModel] = Projections.models()) throws(LogError) {
        directory = source.directory
        self.source = source
        self.models = models
        snapshots = SnapshotStore(dataDirectory: directory)
        try FileIO.makeDirectory(directory + "/projections")
        for model in models {
            // What an interrupted build left, unless another process is building right now.
            if let lock = try BuildLock(path(of: model), wait: false) {
                Self.remove(path(of: model) + ".building")
                files(of: model).retireUnused()
                lock.release()
            }
            adopt(model, try openIfCurrent(model))
        }
    }

    private func path(of model: any ReadModel) -> String { directory + "/projections/\(model.name).sqlite" }
    private func files(of model: any ReadModel) -> ModelFiles { ModelFiles(directory: directory + "/projections", name: model.name) }

    /// The model's database in use, if it has one whose tables are of the model's version
    /// and whose checkpoint can be read.
    private func openIfCurrent(_ model: any ReadModel) throws(LogError) -> (database: SQLiteDatabase, generation: Int)? {
        do {
            guard let opened = try files(of: model).open() else { return nil }
            return try checkpoint(in: opened.database)?.version == model.version ? opened : nil
        } catch {
            if error.code == .readModelDamaged { return nil }
            throw error
        }
    }

    /// Makes a model's database (or none) the one this process uses.
    private func adopt(_ model: any ReadModel, _ opened: (database: SQLiteDatabase, generation: Int)?) {
        databases[model.name] = opened?.database
        generations[model.name] = opened?.generation
    }

    /// Removes a scratch database file and its journal files (files only: never a folder that
    /// happens to bear the name). Call holding the lock that makes the file this process's.
    private static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }

    /// Builds read models from the log into files beside their databases, each starting from
    /// its newest snapshot that stands for this log (else from seq 1), without a journal and
    /// with its indexes made after the load, then puts each file in place as a new
    /// generation. Models that start from seq 1 are built together, in one pass over the log
    /// (`buildTogether`). Until then the old databases (if any) stay as they were; a build
    /// interrupted by a crash leaves `.building` files that the next start removes. `damaged`
    /// names generations found damaged, which are never taken for built models. Returns the
    /// models' databases, in their order.
    private func build(_ models: [any ReadModel], from reader: LogReader, replacing damaged: [String: Int] = [:]) throws(LogError) -> [(
        database: SQLiteDatabase, generation: Int
    )] {
        // Build locks are taken in the models' order, as every process takes them, so that two
        // builds never wait for each other.
        var locks: [BuildLock] = []
        defer { for lock in locks { lock.release() } }
        var opened: [String: (database: SQLiteDatabase, generation: Int)] = [:]
        var fromTheStart: [any ReadModel] = []
        for model in models {
            locks.append(try BuildLock(path(of: model), wait: true)!)
            // Another process may have built it while this one waited.
            if let current = try openIfCurrent(model), current.generation != damaged[model.name] {
                opened[model.name] = current
            } else if let start = startingSnapshot(model, reader) {
                opened[model.name] = try swapIn(model, try buildBeside(model, from: reader, start: start), catchingUpTo: reader)
            } else {
                fromTheStart.append(model)
            }
        }
        let built: [String]
        switch fromTheStart.count {
        case 0: built = []
        case 1: built = [try buildBeside(fromTheStart[0], from: reader, start: nil)]
        default: built = try buildTogether(fromTheStart, from: reader)
        }
        for (model, building) in zip(fromTheStart, built) {
            opened[model.name] = try swapIn(model, building, catchingUpTo: reader)
        }
        return models.map { opened[$0.name]! }
    }

    /// The snapshot a build of the model starts from, if any.
    private func startingSnapshot(_ model: any ReadModel, _ reader: LogReader) -> SnapshotManifest? {
        snapshots.newest(for: model, atOrBelow: reader.size, reader: reader)
    }

    /// The model built up to `reader`'s end in `NAME.sqlite.building`, closed: from a copy of
    /// `start`, or from seq 1 into new tables.
    private func buildBeside(_ model: any ReadModel, from reader: LogReader, start: SnapshotManifest?) throws(LogError) -> String {
        let building = path(of: model) + ".building"
        Self.remove(building)
        if let start {
            do {
                try FileManager.default.copyItem(atPath: snapshots.path(of: start), toPath: building)
            } catch {
                throw LogError(.io, "cannot copy the snapshot of \(model.name) at seq \(start.position): \(error)", location: building)
            }
            let db = try SQLiteDatabase(path: building, bulkLoad: true)
            try apply(model, to: db, from: start.position, through: reader.size, reader: reader, batch: model.buildBatch)
            return building
        }
        let db = try SQLiteDatabase(path: building, bulkLoad: true)
        try Self.createTables(of: model, in: db)
        try apply(model, to: db, from: 0, through: reader.size, reader: reader, batch: model.buildBatch)
        try model.createIndexes(in: db)
        return building
    }

    /// Several models built from seq 1 in one pass over the log, each into
    /// `NAME.sqlite.building` as `buildBeside` builds it: every chunk is decompressed and every
    /// line parsed once for all of them. As for one model, the next batches are read and
    /// prepared (each model's share beside the others') on other threads while this one is
    /// applied, the models applying theirs side by side. Returns the files, in the models'
    /// order.
    private func buildTogether(_ models: [any ReadModel], from reader: LogReader) throws(LogError) -> [String] {
        var opened: [SharedFold] = []
        for model in models {
            let building = path(of: model) + ".building"
            Self.remove(building)
            let db = try SQLiteDatabase(path: building, bulkLoad: true)
            try Self.createTables(of: model, in: db)
            opened.append(SharedFold(model: model, database: db, path: building))
        }
        let folds = opened
        var types: Set<String>? = []
        for model in models { types = model.types.flatMap { types?.union($0) } }
        let prepareEach: @Sendable ([ProjectedEvent]) -> [any Sendable] = { events in
            // The batch's events by type, found in one pass, so that a model of a few types
            // costs its own events rather than a pass over all of them.
            let byType = events.indices.reduce(into: [String: [Int]]()) { $0[events[$1].stored.type, default: []].append($1) }
            var prepared = [(any Sendable)?](repeating: nil, count: folds.count)
            prepared.withUnsafeMutableBufferPointer { out in
                let shared = UnsafeSendable(out)
                DispatchQueue.concurrentPerform(iterations: folds.count) { index in
                    let share = folds[index].model.types.map { types in
                        types.flatMap { byType[$0] ?? [] }.sorted().map { events[$0] }
                    }
                    shared.value[index] = folds[index].prepare(share ?? events)
                }
            }
            return prepared.map { $0! }
        }
        try forEachBatch(
            types: types, from: 0, through: reader.size, reader: reader, batch: models.map(\.buildBatch).min()!, prepare: prepareEach
        ) { (prepared, _, through) throws(LogError) in
            var failures = [LogError?](repeating: nil, count: folds.count)
            failures.withUnsafeMutableBufferPointer { out in
                let shared = UnsafeSendable(out)
                DispatchQueue.concurrentPerform(iterations: folds.count) { index in
                    do throws(LogError) {
                        try folds[index].apply(prepared[index], through: through)
                    } catch {
                        shared.value[index] = error
                    }
                }
            }
            if let failure = failures.compactMap({ $0 }).first { throw failure }
            return through
        }
        for fold in folds { try fold.model.createIndexes(in: fold.database) }
        return folds.map(\.path)
    }

    /// A new database's tables: the model's (first, so that it can set up the empty file, such
    /// as its page size), then the checkpoint at seq 0.
    private static func createTables(of model: any ReadModel, in db: SQLiteDatabase) throws(LogError) {
        try model.create(in: db)
        try db.execute("CREATE TABLE hindsight_checkpoint (position INTEGER NOT NULL, version INTEGER NOT NULL)")
        try db.statement("INSERT INTO hindsight_checkpoint VALUES (0, ?)").bind(1, Int64(model.version)).run()
    }

    /// Catches a built file up to `reader` and puts it in place as the model's next
    /// generation; processes reading the old one go on reading it whole (`ModelFiles`). Call
    /// holding the model's `BuildLock`.
    private func swapIn(_ model: any ReadModel, _ building: String, catchingUpTo reader: LogReader) throws(LogError) -> (
        database: SQLiteDatabase, generation: Int
    ) {
        do {
            let db = try SQLiteDatabase(path: building, bulkLoad: true)
            try apply(
                model, to: db, from: try checkpoint(in: db)?.position ?? 0, through: reader.size, reader: reader, batch: model.buildBatch)
        }
        return try files(of: model).publish(building)
    }

    /// Builds a read model again from the log beside the one in use, which goes on answering
    /// (and being caught up) meanwhile, and swaps the new one in once it has caught up; in the
    /// background, the call returns once the rebuild is under way (`modelsBeingRebuilt`).
    /// `reader` gives a reader of the log as it is at each moment. Returns the position the
    /// rebuild starts from: that of the newest snapshot standing for the log, or 0.
    @discardableResult
    public func rebuild(_ name: String, inBackground: Bool = false, reader: @escaping @Sendable () throws(LogError) -> LogReader)
        throws(LogError) -> UInt64
    {
        guard let model = models.first(where: { $0.name == name }) else {
            throw LogError(
                .outOfRange, "there is no read model \(name); there are \(models.map(\.name).joined(separator: ", "))", fieldPath: "/name")
        }
        let started = lock.withLock { rebuilding.insert(name).inserted }
        guard started else { throw LogError(.writerLocked, "read model \(name) is being rebuilt already", fieldPath: "/name") }
        let start: SnapshotManifest?
        do throws(LogError) {
            start = startingSnapshot(model, try reader())
        } catch {
            lock.withLock { _ = rebuilding.remove(name) }
            throw error
        }
        let work = { @Sendable [self] () throws(LogError) in
            defer { lock.withLock { _ = rebuilding.remove(name) } }
            // Built and put in place under the build lock alone, so that queries go on; the
            // engine's lock is taken only once the build lock is let go (a query that found
            // the model damaged holds the engine's lock while it waits for the build lock).
            let opened: (database: SQLiteDatabase, generation: Int)
            do {
                let buildLock = try BuildLock(path(of: model), wait: true)!
                defer { buildLock.release() }
                let building = try buildBeside(model, from: reader(), start: start)
                opened = try swapIn(model, building, catchingUpTo: reader())
            }
            lock.withLock { adopt(model, opened) }
            // The old generation can go now that this process let go of it.
            if let buildLock = try BuildLock(path(of: model), wait: false) {
                files(of: model).retireUnused()
                buildLock.release()
            }
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
        return start?.position ?? 0
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
        for model in models {
            out[model.name] = try databases[model.name].flatMap { db throws(LogError) in try checkpoint(in: db)?.position } ?? 0
        }
        return out
    }

    /// Applies every event `reader` holds beyond each model's checkpoint (of the models named
    /// `only`, when given: a question catches up the models it reads), building the models
    /// that have no database of their version yet (together), or whose database is damaged.
    public func catchUp(_ reader: LogReader, only names: [String]? = nil) throws(LogError) {
        lock.lock()
        defer { lock.unlock() }
        let chosen = models.filter { names?.contains($0.name) ?? true }
        for model in chosen {
            // Another process may have put a new generation in place (`hindsight rebuild`, or a
            // query that found the model damaged): answer from it.
            if let current = files(of: model).current(), current != generations[model.name], let opened = try openIfCurrent(model) {
                adopt(model, opened)
            }
        }
        let unbuilt = chosen.filter { databases[$0.name] == nil }
        if !unbuilt.isEmpty {
            for (model, opened) in zip(unbuilt, try build(unbuilt, from: reader)) { adopt(model, opened) }
        }
        for model in chosen {
            guard let db = databases[model.name] else { continue }
            do {
                try apply(
                    model, to: db, from: try checkpoint(in: db)?.position ?? 0, through: reader.size, reader: reader, batch: Self.batch)
            } catch {
                guard error.code == .readModelDamaged else { throw error }
                try replaceDamaged(model, reader: reader)
            }
        }
    }

    /// Builds a read model again whose database was found damaged (a query failed with
    /// `readModelDamaged` at `location`, the database's path); false when no model in use
    /// has that database.
    public func rebuildDamaged(at location: String?, reader: LogReader) throws(LogError) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let model = models.first(where: { databases[$0.name]?.path == location }) else { return false }
        try replaceDamaged(model, reader: reader)
        return true
    }

    /// Call holding `lock`.
    private func replaceDamaged(_ model: any ReadModel, reader: LogReader) throws(LogError) {
        let damaged = generations[model.name]
        adopt(model, nil)
        adopt(model, try build([model], from: reader, replacing: damaged.map { [model.name: $0] } ?? [:])[0])
        if let buildLock = try BuildLock(path(of: model), wait: false) {
            files(of: model).retireUnused()
            buildLock.release()
        }
    }

    /// Applies the events after `position` up to `end`, at most `batch` to a transaction that
    /// also moves the checkpoint. The next batches are read from the log (and prepared) on
    /// other threads while this one is applied, and an applied batch is freed there too. The
    /// first batches are small, so that applying starts soon, and grow fourfold up to `batch`.
    private func apply<Model: ReadModel>(
        _ model: Model, to db: SQLiteDatabase, from position: UInt64, through end: UInt64, reader: LogReader, batch: Int
    ) throws(LogError) {
        try forEachBatch(types: model.types, from: position, through: end, reader: reader, batch: batch, prepare: model.prepare) {
            (prepared, after, through) throws(LogError) in
            // The checkpoint is read again inside the transaction: another process (a query
            // beside serve) may have applied these events meanwhile.
            try db.transaction { () throws(LogError) -> UInt64 in
                let checkpoint = try checkpoint(in: db)?.position ?? 0
                guard checkpoint == after else { return checkpoint }
                try model.apply(prepared, in: db)
                try db.statement("UPDATE hindsight_checkpoint SET position = ?").bind(1, Int64(through)).run()
                return through
            }
        }
    }

    /// Reads the events of `types` after `position` up to `end` in batches of at most `batch`,
    /// prepares each, and hands it to `body` with the range it covers (after, through], in
    /// order; `body` returns the position it reached, and when that is not the batch's end
    /// (another process went further) reading goes on from there. The next batches are read
    /// and prepared on other threads while `body` works, and a batch is freed there too. The
    /// first batches are small, so that work starts soon, and grow fourfold up to `batch`.
    private func forEachBatch<Batch: Sendable>(
        types: Set<String>?, from position: UInt64, through end: UInt64, reader: LogReader, batch: Int,
        prepare: @escaping @Sendable ([ProjectedEvent]) -> Batch,
        _ body: (Batch, _ after: UInt64, _ through: UInt64) throws(LogError) -> UInt64
    ) throws(LogError) {
        let read = { [self] (after: UInt64, size: Int) in
            BatchRead<Batch>(after: after, through: min(end, after + UInt64(size))) { () throws(LogError) in
                var query = ReadQuery()
                query.from = after + 1
                query.to = min(end, after + UInt64(size))
                query.types = types
                return prepare(try self.events(reader, query))
            }
        }
        // Batches being read, in order, from `next` on.
        var size = min(batch, Self.firstBatch)
        var pending: [BatchRead<Batch>] = []
        var next = position
        func readAhead() {
            while pending.count < Self.readAhead, next < end {
                pending.append(read(next, size))
                next = pending[pending.count - 1].through
                size = min(batch, size * 4)
            }
        }
        readAhead()
        while !pending.isEmpty {
            let current = pending.removeFirst()
            try current.wait()
            readAhead()
            let reached = try current.apply { prepared throws(LogError) in try body(prepared, current.after, current.through) }
            current.release()
            progress?(reached - min(position, reached), end - position)
            if reached != current.through {
                // Read on from where the other process left the model.
                for ahead in pending { try? ahead.wait() }
                pending = []
                next = reached
                readAhead()
            }
        }
    }

    // MARK: - As of a past moment

    /// A read model as it would stand had it folded only the events `query` selects (up to a
    /// seq, or that occurred by a time; within a window of `occurredAt`): folded from the log
    /// into a database in memory, for a question asked as of a past moment whose answer the
    /// model's own tables cannot give (figures kept per hour or week add up every event
    /// applied, whenever it occurred). It reads the model's events that the query selects,
    /// so its cost grows with that range, not with the log beyond it. `model` is a fresh
    /// instance of the model's type; `start` puts in its tables, before the events are folded,
    /// what the events before the range would have (when the range starts after seq 1).
    public func fold<Model: ReadModel>(
        _ model: Model, matching query: ReadQuery, reader: LogReader, start: (SQLiteDatabase) throws(LogError) -> Void = { _ in }
    ) throws(LogError) -> SQLiteDatabase {
        let db = try SQLiteDatabase(path: ":memory:", bulkLoad: true)
        try model.create(in: db)
        try model.createIndexes(in: db)
        try start(db)
        var query = query
        query.types = model.types.map { query.types?.intersection($0) ?? $0 } ?? query.types
        var batch: [ProjectedEvent] = []
        func flush() throws(LogError) {
            guard !batch.isEmpty else { return }
            let prepared = model.prepare(batch)
            try db.transaction { () throws(LogError) in try model.apply(prepared, in: db) }
            batch.removeAll(keepingCapacity: true)
        }
        try reader.read(query) { (event: StoredEvent) throws(LogError) in
            batch.append(ProjectedEvent(stored: event, source: source))
            if batch.count == Self.batch { try flush() }
            return true
        }
        try flush()
        return db
    }

    // MARK: - Snapshots and verification

    /// Saves a snapshot of each named read model (all without names) at the position it has
    /// reached, which must be within `reader`'s log (catch up first).
    public func snapshot(_ names: [String]? = nil, reader: LogReader) throws(LogError) -> [SnapshotManifest] {
        let chosen = try select(names)
        lock.lock()
        defer { lock.unlock() }
        var taken: [SnapshotManifest] = []
        for model in chosen {
            guard let db = databases[model.name], let position = try checkpoint(in: db)?.position else {
                throw LogError(.outOfRange, "read model \(model.name) has not been built yet", fieldPath: "/name")
            }
            taken.append(try snapshots.take(model, db, position: position, root: try reader.root(atSize: position)))
        }
        return taken
    }

    /// Writes a read model's canonical content dump (see `ContentDump`).
    public func dump(_ name: String, to line: (String) -> Void) throws(LogError) {
        let model = try select([name])[0]
        lock.lock()
        defer { lock.unlock() }
        guard let db = databases[model.name] else {
            throw LogError(.outOfRange, "read model \(name) has not been built yet", fieldPath: "/name")
        }
        try db.execute("BEGIN")
        defer { try? db.execute("COMMIT") }
        try ContentDump.write(db, to: line)
    }

    /// One finding of `verify`: whether a snapshot or a read model in use holds exactly what
    /// a fresh fold of the log up to its position gives.
    public struct Check: Sendable, Codable {
        public let readModel: String
        /// `snapshot` or `read model`.
        public let kind: String
        public let position: UInt64
        public let ok: Bool
        public let problem: String?
    }

    /// Folds the log again from seq 1, for each read model into a scratch database, and
    /// compares the content digest at the position of each snapshot and of the model in use
    /// with theirs; also checks that each snapshot's file is intact and its tree head is the
    /// log's. One pass per model, however many positions it checks.
    public func verify(reader: LogReader) throws(LogError) -> [Check] {
        var checks: [Check] = []
        for model in models {
            var targets: [(position: UInt64, digest: String, kind: String)] = []
            for manifest in snapshots.manifests(of: model.name) where manifest.version == model.version {
                if let problem = snapshots.problem(with: manifest, reader: reader) {
                    checks.append(Check(readModel: model.name, kind: "snapshot", position: manifest.position, ok: false, problem: problem))
                } else {
                    targets.append((manifest.position, manifest.contentDigest, "snapshot"))
                }
            }
            if let live = try liveDigest(model) {
                if live.position > reader.size {
                    checks.append(
                        Check(
                            readModel: model.name, kind: "read model", position: live.position, ok: false,
                            problem: "it is at seq \(live.position), beyond the log's \(reader.size) events"))
                } else {
                    targets.append((live.position, live.digest, "read model"))
                }
            }
            guard !targets.isEmpty else { continue }
            // One verification of a model at a time uses the scratch file.
            let path = directory + "/projections/\(model.name).verifying"
            let verifying = try BuildLock(path, wait: true)!
            defer { verifying.release() }
            Self.remove(path)
            defer { Self.remove(path) }
            let fold = try SQLiteDatabase(path: path, bulkLoad: true)
            try Self.createTables(of: model, in: fold)
            var position: UInt64 = 0
            for target in targets.sorted(by: { $0.position < $1.position }) {
                try apply(model, to: fold, from: position, through: target.position, reader: reader, batch: model.buildBatch)
                position = target.position
                let same = try ContentDump.digest(fold) == target.digest
                checks.append(
                    Check(
                        readModel: model.name, kind: target.kind, position: target.position, ok: same,
                        problem: same ? nil : "its content differs from a fresh fold of the log up to seq \(target.position)"))
            }
        }
        return checks
    }

    /// The position and content digest of a read model in use, read in one transaction.
    private func liveDigest(_ model: any ReadModel) throws(LogError) -> (position: UInt64, digest: String)? {
        lock.lock()
        defer { lock.unlock() }
        guard let db = databases[model.name] else { return nil }
        try db.execute("BEGIN")
        defer { try? db.execute("COMMIT") }
        guard let position = try checkpoint(in: db)?.position else { return nil }
        return (position, try ContentDump.digest(db))
    }

    private func select(_ names: [String]?) throws(LogError) -> [any ReadModel] {
        guard let names else { return models }
        var chosen: [any ReadModel] = []
        for name in names {
            guard let model = models.first(where: { $0.name == name }) else {
                throw LogError(
                    .outOfRange, "there is no read model \(name); there are \(models.map(\.name).joined(separator: ", "))",
                    fieldPath: "/name")
            }
            chosen.append(model)
        }
        return chosen
    }

    private func events(_ reader: LogReader, _ query: ReadQuery) throws(LogError) -> [ProjectedEvent] {
        var events: [ProjectedEvent] = []
        // Room for every event of the range at once: growing a batch's array copied it again and again.
        events.reserveCapacity(Int(min(query.to, reader.size) - min(query.from - 1, reader.size)))
        try reader.read(query) { (event: StoredEvent) throws(LogError) in
            events.append(ProjectedEvent(stored: event, source: source))
            return true
        }
        return events
    }
}

/// A model built in one pass with others (`Projections.buildTogether`): its database, and
/// how it prepares and applies its share of a batch of events (its `Batch`, behind `any`).
private struct SharedFold: @unchecked Sendable {
    let model: any ReadModel
    let database: SQLiteDatabase
    /// The file being built.
    let path: String

    /// The model's `prepare` of its share of a batch: the events of its types, in seq order.
    func prepare(_ share: [ProjectedEvent]) -> any Sendable { Self.prepare(model, share) }

    /// Applies what `prepare` gave for the log's events up to `through`, in one transaction
    /// that also moves the checkpoint there. Called on one thread at a time.
    func apply(_ prepared: any Sendable, through: UInt64) throws(LogError) {
        try Self.apply(model, prepared, through: through, into: database)
    }

    private static func prepare<Model: ReadModel>(_ model: Model, _ share: [ProjectedEvent]) -> any Sendable {
        model.prepare(share)
    }

    private static func apply<Model: ReadModel>(_ model: Model, _ prepared: any Sendable, through: UInt64, into db: SQLiteDatabase)
        throws(LogError)
    {
        try db.transaction { () throws(LogError) in
            // What `prepare` gave for this model: its own `Batch`.
            try model.apply(prepared as! Model.Batch, in: db)
            try db.statement("UPDATE hindsight_checkpoint SET position = ?").bind(1, Int64(through)).run()
        }
    }
}

/// One batch, read and prepared on another thread, which also frees it once applied.
private final class BatchRead<Batch: Sendable>: @unchecked Sendable {
    /// The batch is the events after `after` up to `through`.
    let after: UInt64
    let through: UInt64
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<Batch, LogError>?

    init(after: UInt64, through: UInt64, _ read: @escaping @Sendable () throws(LogError) -> Batch) {
        self.after = after
        self.through = through
        DispatchQueue.global().async { [self] in
            result = Result { () throws(LogError) in try read() }
            done.signal()
        }
    }

    /// Waits until the batch is read; throws what reading it threw.
    func wait() throws(LogError) {
        done.wait()
        done.signal()  // later calls return at once
        _ = try result!.get()
    }

    /// Hands the batch (read: see `wait`) to `body`, which must not keep it.
    func apply<T>(_ body: (Batch) throws(LogError) -> T) throws(LogError) -> T {
        try body(try result!.get())
    }

    /// Frees the batch on another thread: for a batch of many events that takes as long as
    /// applying a good part of it.
    func release() {
        DispatchQueue.global().async { [self] in result = nil }
    }
}

/// An exclusive lock on `PATH.lock` (flock), held while a process works on scratch files
/// that another must neither use nor remove: a read model built beside its database
/// (`NAME.sqlite.lock`: two processes never build the same file, and a start never removes a
/// build in progress), a verification's fold, a snapshot being taken.
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
