import Foundation
import HindsightRPC
import HindsightTestSupport
import Testing

/// A running `hindsight serve`, fed and read through pipes.
final class ServeProcess {
    let process = Process()
    let input = Pipe(), output = Pipe(), errors = Pipe()

    init(data: String) throws {
        process.executableURL = URL(fileURLWithPath: hindsightExecutable)
        process.arguments = ["serve", "--data", data]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
    }

    func send(_ bytes: some DataProtocol) throws { try input.fileHandleForWriting.write(contentsOf: bytes) }

    /// Closes standard input and returns everything the server wrote.
    func finish() throws -> [String] {
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: "\n").map(String.init)
    }
}

@Suite("serve over pipes", .serialized)
struct ServeTests {
    @Test func badInputGetsErrorsAndTheServerGoesOn() throws {
        let dir = try historyDirectory()
        let serve = try ServeProcess(data: dir.path)
        try serve.send(Data("garbage\n".utf8))
        try serve.send(Data([0xFF, 0x00, 0xC3, 0x28, 0x0A]))  // binary
        try serve.send(Data(repeating: UInt8(ascii: "x"), count: 100 << 20) + Data("\n".utf8))  // a 100 MB line
        try serve.send(Data(#"{"jsonrpc":"2.0","id":7,"method":"log.stats"}"#.utf8))  // the last line, without its newline
        let responses = try serve.finish()
        #expect(serve.process.terminationReason == .exit && serve.process.terminationStatus == 0)
        #expect(responses.count == 4, "\(responses)")
        #expect(responses[0].contains("-32700") && responses[1].contains("-32700"))
        #expect(responses[2].contains("-32600") && responses[2].contains("longer than"))
        #expect(responses[3].contains(#""id":7"#) && responses[3].contains(#""events":372"#))
    }

    @Test func aClosedOutputEndsTheServerCleanly() throws {
        let dir = try historyDirectory()
        let serve = try ServeProcess(data: dir.path)
        try serve.output.fileHandleForReading.close()
        // One write: the server may be gone before a second one (which would then fail here).
        try? serve.send(Data(String(repeating: #"{"jsonrpc":"2.0","id":1,"method":"log.stats"}"# + "\n", count: 50).utf8))
        try? serve.input.fileHandleForWriting.close()
        serve.process.waitUntilExit()
        #expect(serve.process.terminationReason == .exit, "killed by a signal")
        #expect(serve.process.terminationStatus == 0)
        let stderr = String(decoding: serve.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stderr.contains("standard output was closed"))
    }

    @Test func queryReadsBesideARunningServeAndAnswersAsServeWould() throws {
        let dir = try historyDirectory()
        let serve = try ServeProcess(data: dir.path)
        try serve.send(Data((#"{"jsonrpc":"2.0","id":1,"method":"log.verify"}"# + "\n").utf8))
        // serve holds the writer's lock; reading needs none, writing is refused with a clear error.
        let query = try run(hindsightExecutable, ["query", "--data", dir.path, "log.verify"])
        #expect(query.status == 0, "\(query.stderr)")
        let write = try run(hindsightExecutable, ["query", "--data", dir.path, "privacy.erase", "--params", #"{"person":"usr_carol"}"#])
        #expect(write.status == 1)
        #expect(write.stdout.contains(#""kind":"writer_locked""#), "\(write.stdout)")
        let responses = try serve.finish()
        #expect(responses == [query.stdout.trimmingCharacters(in: .newlines)])
    }
}
