public import HindsightCore

/// A read model: what it folds from the log and how, into tables of its own.
///
/// Each read model keeps a SQLite database (`DIR/projections/NAME.sqlite`) holding its
/// tables and its checkpoint (the last seq applied), which the engine updates in the same
/// transaction as the model's writes, so an event is never applied twice or skipped. To add
/// one: write a type conforming to this protocol and list it in `Projections.models`.
public protocol ReadModel: AnyObject, Sendable {
    /// A batch of events as `prepare` leaves it for `apply`.
    associatedtype Batch: Sendable = [ProjectedEvent]
    /// The name in `projections.status` and in file names.
    var name: String { get }
    /// The version of its tables. Changing it makes the engine build the model again from
    /// the log.
    var version: Int { get }
    /// The event types it folds; nil for all.
    var types: Set<String>? { get }
    /// Creates its tables in an empty database (before any other, so that it may set up the
    /// file, such as its page size).
    func create(in db: SQLiteDatabase) throws(LogError)
    /// Creates its secondary indexes: after the tables are filled when the model is built from
    /// the log (faster than keeping them up to date row by row), at once otherwise.
    func createIndexes(in db: SQLiteDatabase) throws(LogError)
    /// Works out what it can of a batch of events without its database (grouping, parsing),
    /// on the core that reads the log while the engine applies the previous batch. By
    /// default the batch is the events themselves.
    func prepare(_ events: [ProjectedEvent]) -> Batch
    /// Folds a batch (events in seq order) inside the engine's transaction, which also moves
    /// the checkpoint. A batch is whatever the engine read at once: the model must end in the
    /// same state however the events are cut into batches.
    func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError)
    /// Events per transaction when the model is built from the log: larger batches cost less
    /// to apply per event, smaller ones keep reading and applying side by side longer.
    var buildBatch: Int { get }
}

extension ReadModel where Batch == [ProjectedEvent] {
    public func prepare(_ events: [ProjectedEvent]) -> [ProjectedEvent] { events }
}

extension ReadModel {
    public func createIndexes(in db: SQLiteDatabase) throws(LogError) {}
    public var buildBatch: Int { 200_000 }
}
