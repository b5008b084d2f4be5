public import HindsightCore

/// Why a question was not answered: its parameters (with a JSON Pointer to the one at fault),
/// a method that does not exist, or the engine's own error (a code, a message, where).
/// Every edge maps it to its own form: JSON-RPC's error object, the command line's message and
/// exit status, an MCP tool error.
public enum QueryError: Error, Sendable {
    /// A parameter is missing, of the wrong type, out of range or contradicts another.
    case invalidParams(message: String, path: String)
    case methodNotFound(String)
    case engine(LogError)
    /// The engine refused one of the events a request gave (`log.append`): its location's
    /// `line N` is the request's event N − 1.
    case events(LogError)

    /// A refusal of the parameter at `path` below `params` (`/from`, `/types/2`).
    static func params(_ message: String, at path: String) -> QueryError {
        .invalidParams(message: message, path: "/params" + path)
    }

    public var message: String {
        switch self {
        case .invalidParams(let message, _): message
        case .methodNotFound(let name): "method not found: \(name) (system.methods lists them)"
        case .engine(let error), .events(let error): error.message
        }
    }
}

/// Runs `body`, turning the engine's errors into `QueryError.engine`.
func engine<T>(_ body: () throws(LogError) -> T) throws(QueryError) -> T {
    do {
        return try body()
    } catch {
        throw .engine(error)
    }
}
