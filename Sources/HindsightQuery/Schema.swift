public import HindsightCore

/// The shape of a value as JSON Schema (draft 2020-12) describes it: what `system.methods`
/// publishes for each method's parameters and result, so that tools (an MCP client, a form,
/// a code generator) can call the service without reading QUERIES.md. Written beside the
/// types they describe; a test holds every method's real answers to its result schema.
public indirect enum Schema: Sendable {
    case string(String? = nil)
    /// A string of one of these values.
    case oneOf([String], String? = nil)
    /// An RFC 3339 time.
    case time(String? = nil)
    case integer(ClosedRange<Int64>? = nil, String? = nil)
    case number(String? = nil)
    case boolean(String? = nil)
    /// The value, or null.
    case nullable(Schema)
    case array(Schema, String? = nil)
    /// An object with these members; `optional` ones may be missing.
    case object([String: Schema], optional: Set<String> = [], String? = nil)
    /// An object whose members (of any name) are all of one shape.
    case map(Schema, String? = nil)
    /// Any JSON object (an event as stored: EVENTS.md describes it).
    case anyObject(String? = nil)
    /// A seq (an integer) or an RFC 3339 time.
    case position(String? = nil)
    /// Any of these shapes.
    case anyOf([Schema], String? = nil)

    public var json: JSONValue {
        var out: [String: JSONValue]
        var about: String?
        switch self {
        case .string(let text):
            out = ["type": "string"]
            about = text
        case .oneOf(let values, let text):
            out = ["type": "string", "enum": .array(values.map(JSONValue.string))]
            about = text
        case .time(let text):
            out = ["type": "string", "format": "date-time"]
            about = text
        case .integer(let range, let text):
            out = ["type": "integer"]
            if let range {
                out["minimum"] = .integer(range.lowerBound)
                out["maximum"] = .integer(range.upperBound)
            }
            about = text
        case .number(let text):
            out = ["type": "number"]
            about = text
        case .boolean(let text):
            out = ["type": "boolean"]
            about = text
        case .nullable(let schema):
            return ["anyOf": [schema.json, ["type": "null"]]]
        case .array(let items, let text):
            out = ["type": "array", "items": items.json]
            about = text
        case .object(let members, let optional, let text):
            out = [
                "type": "object", "properties": .object(members.mapValues(\.json)),
                "required": .array(members.keys.filter { !optional.contains($0) }.sorted().map(JSONValue.string)),
            ]
            about = text
        case .map(let values, let text):
            out = ["type": "object", "additionalProperties": values.json]
            about = text
        case .anyObject(let text):
            out = ["type": "object"]
            about = text
        case .anyOf(let schemas, let text):
            out = ["anyOf": .array(schemas.map(\.json))]
            about = text
        case .position(let text):
            out = ["anyOf": [["type": "integer", "minimum": 0], ["type": "string", "format": "date-time"]]]
            about = text
        }
        if let about { out["description"] = .string(about) }
        return .object(out)
    }
}
