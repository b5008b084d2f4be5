public import HindsightCatalog
public import HindsightLog
public import HindsightPrivacy

/// The engine as a writer sees it: the log, the catalogue its events must fit and the vault
/// of personal data, composed so that every way of appending (the command line, `serve`)
/// validates against the catalogue, seals personal data and carries out erasures before a
/// byte is stored, and every way of reading shows personal data as the vault allows.
public final class Engine: Sendable {
    public let directory: String
    public let catalog: Catalog
    public let log: EventLog
    public let vault: PersonalDataVault

    /// Opens (or creates) a data directory as its one writer.
    public init(directory: String, options: LogOptions = LogOptions(), catalog: Catalog = .standard) throws(LogError) {
        self.directory = directory
        self.catalog = catalog
        log = try EventLog(directory: directory, options: options)
        vault = try PersonalDataVault(dataDirectory: directory)
    }

    /// Validates NDJSON events against the envelope rules and the catalogue.
    public func parse(ndjson: consuming [UInt8]) throws(LogError) -> EnvelopeBatch {
        try EnvelopeParser.parse(ndjson: consume ndjson, catalog: catalog)
    }

    /// Stores a batch validated against this engine's catalogue, all or nothing: personal data
    /// sealed, erasures carried out, then appended; with `every`, in consecutive batches of
    /// that many events, each reported to `stored` once durable (the expectations apply to
    /// the first).
    @discardableResult
    public func append(
        _ batch: consuming EnvelopeBatch, expectedVersions: [String: ExpectedVersion] = [:], every: Int? = nil,
        stored: (AppendResult) -> Void = { _ in }
    ) throws(LogError) -> [AppendResult] {
        var batch = batch
        try vault.admit(&batch, catalog: catalog, directory: directory)
        var results: [AppendResult] = []
        let parts = every.map { batch.split(every: $0) } ?? [batch]
        for (index, part) in parts.enumerated() {
            let result = try log.append(part, expectedVersions: index == 0 ? expectedVersions : [:])
            stored(result)
            results.append(result)
        }
        return results
    }

    /// Erases a person (see `PersonalDataVault.erase`).
    public func erase(_ person: String, actor: String = "hindsight") throws(LogError) -> ErasureReport {
        try vault.erase(person, log: log, directory: directory, catalog: catalog, actor: actor)
    }

    /// A reader of everything acknowledged so far.
    public func reader() throws(LogError) -> LogReader {
        try LogReader(directory: directory)
    }

    /// A stored event as readers see it: personal data revealed (or `[erased]`) and, with
    /// `upcast`, in the newest version of its type.
    public func present(_ event: StoredEvent, upcast: Bool = false) -> StoredEvent {
        let revealed = vault.reveal(event, catalog: catalog)
        return upcast ? revealed.upcast(by: catalog) : revealed
    }
}
