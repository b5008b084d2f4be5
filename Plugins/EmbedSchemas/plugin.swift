import Foundation
import PackagePlugin

/// Embeds the event catalogue (`EventSchemas/*.json`) in `HindsightCatalog` at build time, so
/// the engine carries the schemas it was built from and works from any directory; a changed
/// schema is embedded again by the next build.
@main
struct EmbedSchemas: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "EventSchemas")
        let schemas = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSchemas.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(schemas.count) event schemas",
                executable: try context.tool(named: "embed-schemas").url,
                arguments: [output.path] + schemas.map(\.path),
                inputFiles: schemas, outputFiles: [output])
        ]
    }
}
