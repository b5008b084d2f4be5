/// A moment a question about a model that keeps its history is asked at: after event `seq`,
/// evaluated at its `occurredAt` (which the caller reads from the log) for anything that
/// expires; at a time (every event that occurred by then); or now.
public enum AsOf: Sendable {
    case seq(UInt64, occurredAt: Int64)
    case time(Int64)
    case now
}
