import Foundation

// `embed-schemas OUTPUT SCHEMA…`: writes OUTPUT, a Swift file holding each schema file's
// name and text (the `EmbedSchemas` build plugin runs it over EventSchemas/*.json).
let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: embed-schemas OUTPUT SCHEMA...\n".utf8))
    exit(64)
}
var source = """
    // Generated at build time from EventSchemas/*.json by the EmbedSchemas plugin.

    /// The catalogue's schema files, by file name, as the engine compiles them at start-up.
    enum EmbeddedSchemas {
        static let files: [(name: String, text: String)] = [

    """
for path in arguments.dropFirst() {
    let url = URL(fileURLWithPath: path)
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
        FileHandle.standardError.write(Data("embed-schemas: cannot read \(path)\n".utf8))
        exit(1)
    }
    // A raw string with four hashes: no schema holds `"####`.
    guard !text.contains("\"####") else {
        FileHandle.standardError.write(Data("embed-schemas: \(path) holds a sequence that ends a Swift raw string\n".utf8))
        exit(1)
    }
    source += "        (\"\(url.lastPathComponent)\", ####\"\"\"\n\(text.trimmingCharacters(in: .newlines))\n\"\"\"####),\n"
}
source += "    ]\n}\n"
do {
    try source.write(to: URL(fileURLWithPath: output), atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("embed-schemas: cannot write \(output): \(error)\n".utf8))
    exit(1)
}
