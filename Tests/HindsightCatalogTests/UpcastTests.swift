import Foundation
import HindsightCatalog
import HindsightCore
import HindsightLog
import HindsightLogWriter
import HindsightTestSupport
import Testing

/// The envelope inside a stored line: the line without the engine's seq, streamVersion and
/// recordedAt, which is what a producer would have sent.
func envelope(ofStored line: ArraySlice<UInt8>) -> String {
    let text = String(decoding: line, as: UTF8.self)
    return text.replacing(/^\{"seq":\d+,"streamVersion":\d+,"recordedAt":"[^"]*",/, with: "{")
}

@Suite struct UpcastTests {
    func stored(_ lines: [String]) throws -> [StoredEvent] {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        _ = try log.append(EnvelopeParser.parse(ndjson: Array(lines.joined(separator: "\n").utf8), catalog: .standard))
        var events: [StoredEvent] = []
        try LogReader(directory: dir.path).read(ReadQuery()) {
            events.append($0)
            return true
        }
        return events
    }

    @Test func aVersion1InvocationIsReadAsVersion2WithItsRegionUnknownAndNoMemoryFigure() throws {
        let v1 =
            #"{"type":"function.invoked","stream":"function/fn_4","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"system","id":"invoker"},"org":"org_1","data":{"function":"fn_4","project":"prj_9","mode":"sync","durationMs":42,"coldStart":false,"status":"ok"}}"#
        let explicitV1 = v1.replacingOccurrences(of: #""org":"org_1","#, with: #""org":"org_1","schemaVersion":1,"#)
        let v2 =
            #"{"type":"function.invoked","stream":"function/fn_4","occurredAt":"2026-03-01T09:31:00.000Z","actor":{"kind":"system","id":"invoker"},"org":"org_1","schemaVersion":2,"data":{"function":"fn_4","project":"prj_9","mode":"async","durationMs":40,"coldStart":true,"status":"ok","memoryUsedMb":87,"region":"eu-west-1"}}"#
        let events = try stored([v1, explicitV1, v2])
        #expect(events.map(\.schemaVersion) == [1, 1, 2])
        let upcast = events.map { $0.upcast(by: .standard) }
        #expect(upcast.map(\.schemaVersion) == [2, 2, 2])
        for event in upcast.prefix(2) {
            let text = envelope(ofStored: event.line)
            #expect(text.contains(#""status":"ok","region":"unknown"}"#), "\(text)")
            #expect(!text.contains("memoryUsedMb"))
            #expect(text.hasSuffix(#","schemaVersion":2}"#), "\(text)")
        }
        // The newest version comes back exactly as stored; the stored event keeps its version.
        #expect(upcast[2].line == events[2].line)
        #expect(!String(decoding: events[0].line, as: UTF8.self).contains("region"))
    }

    /// Every example of every version before the newest, read as the newest, is a valid event
    /// of the newest version.
    @Test func everyOlderExampleUpcastsToAValidEventOfTheNewestVersion() throws {
        var checked = 0
        for type in Catalog.standard.types {
            let versions = Catalog.standard.versions(of: type)
            for schema in versions.dropLast() {
                let file = schemaFolder.appendingPathComponent("examples/\(type).v\(schema.version).ndjson")
                let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
                for event in try stored(lines) {
                    let upcast = event.upcast(by: .standard)
                    #expect(upcast.schemaVersion == versions.last!.version)
                    #expect(refusal(envelope(ofStored: upcast.line)) == nil, "\(envelope(ofStored: upcast.line))")
                    checked += 1
                }
            }
        }
        #expect(checked > 0)
    }

    @Test func theCommandLineReadsStoredOrUpcastEvents() throws {
        let dir = TemporaryDirectory()
        let v1 =
            #"{"type":"function.invoked","stream":"function/fn_4","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"system","id":"invoker"},"org":"org_1","data":{"function":"fn_4","project":"prj_9","mode":"sync","durationMs":42,"coldStart":false,"status":"ok"}}"#
        #expect(try run(hindsightExecutable, ["append", "--data", dir.path], stdin: Data(v1.utf8)).status == 0)
        let stored = try run(hindsightExecutable, ["read", "--data", dir.path])
        let upcast = try run(hindsightExecutable, ["read", "--data", dir.path, "--upcast"])
        #expect(!stored.stdout.contains("region"))
        #expect(upcast.stdout.contains(#""region":"unknown""#) && upcast.stdout.contains(#""schemaVersion":2"#))
    }
}
