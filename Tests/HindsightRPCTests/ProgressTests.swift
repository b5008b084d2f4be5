import Foundation
import HindsightTestSupport
import Testing

/// Long operations show their progress on standard error when it is a terminal (here a
/// pseudo-terminal that `script` gives them), never on standard output, and nothing at all when
/// standard error is a pipe.
@Suite("Progress of long operations")
struct ProgressTests {
    /// Runs `arguments` with standard error on a terminal and standard output into a file:
    /// what the terminal showed, and what the file holds.
    private func onATerminal(_ arguments: [String], in scratch: TemporaryDirectory) throws -> (terminal: String, stdout: String) {
        let out = scratch.path + "/stdout-\(UUID().uuidString)"
        let command = ([hindsightExecutable] + arguments).map { "'\($0)'" }.joined(separator: " ") + " > '\(out)'"
        let shown = try run("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(shown.status == 0, "\(arguments): \(shown.stdout)")
        return (shown.stdout, try String(contentsOfFile: out, encoding: .utf8))
    }

    @Test func eachLongOperationShowsItsProgressOnATerminalAndNowhereElse() throws {
        let scratch = TemporaryDirectory()
        let history = scratch.path + "/history.ndjson"
        try run(generateExecutable, ["--events", "30000", "--seed", "3"]).stdout.write(toFile: history, atomically: true, encoding: .utf8)
        let data = scratch.path + "/data"
        let keys = scratch.path + "/signing.key"
        #expect(try run(hindsightExecutable, ["keys", "init", "--key", keys]).status == 0)
        let operations: [(label: String, arguments: [String], answer: String)] = [
            ("append", ["append", "--data", data, "--batch-lines", "5000", history], #""lastSeq":30000"#),
            ("verify", ["verify", "--data", data], "ok: 30000 events verified"),
            ("compact", ["compact", "--data", data], "bytesAfter"),
            ("rebuild webhooks", ["rebuild", "--data", data, "webhooks"], "rebuilt webhooks"),
            ("export", ["export", "audit", "--data", data, "--key", keys, "--out", scratch.path + "/bundle"], "wrote"),
        ]
        for (label, arguments, answer) in operations {
            let (terminal, stdout) = try onATerminal(arguments, in: scratch)
            #expect(terminal.contains("\(label): ") && terminal.contains(" of "), "\(label) showed: \(terminal.debugDescription)")
            #expect(stdout.contains(answer) && !stdout.contains("\(label): "), "\(label) printed: \(stdout)")
        }
        // With standard error a pipe, nothing of it.
        let piped = try run(hindsightExecutable, ["verify", "--data", data])
        #expect(piped.status == 0 && piped.stderr.isEmpty && piped.stdout.hasPrefix("ok: 30000 events verified"), "\(piped)")
    }
}
