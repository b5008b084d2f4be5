import HindsightCore

/// A moment a question about a model that keeps its history is asked at: after event `seq`,
/// evaluated at its `occurredAt` (which the caller reads from the log) for anything that
/// expires; at a time (every event that occurred by then); or now.
public enum AsOf: Sendable {
    case seq(UInt64, occurredAt: Int64)
    case time(Int64)
    case now

    /// The moment as the models' tables of lifetimes read it, worked out once (so that "now"
    /// is one time for a whole answer).
    public var bounds: Bounds { Bounds(self) }

    /// Which columns say when a row begins and ends (`from_seq` or `from_time`), the value
    /// they are compared with, and the time expiries and ages are judged at.
    public struct Bounds: Sendable {
        public let bySeq: Bool
        public let value: Int64
        public let time: Int64

        init(_ when: AsOf) {
            switch when {
            case .seq(let seq, let occurredAt): (bySeq, value, time) = (true, Int64(seq), occurredAt)
            case .time(let ms): (bySeq, value, time) = (false, ms, ms)
            case .now: (bySeq, value, time) = (true, Int64.max, Timestamp.now())
            }
        }

        /// `name` with the `_seq` or `_time` suffix the moment compares.
        public func column(_ name: String) -> String { name + (bySeq ? "_seq" : "_time") }
        /// The column of tables that keep one moment per row: `seq` or `time`.
        public var at: String { bySeq ? "seq" : "time" }
    }
}
