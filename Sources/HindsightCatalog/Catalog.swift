internal import CShim
import Foundation
import HindsightCore

/// The event catalogue: every event type and version the engine accepts, compiled from the
/// JSON Schemas of `EventSchemas/` into native checks once, when the catalogue is built.
///
/// The append path hands `handle` to the envelope parser, which checks each event's `data`
/// against its schema in the same pass that validates the envelope; readers use `schema(at:)`
/// to learn what a stored event's type declares (its personal fields, how it upcasts).
public final class Catalog: @unchecked Sendable {
    /// The compiled checks (an `hs_catalog`), for the C parser. Immutable once built, so any
    /// number of threads may use it.
    public let handle: OpaquePointer

    /// Every schema, in the order of its index.
    public let schemas: [EventSchema]

    private let byType: [String: [EventSchema]]

    /// The catalogue the engine ships: the schemas of `EventSchemas/`, embedded at build time.
    public static let standard: Catalog = {
        do {
            return try Catalog(files: EmbeddedSchemas.files)
        } catch {
            fatalError("the embedded event catalogue does not compile: \(error)")
        }
    }()

    /// Compiles schema files: `common.json` (shared definitions), `envelope.json` (documentation
    /// of the envelope, which the parser checks natively) and one `TYPE.vN.json` per type and
    /// version.
    public init(files: [(name: String, text: String)]) throws(CatalogError) {
        guard let compiled = hs_catalog_create() else { throw CatalogError(file: "", path: "", message: "cannot allocate the catalogue") }
        do {
            schemas = try Self.compile(files, into: compiled)
        } catch {
            hs_catalog_destroy(compiled)
            throw error
        }
        handle = compiled
        byType = Dictionary(grouping: schemas, by: \.type).mapValues { $0.sorted { $0.version < $1.version } }
        for (type, versions) in byType where versions.map(\.version) != Array(1...versions.count) {
            throw CatalogError(
                file: "\(type).v\(versions.last!.version).json", path: "", message: "the versions of \(type) must be 1, 2, 3 … without gaps"
            )
        }
    }

    deinit { hs_catalog_destroy(handle) }

    /// The event types, sorted.
    public var types: [String] { byType.keys.sorted() }

    /// The schemas of one type, oldest version first.
    public func versions(of type: String) -> [EventSchema] { byType[type] ?? [] }

    /// The schema with the given index (`ParsedEnvelope.schema`).
    public func schema(at index: Int) -> EventSchema { schemas[index] }

    /// Whether `value` conforms to the shared definition `name` of common.json; nil if there
    /// is no such definition.
    public func conforms(_ value: String, to name: String) -> Bool? {
        let result = value.withCString { hs_catalog_check_definition(handle, name, $0, value.utf8.count) }
        return result < 0 ? nil : result == 1
    }

    /// Compiles the files into `catalog`, returning what the engine keeps of each schema.
    private static func compile(_ files: [(name: String, text: String)], into catalog: OpaquePointer) throws(CatalogError) -> [EventSchema]
    {
        var error = hs_error()
        guard let common = files.first(where: { $0.name == "common.json" }) else {
            throw CatalogError(file: "common.json", path: "", message: "the catalogue needs its shared definitions")
        }
        if compile(common.text, into: catalog, &error, hs_catalog_add_common) < 0 {
            throw CatalogError(file: common.name, error)
        }
        var schemas: [EventSchema] = []
        for file in files where file.name != "common.json" && file.name != "envelope.json" {
            let index = compile(file.text, into: catalog, &error, hs_catalog_add_schema)
            if index < 0 { throw CatalogError(file: file.name, error) }
            let schema = try EventSchema(file: file.name, text: file.text, index: Int(index))
            guard file.name == "\(schema.type).v\(schema.version).json" else {
                throw CatalogError(
                    file: file.name, path: "/properties/type",
                    message: "a schema of \(schema.type) version \(schema.version) must be named \(schema.type).v\(schema.version).json")
            }
            schemas.append(schema)
        }
        return schemas
    }

    private static func compile(
        _ text: String, into catalog: OpaquePointer, _ error: inout hs_error,
        _ add: (OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<hs_error>?) -> Int32
    ) -> Int32 {
        var text = text
        return text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { add(catalog, $0.baseAddress, $0.count, &error) }
        }
    }
}

/// A schema file the engine cannot compile: which file, where in it, and why.
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    public let file: String
    /// A JSON Pointer into the schema file.
    public let path: String
    public let message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    init(file: String, _ error: hs_error) {
        var error = error
        self.init(file: file, path: cText(&error.path), message: cText(&error.message))
    }

    public var description: String { "\(file)\(path.isEmpty ? "" : " at \(path)"): \(message)" }
}

/// A C `char[N]` field as a Swift string.
func cText<T>(_ field: inout T) -> String {
    withUnsafeBytes(of: &field) { raw in
        String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
    }
}
