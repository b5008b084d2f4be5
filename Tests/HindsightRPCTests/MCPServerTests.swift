import Foundation
import HindsightCore
import HindsightTestSupport
import Testing

/// `hindsight mcp` driven by the Model Context Protocol's own Python client (the `mcp` package,
/// which Tools/setup.sh installs): initialize, the tools and their schemas, calls answered as
/// `hindsight query` answers them, refusals that name the argument, and no tool that writes
/// unless asked for (Tools/check_mcp.py).
@Suite("The MCP server")
struct MCPServerTests {
    @Test func aRealClientListsTheReadingMethodsAndCallsThemAsQueryAnswers() throws {
        let dir = try historyDirectory()
        let script =
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/check_mcp.py").path
        let checked = try run("/usr/bin/env", ["python3", script, hindsightExecutable, dir.path])
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
        #expect(checked.stdout.contains("ok: tokens_list answers as `hindsight query` does"))
        #expect(!checked.stdout.contains("FAILED"))
    }

    /// A client that writes its requests and closes its end still gets every answer.
    @Test func everyRequestIsAnsweredWhenTheInputEndsAtOnce() throws {
        let dir = try historyDirectory()
        let requests = [
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
            #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"log_stats","arguments":{}}}"#,
            #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"tokens_list","arguments":{"at":250}}}"#,
        ]
        for _ in 0..<5 {
            let served = try run(
                hindsightExecutable, ["mcp", "--data", dir.path], stdin: Data((requests.joined(separator: "\n") + "\n").utf8))
            let ids = served.stdout.split(separator: "\n").compactMap { line -> Int64? in
                if case .integer(let id)? = JSONValue(parsing: Array(line.utf8))?["id"] { id } else { nil }
            }
            #expect(Set(ids) == [1, 2, 3], "\(served.stdout)\(served.stderr)")
        }
    }
}
