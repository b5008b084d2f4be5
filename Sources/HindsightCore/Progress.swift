/// How a long operation tells how far it has got: the work done so far and the whole of it,
/// in the operation's own unit (events; bytes for a load). Called on the operation's thread
/// each time a piece of the work ends; the receiver chooses how often to show it.
public typealias ProgressReport = @Sendable (_ done: UInt64, _ total: UInt64) -> Void
