import Foundation
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
}
