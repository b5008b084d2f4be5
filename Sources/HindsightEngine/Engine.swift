import Foundation
public import HindsightCatalog
public import HindsightCore
public import HindsightLog
public import HindsightLogWriter
public import HindsightReadSide
import HindsightVault

/// The only write path: the log, the catalogue its events must fit and the vault of
/// personal data, composed so that every way of appending (the command line, `serve`)
/// validates against the catalogue, seals personal data and carries out erasures before a
/// byte is stored. Readers get `events`, which cannot write.
public final class Engine: Sendable {
    public let directory: String
    public let catalog: Catalog
    /// The log as readers see it, through this engine's vault.
    public let events: EventSource
    let log: EventLog
    let vault: PersonalDataVault
    /// Held from an erasure's intent to its keys' destruction: one erasure at a time.
    private let erasing = NSLock()

    /// Opens (or creates) a data directory as its one writer.
    public init(directory: String, options: LogOptions = LogOptions(), catalog: Catalog = .standard) throws(LogError) {
        self.directory = directory
        self.catalog = catalog
        log = try EventLog(directory: directory, options: options)
        vault = try PersonalDataVault(dataDirectory: directory)
        events = EventSource(directory: directory, catalog: catalog, vault: vault)
        try finishErasure()
    }

    /// Validates NDJSON events against the envelope rules and the catalogue.
    public func parse(ndjson: consuming [UInt8]) throws(LogError) -> EnvelopeBatch {
        try EnvelopeParser.parse(ndjson: consume ndjson, catalog: catalog)
    }

    /// Stores a batch validated against this engine's catalogue, all or nothing: personal data
    /// sealed, then appended, and the erasures it records carried out before it returns. A
    /// load too large for one batch is stored as consecutive batches, each its own call
    /// (`EnvelopeParser.forEachPiece`).
    @discardableResult
    public func append(_ batch: consuming EnvelopeBatch, expectedVersions: [String: ExpectedVersion] = [:]) throws(LogError)
        -> AppendResult
    {
        try store(batch, expectedVersions: expectedVersions).result
    }

    /// Appends a batch and carries out its erasures: an intent naming the keys its
    /// `person.erased` events doom is made durable first, the batch appended, then the keys
    /// destroyed and the intent forgotten. A writer stopped anywhere in between finishes the
    /// erasure when it next opens the log (`finishErasure`), so an erasure is never carried
    /// out without its record, nor recorded without being carried out.
    private func store(_ batch: consuming EnvelopeBatch, expectedVersions: [String: ExpectedVersion]) throws(LogError) -> (
        result: AppendResult, keysDestroyed: Int
    ) {
        var batch = batch
        try vault.seal(&batch, catalog: catalog)
        let doomed = try keysErased(by: batch)
        guard !doomed.isEmpty else {
            let result = try log.append(batch, expectedVersions: expectedVersions)
            // This append may have acknowledged the record of an erasure left unfinished
            // (durable, but not acknowledged when it was appended): carry it out now.
            if vault.hasUnfinishedErasure {
                erasing.lock()
                defer { erasing.unlock() }
                try finishErasure()
            }
            return (result, 0)
        }

        erasing.lock()
        defer { erasing.unlock() }
        try finishErasure()
        // One intent at a time: an erasure whose record may still be acknowledged must be
        // carried out before another is recorded.
        guard !vault.hasUnfinishedErasure else {
            throw LogError(
                .io,
                "an earlier erasure is not finished: its person.erased events are durable but not yet acknowledged; this erasure can be recorded once the writer acknowledges them (it retries on every append) or the log is opened again"
            )
        }
        let intent = ErasureIntent(after: log.size, keys: doomed)
        try vault.begin(intent)
        let result: AppendResult
        do throws(LogError) {
            result = try log.append(batch, expectedVersions: expectedVersions)
        } catch {
            // A batch durable but not acknowledged leaves the intent for when it is.
            try? finishErasure()
            throw error
        }
        do throws(LogError) {
            return (result, try vault.finish(intent, recorded: peopleErased(after: intent), settled: true))
        } catch {
            throw LogError(
                error.code,
                "person.erased is recorded at seq \(result.firstSeq)…\(result.lastSeq), but destroying the keys failed (\(error.message)); the erasure is finished when the writer next appends an erasure or opens the log",
                location: error.location)
        }
    }

    /// Finishes an erasure a writer left unfinished, as far as the log records it.
    private func finishErasure() throws(LogError) {
        guard let intent = try vault.unfinishedErasure() else { return }
        try vault.finish(intent, recorded: peopleErased(after: intent), settled: log.isSettled)
    }

    /// Erases a person: records `person.erased` in each org that held their data and destroys
    /// their keys (see `PersonalDataVault.erasure`).
    public func erase(_ person: String, actor: String = "hindsight") throws(LogError) -> ErasureReport {
        let request = try erasure(of: person, actor: actor)
        guard let batch = request.batch else {
            return ErasureReport(person: request.person, keysDestroyed: 0, fieldsErased: request.fieldsErased, recorded: [])
        }
        let (result, destroyed) = try store(batch, expectedVersions: [:])
        return ErasureReport(
            person: request.person, keysDestroyed: destroyed, fieldsErased: request.fieldsErased,
            recorded: Array(result.firstSeq...result.lastSeq))
    }

    /// A reader of everything acknowledged so far.
    public func reader() throws(LogError) -> LogReader {
        try events.reader()
    }

    /// The last seq acknowledged.
    public var size: UInt64 { log.size }

    /// Recompresses the sealed segments (see `EventLog.compact`).
    public func compact(level: Int32 = LZ4Frame.compactionLevel, progress: ProgressReport? = nil) throws(LogError) -> CompactionReport {
        try log.compact(level: level, progress: progress)
    }
}
