import Foundation
import HindsightCore
import HindsightEngine
import HindsightQuery
import HindsightRPC
import HindsightTestSupport
import Testing

@Suite("The log's methods")
struct LogMethodTests {
    static let event =
        #"{"id":"00000000-0000-4000-8000-00000000aaaa","type":"metric.recorded","stream":"metric/queue.depth","occurredAt":"2026-03-21T09:00:00.000Z","actor":{"kind":"system","id":"collector"},"org":"org_acme","data":{"value":1.50,"name":"queue.depth","tags":{"zone":"b","project":"prj_pipeline"}}}"#

    @Test("atLeast beside a writer waits for the seq to be appended, and is refused once the wait is over")
    func atLeastWaitsForAnotherProcess() throws {
        let dir = try historyDirectory()
        let started = Date()
        let reading = Process()
        reading.executableURL = URL(fileURLWithPath: hindsightExecutable)
        reading.arguments = ["query", "--data", dir.path, "log.read", "--params", #"{"from":373,"atLeast":373}"#]
        let output = Pipe()
        reading.standardOutput = output
        try reading.run()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data((Self.event + "\n").utf8)).status == 0)
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        reading.waitUntilExit()
        #expect(reading.terminationStatus == 0 && answer.contains("queue.depth"), "\(answer)")

        let refused = try run(hindsightExecutable, ["query", "--data", dir.path, "log.stats", "--params", #"{"atLeast":400}"#])
        #expect(refused.status == 1 && refused.stderr.contains(#""path":"/params/atLeast""#), "\(refused.stderr)")
        #expect(Date().timeIntervalSince(started) >= QueryService.atLeastWait)
    }

    @Test func anAppendIsReadBackWithAtLeastExactlyAsSent() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: try Engine(directory: dir.path))
        let appended = try #require(server.call(#"{"jsonrpc":"2.0","id":1,"method":"log.append","params":{"events":[\#(Self.event)]}}"#))
        #expect(appended["result"]?["firstSeq"] == 373 && appended["result"]?["position"] == 373, "\(appended)")
        let request = #"{"jsonrpc":"2.0","id":2,"method":"log.read","params":{"from":373,"atLeast":373}}"#
        let text = String(decoding: try #require(server.respond(to: Array(request.utf8))), as: UTF8.self)
        // The producer's data as sent: its field order and its number's spelling.
        #expect(text.contains(#""data":{"value":1.50,"name":"queue.depth","tags":{"zone":"b","project":"prj_pipeline"}}"#), "\(text)")
        #expect(server.call(request)?["result"]?["next"] == .null)
        // The same events again: an idempotent retry.
        let again = try #require(server.call(#"{"jsonrpc":"2.0","id":3,"method":"log.append","params":{"events":[\#(Self.event)]}}"#))
        #expect(again["result"]?["retry"] == true && again["result"]?["firstSeq"] == 373)
    }

    @Test func badEventsGetTheEngineErrorAndChangeNothing() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: try Engine(directory: dir.path))
        let before = try contents(of: dir.path)
        let secret = Self.event.replacingOccurrences(of: #""zone":"b""#, with: #""password":"hunter2""#)
        let cases: [(String, Int64, String, String)] = [
            (
                Self.event.replacingOccurrences(of: #""value":1.50"#, with: #""value":"high""#), 1002, "schema_violation",
                "/params/events/1/data/value"
            ),
            (secret, 1003, "secret_in_payload", "/params/events/1/data/tags/password"),
            (
                Self.event.replacingOccurrences(of: "metric.recorded", with: "metric.exploded"), 1004, "unknown_type",
                "/params/events/1/type"
            ),
        ]
        for (bad, code, kind, path) in cases {
            let response = try #require(
                server.call(#"{"jsonrpc":"2.0","id":9,"method":"log.append","params":{"events":[\#(Self.event),\#(bad)]}}"#))
            #expect(errorCode(response) == code, "\(response)")
            #expect(response["error"]?["data"]?["kind"] == .string(kind))
            #expect(response["error"]?["data"]?["path"] == .string(path), "\(response)")
            #expect(response["error"]?["data"]?["index"] == 1)
            #expect(!String(decoding: response.text, as: UTF8.self).contains("hunter2"))
        }
        let versions = try #require(
            server.call(
                #"{"jsonrpc":"2.0","id":9,"method":"log.append","params":{"events":[\#(Self.event)],"expectedVersions":{"metric/queue.depth":1}}}"#
            ))
        #expect(response(versions, hasKind: "wrong_expected_version"))
        #expect(try contents(of: dir.path) == before)
    }

    func response(_ value: JSONValue, hasKind kind: String) -> Bool { value["error"]?["data"]?["kind"] == .string(kind) }

    @Test func readsPageWithNextAndTravelToAPastSeqOrTime() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        let first = try #require(server.call(#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"limit":100}}"#))
        #expect(first["result"]?["next"] == 101)
        let bySeq = try #require(server.call(#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"from":360,"at":365,"limit":100}}"#))
        guard case .array(let events)? = bySeq["result"]?["events"] else {
            Issue.record("\(bySeq)")
            return
        }
        #expect(events.count == 6)
        let byTime = try #require(
            server.call(#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"at":"2026-03-02T09:00:00.000Z","limit":1000}}"#))
        guard case .array(let early)? = byTime["result"]?["events"] else {
            Issue.record("\(byTime)")
            return
        }
        #expect(early.count == 2, "the owner's grant at 08:55 and the first team at 09:00")
    }

    @Test func personalDataIsShownAsReadersSeeItAndErasureWorksThroughTheInterface() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: try Engine(directory: dir.path))
        let read = #"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"types":["member.invited"],"limit":10}}"#
        var text = String(decoding: try #require(server.call(read)).text, as: UTF8.self)
        #expect(text.contains("carol@acme.example") && text.contains(#""email":"[erased]""#))
        let erased = try #require(server.call(#"{"jsonrpc":"2.0","id":2,"method":"privacy.erase","params":{"person":"usr_carol"}}"#))
        #expect(erased["result"]?["keysDestroyed"] == 1, "\(erased)")
        text = String(decoding: try #require(server.call(read)).text, as: UTF8.self)
        #expect(!text.contains("carol@"))
    }
}
