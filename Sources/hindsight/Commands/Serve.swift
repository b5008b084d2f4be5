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

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer JSON-RPC 2.0 requests on standard input, one per line, until it ends (QUERIES.md).",
        discussion:
            "The process is the data directory's writer while it runs. Responses go to standard output, one per line; diagnostics to standard error."
    )

    @OptionGroup var options: DataOptions
    @OptionGroup var key: SigningKeyOption
    @OptionGroup var exports: ExportsOption

    func run() throws {
        let (policy, engine) = try reporting {
            (try exports.policy(dataDirectory: options.directory), try Engine(directory: options.directory))
        }
        if !LineServer.run(RPCServer(QueryService(directory: options.directory, engine: engine, signingKey: key.path, exports: policy))) {
            FileHandle.standardError.write(Data("hindsight serve: standard output was closed; stopping\n".utf8))
        }
    }
}

/// `--exports DIR`: where `serve` and `query` may write the bundles that export requests ask for.
struct ExportsOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The directory export requests write their bundles beneath (a path relative to it, or an absolute one inside it); without it they are refused. It must lie outside the data directory.",
            valueName: "DIR"))
    var exports: String?

    func policy(dataDirectory: String) throws(LogError) -> ExportPolicy {
        guard let exports else { return .off }
        return .beneath(try ExportRoot(exports, dataDirectory: dataDirectory))
    }
}
