import ArgumentParser
import Foundation
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections
import HindsightQuery
import HindsightRPC

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer one JSON-RPC request, as serve would, and print the response line.",
        discussion:
            "The one command that speaks JSON-RPC, for scripts and tools that speak it to serve. Methods that only read never take the writer's lock, so they work beside a running serve. Exits 1 when the response is an error."
    )

    @OptionGroup var options: DataOptions
    @OptionGroup var key: SigningKeyOption
    @OptionGroup var exports: ExportsOption
    @Argument(help: "The method, e.g. log.read (system.methods lists them).") var method: String
    @Option(help: "The parameters as a JSON object.") var params = "{}"

    func run() throws {
        let policy = try reporting { try exports.policy(dataDirectory: options.directory) }
        try answer(method, params: params, directory: options.directory, signingKey: key.path, exports: policy)
    }
}

/// Answers one request as `serve` would, without being the writer, prints the response
/// line, and exits 1 when it is an error.
func answer(_ method: String, params: String, directory: String, signingKey: String = SigningKey.defaultPath, exports: ExportPolicy = .off)
    throws
{
    let response = respond(method, params: params, directory: directory, signingKey: signingKey, exports: exports)
    FileHandle.standardOutput.write(Data(response + [UInt8(ascii: "\n")]))
    if JSONValue(parsing: response)?["error"] != nil { throw ExitCode(1) }
}

/// The response line to one request, as `serve` would write it.
func respond(_ method: String, params: String, directory: String, signingKey: String = SigningKey.defaultPath, exports: ExportPolicy = .off)
    -> [UInt8]
{
    var request = Array(#"{"jsonrpc":"2.0","id":1,"method":"#.utf8)
    JSONValue.string(method).write(to: &request)
    request += Array(#","params":"#.utf8) + Array(params.utf8) + [UInt8(ascii: "}")]
    return RPCServer(QueryService(directory: directory, signingKey: signingKey, exports: exports)).respond(to: request) ?? []
}
