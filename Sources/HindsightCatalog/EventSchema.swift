import Foundation

/// What the engine needs to know of one schema beyond its checks: which fields hold personal
/// data, and how an event of the previous version becomes one of this version.
public struct EventSchema: Sendable, Equatable {
    public let type: String
    public let version: Int
    /// Its position in `Catalog.schemas`.
    public let index: Int
    /// Fields of `data` marked `"x-personal": true`: stored encrypted, erasable.
    public let personalFields: [String]
    /// How to read an event of version `version - 1` as this version; nil for version 1.
    public let upcast: Upcast?

    /// `"x-upcast": {"from": N, "set": {field: value, …}}`: fields an older event lacks and
    /// the values it is read with. Fields this version adds as optional are simply absent.
    public struct Upcast: Sendable, Equatable {
        public let from: Int
        /// Each field with its value as minified JSON, in field-name order.
        public let set: [(field: String, json: String)]

        public static func == (a: Upcast, b: Upcast) -> Bool {
            a.from == b.from && a.set.elementsEqual(b.set) { $0.field == $1.field && $0.json == $1.json }
        }
    }

    init(file: String, text: String, index: Int) throws(CatalogError) {
        let root: [String: Any]
        do {
            root = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        } catch {
            throw CatalogError(file: file, path: "", message: "not valid JSON")
        }
        let properties = root["properties"] as? [String: Any]
        type = (properties?["type"] as? [String: Any])?["const"] as? String ?? ""
        version = (properties?["schemaVersion"] as? [String: Any])?["const"] as? Int ?? 0
        self.index = index
        let data = (properties?["data"] as? [String: Any])?["properties"] as? [String: Any] ?? [:]
        personalFields = data.compactMap { name, schema in
            (schema as? [String: Any])?["x-personal"] as? Bool == true ? name : nil
        }.sorted()

        guard let rule = root["x-upcast"] else {
            upcast = nil
            if version > 1 {
                throw CatalogError(file: file, path: "/x-upcast", message: "a version after 1 must say how the previous version upcasts")
            }
            return
        }
        guard let rule = rule as? [String: Any], let from = rule["from"] as? Int, from == version - 1,
            let set = rule["set"] as? [String: Any] ?? (rule["set"] == nil ? [:] : nil)
        else {
            throw CatalogError(file: file, path: "/x-upcast", message: "must be {\"from\": \(version - 1), \"set\": {field: value, …}}")
        }
        var fields: [(String, String)] = []
        for (field, value) in set.sorted(by: { $0.key < $1.key }) {
            guard
                let json = try? JSONSerialization.data(
                    withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
            else {
                throw CatalogError(file: file, path: "/x-upcast/set/\(field)", message: "not a JSON value")
            }
            fields.append((field, String(decoding: json, as: UTF8.self)))
        }
        upcast = Upcast(from: from, set: fields)
    }
}
