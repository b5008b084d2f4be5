/// A moment in the log's history as a question names it: a seq (the state after that event)
/// or a time (the events that occurred by then, in milliseconds since the epoch). Parameters
/// `at`, `from` and `to` take either; JSON carries a seq as an integer and a time as an
/// RFC 3339 string.
public enum LogPosition: Sendable, Hashable {
    case seq(UInt64)
    case time(Int64)
}
