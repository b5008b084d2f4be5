import ArgumentParser
import Foundation
import HindsightEngine
import HindsightMCP
import HindsightQuery

struct MCP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the query methods as Model Context Protocol tools over standard input and output.",
        discussion: """
            Each reading method of `query` (QUERIES.md) is a tool, named with _ for . (rbac_check), whose input schema is the \
            method's own JSON Schema and whose result is its JSON answer, personal data as readers see it. It reads beside a \
            running `serve`. With --allow-writes the writing methods (log_append, privacy_erase, projections_rebuild, \
            export_*) are tools too, and the process is the data directory's writer while it runs.
            """)

    @OptionGroup var options: DataOptions
    @OptionGroup var key: SigningKeyOption
    @OptionGroup var exports: ExportsOption
    @Flag(help: "Offer the methods that write (append, erase, rebuild, export) as tools as well.") var allowWrites = false

    func run() throws {
        let service = try reporting {
            QueryService(
                directory: options.directory, engine: allowWrites ? try Engine(directory: options.directory) : nil, signingKey: key.path,
                exports: try exports.policy(dataDirectory: options.directory))
        }
        let served = DispatchSemaphore(value: 0)
        let failure = Failure()
        Task {
            do {
                try await MCPServer.run(service, writes: allowWrites)
            } catch {
                failure.error = error
            }
            served.signal()
        }
        served.wait()
        if let error = failure.error { throw error }
    }

    /// Where the server's task leaves its error for the command.
    private final class Failure: @unchecked Sendable {
        var error: (any Error)?
    }
}
