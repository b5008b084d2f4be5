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
        abstract: "Answer one request as serve would, and print its result as JSON.",
        discussion:
            "For scripts and tools: the request is checked and answered as serve answers it, and the result object QUERIES.md describes is printed on one line. An error is printed on standard error as the JSON-RPC error object (code, message, data), and the exit status is 1. Methods that only read never take the writer's lock, so they work beside a running serve."
    )

    @OptionGroup var options: DataOptions
    @OptionGroup var key: SigningKeyOption
    @OptionGroup var exports: ExportsOption
    @Argument(help: "The method, e.g. log.read (system.methods lists them).") var method: String
    @Option(help: "The parameters as a JSON object.") var params = "{}"

    func run() throws {
        let policy = try reporting { try exports.policy(dataDirectory: options.directory) }
        let response = JSONValue(
            parsing: respond(method, params: params, directory: options.directory, signingKey: key.path, exports: policy))
        if let error = response?["error"] {
            FileHandle.standardError.write(Data(error.text + [UInt8(ascii: "\n")]))
            throw ExitCode(1)
        }
        FileHandle.standardOutput.write(Data((response?["result"] ?? .null).text + [UInt8(ascii: "\n")]))
    }
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
