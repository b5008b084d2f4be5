import HindsightCatalog
public import HindsightCore
import HindsightLog

/// A method's named parameters, read with the checks every method needs: the right JSON
/// type, the right range, no unknown names. Each refusal points at the parameter.
public struct Params: Sendable {
    let values: [String: JSONValue]

    init(_ values: [String: JSONValue]) { self.values = values }

    /// Refuses any parameter not in `known` (`atLeast` is known to every method).
    func only(_ known: Set<String>) throws(RPCError) {
        for name in values.keys.sorted() where !known.contains(name) && name != "atLeast" {
            throw RPCError.params("unknown parameter \(name); this method takes \(known.sorted().joined(separator: ", "))", path: "/params/\(name)")
        }
    }

    func integer(_ name: String, in range: ClosedRange<Int64> = 0...Int64.max) throws(RPCError) -> Int64? {
        guard let value = values[name], value != .null else { return nil }
        guard case .integer(let number) = value, range.contains(number) else {
            throw RPCError.params("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)", path: "/params/\(name)")
        }
        return number
    }

    func string(_ name: String) throws(RPCError) -> String? {
        guard let value = values[name], value != .null else { return nil }
        guard case .string(let text) = value else { throw RPCError.params("\(name) must be a string", path: "/params/\(name)") }
        return text
    }

    func strings(_ name: String) throws(RPCError) -> [String]? {
        guard let value = values[name], value != .null else { return nil }
        guard case .array(let items) = value else { throw RPCError.params("\(name) must be an array of strings", path: "/params/\(name)") }
        var out: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else { throw RPCError.params("\(name) must hold strings", path: "/params/\(name)/\(index)") }
            out.append(text)
        }
        return out
    }

    /// Event types to filter on: each must be a type of the catalogue, so that a misspelt one
    /// is an error, not an answer that finds nothing.
    func eventTypes(_ name: String, in catalog: Catalog) throws(RPCError) -> [String]? {
        guard let types = try strings(name) else { return nil }
        for (index, type) in types.enumerated() where catalog.versions(of: type).isEmpty {
            throw RPCError.params("\(type) is not a type in the event catalogue (EventSchemas/)", path: "/params/\(name)/\(index)")
        }
        return types
    }

    func required<T>(_ name: String, _ value: T?) throws(RPCError) -> T {
        guard let value else { throw RPCError.params("\(name) is required", path: "/params/\(name)") }
        return value
    }

    /// An RFC 3339 time (any form: `Timestamp.parse(rfc3339:)`), in milliseconds since the epoch.
    func time(_ name: String) throws(RPCError) -> Int64? {
        guard let text = try string(name) else { return nil }
        guard let ms = Timestamp.parse(rfc3339: text) else {
            throw RPCError.params("\(name) must be an RFC 3339 time such as 2026-03-01T09:30:00Z (a fraction of a second and an offset such as +02:00 may be given)", path: "/params/\(name)")
        }
        return ms
    }

    /// `from` and `to` as RFC 3339 times, refused when `from` is after `to`: such a range
    /// holds no moment.
    func period() throws(RPCError) -> (from: Int64?, to: Int64?) {
        let from = try time("from"), to = try time("to")
        if let from, let to, from > to { throw RPCError.params("from must not be after to", path: "/params/from") }
        return (from, to)
    }

    /// `period()`, both required.
    func requiredPeriod() throws(RPCError) -> (from: Int64, to: Int64) {
        let (from, to) = try period()
        return (try required("from", from), try required("to", to))
    }

    /// `cursor`: a `nextCursor` a search returned, the seq its page starts below.
    func cursor() throws(RPCError) -> UInt64? {
        guard let text = try string("cursor") else { return nil }
        guard let seq = Int64(text), seq > 0 else { throw RPCError.params("cursor must be a nextCursor this method returned", path: "/params/cursor") }
        return UInt64(seq)
    }

    /// `at`: a seq (integer) or an RFC 3339 time.
    func at() throws(RPCError) -> Position? { try position("at") }

    /// A moment in history given as a seq (integer) or an RFC 3339 time.
    func position(_ name: String) throws(RPCError) -> Position? {
        switch values[name] {
        case nil, .null?: return nil
        case .integer(let seq)? where seq >= 0: return .seq(UInt64(seq))
        case .string(let text)?:
            guard let ms = Timestamp.parse(rfc3339: text) else {
                throw RPCError.params("\(name) must be a seq or an RFC 3339 time such as 2026-03-01T09:30:00Z (a fraction of a second and an offset such as +02:00 may be given)", path: "/params/\(name)")
            }
            return .time(ms)
        default: throw RPCError.params("\(name) must be a seq (a non-negative integer) or an RFC 3339 time", path: "/params/\(name)")
        }
    }

    /// A moment in history, as `at`, `from` or `to` give it.
    enum Position {
        case seq(UInt64)
        case time(Int64)
    }
}
