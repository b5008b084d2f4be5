public import HindsightCatalog
public import HindsightCore

/// One named parameter of a method: its shape (published in `system.methods`) and whether a
/// request must give it.
public struct Parameter: Sendable {
    public let name: String
    public let schema: Schema
    public let required: Bool

    public init(_ name: String, _ schema: Schema, required: Bool = false) {
        self.name = name
        self.schema = schema
        self.required = required
    }

    /// `atLeast`, which every method takes: the answer must reflect at least this seq.
    static let atLeast = Parameter(
        "atLeast",
        .integer(0...Int64.max, "The answer reflects at least this seq; waits, bounded, for a writer beside this process to reach it."))
}

/// A method's parameters as a request gives them, read with the checks every method needs:
/// no name the method does not list, every required one present, each of the right JSON
/// type and range. Each refusal names the parameter by its JSON Pointer.
public struct Parameters: Sendable {
    let values: [String: JSONValue]
    /// The catalogue event types are checked against.
    let catalog: Catalog

    /// Checks the names against `listed`: an unknown one, or a required one missing, is refused.
    public init(_ values: [String: JSONValue], listed: [Parameter], catalog: Catalog = .standard) throws(QueryError) {
        let known = Set(listed.map(\.name) + [Parameter.atLeast.name])
        for name in values.keys.sorted() where !known.contains(name) {
            throw .params(
                "unknown parameter \(name); this method takes \(listed.map(\.name).sorted().joined(separator: ", "))", at: "/\(name)")
        }
        for parameter in listed where parameter.required && (values[parameter.name] ?? .null) == .null {
            throw .params("\(parameter.name) is required", at: "/\(parameter.name)")
        }
        self.values = values
        self.catalog = catalog
    }

    /// The value of a parameter, nil when absent or null.
    public subscript(name: String) -> JSONValue? {
        guard let value = values[name], value != .null else { return nil }
        return value
    }

    public func integer(_ name: String, in range: ClosedRange<Int64> = 0...Int64.max) throws(QueryError) -> Int64? {
        guard let value = self[name] else { return nil }
        guard case .integer(let number) = value, range.contains(number) else {
            throw .params("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)", at: "/\(name)")
        }
        return number
    }

    public func string(_ name: String) throws(QueryError) -> String? {
        guard let value = self[name] else { return nil }
        guard case .string(let text) = value else { throw .params("\(name) must be a string", at: "/\(name)") }
        return text
    }

    /// A parameter listed as required (so present: `init` checked).
    public func required(_ name: String) throws(QueryError) -> String {
        guard let text = try string(name) else { throw .params("\(name) is required", at: "/\(name)") }
        return text
    }

    public func bool(_ name: String) throws(QueryError) -> Bool? {
        guard let value = self[name] else { return nil }
        guard case .bool(let flag) = value else { throw .params("\(name) must be a boolean", at: "/\(name)") }
        return flag
    }

    public func strings(_ name: String) throws(QueryError) -> [String]? {
        guard let value = self[name] else { return nil }
        guard case .array(let items) = value else { throw .params("\(name) must be an array of strings", at: "/\(name)") }
        var out: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else { throw .params("\(name) must hold strings", at: "/\(name)/\(index)") }
            out.append(text)
        }
        return out
    }

    /// Event types to filter on: each must be a type of the catalogue, so that a misspelt one
    /// is an error, not an answer that finds nothing.
    public func eventTypes(_ name: String) throws(QueryError) -> [String]? {
        guard let types = try strings(name) else { return nil }
        for (index, type) in types.enumerated() where catalog.versions(of: type).isEmpty {
            throw .params("\(type) is not a type in the event catalogue (EventSchemas/)", at: "/\(name)/\(index)")
        }
        return types
    }

    /// An object of strings (`tags`), in the order of its keys.
    public func stringMap(_ name: String) throws(QueryError) -> [(name: String, value: String)] {
        guard let value = self[name] else { return [] }
        guard case .object(let members) = value else { throw .params("\(name) must be an object of strings", at: "/\(name)") }
        var out: [(name: String, value: String)] = []
        for (key, value) in members.sorted(by: { $0.key < $1.key }) {
            guard case .string(let text) = value else { throw .params("a tag's value must be a string", at: "/\(name)/\(key)") }
            out.append((key, text))
        }
        return out
    }

    /// An RFC 3339 time (any form: `Timestamp.parse(rfc3339:)`), in milliseconds since the epoch.
    public func time(_ name: String) throws(QueryError) -> Int64? {
        guard let text = try string(name) else { return nil }
        guard let ms = Timestamp.parse(rfc3339: text) else {
            throw .params(
                "\(name) must be an RFC 3339 time such as 2026-03-01T09:30:00Z (a fraction of a second and an offset such as +02:00 may be given)",
                at: "/\(name)")
        }
        return ms
    }

    /// `from` and `to` as RFC 3339 times, refused when `from` is after `to`: such a range
    /// holds no moment.
    public func period() throws(QueryError) -> (from: Int64?, to: Int64?) {
        let from = try time("from")
        let to = try time("to")
        if let from, let to, from > to { throw .params("from must not be after to", at: "/from") }
        return (from, to)
    }

    /// A moment in history given as a seq (integer) or an RFC 3339 time.
    public func position(_ name: String) throws(QueryError) -> LogPosition? {
        switch self[name] {
        case nil: return nil
        case .integer(let seq)? where seq >= 0: return .seq(UInt64(seq))
        case .string(let text)?:
            guard let ms = Timestamp.parse(rfc3339: text) else {
                throw .params(
                    "\(name) must be a seq or an RFC 3339 time such as 2026-03-01T09:30:00Z (a fraction of a second and an offset such as +02:00 may be given)",
                    at: "/\(name)")
            }
            return .time(ms)
        default: throw .params("\(name) must be a seq (a non-negative integer) or an RFC 3339 time", at: "/\(name)")
        }
    }

    /// `cursor`: a `nextCursor` a search returned, the seq its page starts below.
    public func cursor() throws(QueryError) -> UInt64? {
        guard let text = try string("cursor") else { return nil }
        guard let seq = Int64(text), seq > 0 else { throw .params("cursor must be a nextCursor this method returned", at: "/cursor") }
        return UInt64(seq)
    }

    /// A `KIND/ID` reference to an entity (`project/prj_9`).
    public func reference(_ name: String) throws(QueryError) -> String? {
        guard let text = try string(name) else { return nil }
        guard let slash = text.firstIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex else {
            throw .params("\(name) must be KIND/ID, such as project/prj_9", at: "/\(name)")
        }
        return text
    }

    /// A subject of access questions: a user (`usr_…`) or a token (`tok_…`).
    public func subject(_ name: String) throws(QueryError) -> String? {
        guard let text = try string(name) else { return nil }
        guard text.hasPrefix("usr_") || text.hasPrefix("tok_") else {
            throw .params("\(name) must be a user (usr_…) or a token (tok_…)", at: "/\(name)")
        }
        return text
    }

    /// The JSON Schema of an object of these parameters (and `atLeast`).
    static func schema(of listed: [Parameter]) -> JSONValue {
        let all = listed + [Parameter.atLeast]
        return Schema.object(
            Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0.schema) }), optional: Set(all.filter { !$0.required }.map(\.name))
        ).json.adding("additionalProperties", false)
    }
}

extension JSONValue {
    /// The object with one more member.
    func adding(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members[key] = value
        return .object(members)
    }
}
