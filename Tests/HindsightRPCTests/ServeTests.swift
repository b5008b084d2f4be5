import Foundation
import HindsightCore
import HindsightProjections
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
        #expect(write.stderr.contains(#""kind":"writer_locked""#) && write.stdout.isEmpty, "\(write.stderr)")
        let responses = try serve.finish()
        #expect(responses.map { JSONValue(parsing: Array($0.utf8))?["result"] } == [JSONValue(parsing: Array(query.stdout.utf8))])
    }
}

@Suite("Read models rebuilt beside readers", .serialized)
struct RebuildBesideReadersTests {
    /// The stored read model's own check of its file.
    private func integrity(_ data: String) throws -> String {
        let db = try SQLiteDatabase(path: data + "/projections/audit.sqlite", readOnly: true)
        let check = try db.statement("PRAGMA integrity_check")
        defer { check.finish() }
        _ = try check.step()
        return check.text(0) ?? ""
    }

    @Test("queries in other processes see a read model whole while serve appends and rebuilds it, and it stays whole", arguments: 0..<5)
    func queriesBesideRebuilds(round: Int) throws {
        let dir = TemporaryDirectory()
        let history = try run(generateExecutable, ["--events", "17000", "--seed", String(40 + round)]).stdout
        let lines = history.split(separator: "\n")
        #expect(
            try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data((lines[..<5000].joined(separator: "\n") + "\n").utf8))
                .status == 0)
        #expect(try run(hindsightExecutable, ["query", "--data", dir.path, "audit.search", "--params", #"{"limit":1}"#]).status == 0)

        let serve = try ServeProcess(data: dir.path)
        let data = dir.path
        let stop = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        nonisolated(unsafe) var failures: [String] = []
        nonisolated(unsafe) var queries = 0
        let params = [#"{"limit":5}"#, #"{"types":["build.succeeded"],"limit":3}"#, #"{"org":"org_1","limit":2}"#]
        let counting = NSLock()
        for reader in 0..<2 {
            DispatchQueue.global().async(group: done) {
                var asked = reader
                while stop.wait(timeout: .now()) == .timedOut {
                    let result = try? run(
                        hindsightExecutable, ["query", "--data", data, "audit.search", "--params", params[asked % params.count]])
                    asked += 1
                    counting.withLock {
                        queries += 1
                        if result?.status != 0 { failures.append(result.map { $0.stdout + $0.stderr } ?? "did not run") }
                    }
                }
            }
        }
        var id = 0
        for batch in 0..<60 {
            let events = lines[(5000 + batch * 200)..<(5200 + batch * 200)].joined(separator: ",")
            id += 1
            try serve.send(Data((#"{"jsonrpc":"2.0","id":\#(id),"method":"log.append","params":{"events":[\#(events)]}}"# + "\n").utf8))
            if batch % 3 == 2 {
                id += 1
                try serve.send(
                    Data((#"{"jsonrpc":"2.0","id":\#(id),"method":"projections.rebuild","params":{"name":"audit"}}"# + "\n").utf8))
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        id += 1
        try serve.send(Data((#"{"jsonrpc":"2.0","id":\#(id),"method":"audit.search","params":{"limit":1}}"# + "\n").utf8))
        let responses = try serve.finish()
        stop.signal()
        stop.signal()
        done.wait()

        #expect(responses.count == id)
        for response in responses where response.contains(#""error""#) {
            // A rebuild asked while the last is still under way is refused; nothing else may fail.
            #expect(response.contains("is being rebuilt already"), "\(response)")
        }
        #expect(queries > 5)
        #expect(failures.isEmpty, "\(failures.count) of \(queries) queries failed: \(failures.prefix(3))")
        #expect(try integrity(dir.path) == "ok")
        let verify = try run(hindsightExecutable, ["verify", "--data", dir.path, "--projections"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("a damaged read model is built again from the log and answers, instead of failing every query", arguments: [0, 4096])
    func damagedModelIsRebuilt(from offset: UInt64) throws {
        let dir = try historyDirectory()
        let search = { try run(hindsightExecutable, ["query", "--data", dir.path, "audit.search", "--params", #"{"limit":3}"#]) }
        let good = try search()
        #expect(good.status == 0)
        // Overwrite the database in use with noise from `offset` on: its header too, or every
        // page but the first.
        let file = URL(fileURLWithPath: dir.path + "/projections/audit.sqlite").resolvingSymlinksInPath()
        let handle = try FileHandle(forUpdating: file)
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data((0..<Int(size - offset)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }))
        try handle.close()
        for _ in 0..<2 {
            let again = try search()
            #expect(again.status == 0, "\(again.stdout)")
            #expect(again.stdout == good.stdout)
        }
        #expect(try integrity(dir.path) == "ok")
        #expect(try run(hindsightExecutable, ["verify", "--data", dir.path, "--projections"]).status == 0)
    }

    @Test("a read model whose files were deleted by hand is built again")
    func deletedModelIsRebuilt() throws {
        let dir = try historyDirectory()
        let search = { try run(hindsightExecutable, ["query", "--data", dir.path, "audit.search", "--params", #"{"limit":3}"#]) }
        let good = try search()
        let projections = dir.path + "/projections"
        for name in try FileManager.default.contentsOfDirectory(atPath: projections) where name.hasPrefix("audit.gen") {
            try FileManager.default.removeItem(atPath: projections + "/" + name)
        }
        let again = try search()
        #expect(again.status == 0 && again.stdout == good.stdout, "\(again.stdout)")
        #expect(try integrity(dir.path) == "ok")
    }
}
