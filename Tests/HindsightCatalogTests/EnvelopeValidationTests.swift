import Foundation
import HindsightCore
import HindsightLogWriter
import HindsightTestSupport
import Testing

@testable import HindsightCatalog

@Suite("Envelope validation on append")
struct EnvelopeValidationTests {
    /// Parses `lines` and returns the refusal, failing the test if they were accepted.
    private func refusal(_ text: [UInt8]) -> LogError? {
        do {
            _ = try EnvelopeParser.parse(ndjson: text, catalog: nil)
            return nil
        } catch {
            return error
        }
    }

    private func refusal(_ lines: [String]) -> LogError? {
        refusal(Array(lines.joined(separator: "\n").utf8))
    }

    @Test("a valid envelope is accepted, minified, and stored with its fields in canonical order")
    func validEnvelope() throws {
        let batch = try Events.batch([
            #"{ "type": "build.queued", "stream": "build/b_1", "occurredAt": "2026-03-01T09:30:00.000Z", "actor": {"kind": "user", "id": "usr_1"}, "org": "org_1", "data": {"build": "b_1"} }"#
        ])
        #expect(batch.count == 1)
        let body = String(decoding: batch.body(0), as: UTF8.self)
        #expect(
            body
                == #"{"type":"build.queued","stream":"build/b_1","org":"org_1","actor":{"kind":"user","id":"usr_1"},"data":{"build":"b_1"},"occurredAt":"2026-03-01T09:30:00.000Z"}"#
        )
    }

    @Test(
        "each broken rule is refused with its line and field path",
        arguments: [
            (
                #"{"stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{}}"#,
                "/type"
            ),
            (
                #"{"type":"build.queued","stream":"b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{}}"#,
                "/stream"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01 09:30:00","actor":{"kind":"user","id":"u"},"org":"org_1","data":{}}"#,
                "/occurredAt"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-02-30T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{}}"#,
                "/occurredAt"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"robot","id":"u"},"org":"org_1","data":{}}"#,
                "/actor/kind"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user"},"org":"org_1","data":{}}"#,
                "/actor/id"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":7,"data":{}}"#,
                "/org"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":[]}"#,
                "/data"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{},"id":"not-a-uuid"}"#,
                "/id"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{},"colour":"red"}"#,
                "/colour"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{},"seq":4}"#,
                "/seq"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{},"schemaVersion":0}"#,
                "/schemaVersion"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{"a":{"b":1,"b":2}}}"#,
                "/data/a/b"
            ),
            (
                #"{"type":"build.queued","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{"list":[{"a":1},{"k/x":1,"k/x":2}]}}"#,
                "/data/list/1/k~1x"
            ),
            (
                #"{"type":"build.queued","type":"build.started","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"u"},"org":"org_1","data":{}}"#,
                "/type"
            ),
        ])
    func brokenRule(line: String, path: String) throws {
        let good = Events.event()
        let error = try #require(refusal([good, good, line, good]))
        #expect(error.code == .invalidEnvelope)
        #expect(error.location == "line 3")
        #expect(error.fieldPath == path)
    }

    @Test("an empty line is refused by number")
    func emptyLine() throws {
        let error = try #require(refusal([Events.event(), "", Events.event()]))
        #expect(error.location == "line 2")
        #expect(error.message.contains("empty line"))
    }

    @Test("invalid UTF-8 is refused")
    func invalidUTF8() throws {
        var text = Array((Events.event() + "\n").utf8)
        let bad = Array(Events.event(data: #"{"name":"X"}"#).utf8).map { $0 == UInt8(ascii: "X") ? 0xFF : $0 }
        text += bad
        let error = try #require(refusal(text))
        #expect(error.location == "line 2")
        #expect(error.message.contains("UTF-8") || error.message.contains("UTF8"))
    }

    @Test("a 10 MB line is refused before parsing")
    func hugeLine() throws {
        let filler = String(repeating: "x", count: 10 << 20)
        let error = try #require(refusal([Events.event(data: #"{"blob":"\#(filler)"}"#)]))
        #expect(error.location == "line 1")
        #expect(error.message.contains("limit"))
    }

    @Test("deep nesting is refused")
    func deepNesting() throws {
        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        let error = try #require(refusal([Events.event(data: #"{"deep":\#(deep)}"#)]))
        #expect(error.location == "line 1")
        #expect(error.message.contains("not valid JSON"))
    }

    @Test("a line that is JSON but not an object is refused", arguments: ["[1,2]", "42", #""text""#, "null"])
    func nonObject(line: String) throws {
        let error = try #require(refusal([line]))
        #expect(error.message.contains("JSON object"))
    }

    @Test("JSON that does not parse is refused")
    func syntaxError() throws {
        let error = try #require(refusal([Events.event(), #"{"type": "build.queued","#]))
        #expect(error.location == "line 2")
    }

    @Test("the first bad line is reported even when the batch is parsed on several cores")
    func firstBadLineInLargeBatch() throws {
        var lines = (0..<20_000).map { _ in Events.event() }
        lines[15_000] = "{}"
        lines[12_345] = "[]"
        let error = try #require(refusal(lines))
        #expect(error.location == "line 12346")
    }

    @Test("compact and spaced-out input, and escaped keys, store the same canonical line")
    func canonicalForm() throws {
        let compact =
            #"{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","data":{"a":[1, "x y"]},"org":"org_1","actor":{"kind":"user","id":"u"},"occurredAt":"2026-03-01T09:30:00.000Z","stream":"build/b_1","type":"build.queued"}"#
        let spaced =
            #"  { "type" : "build.queued", "str\u0065am": "build/b_1", "occurredAt": "2026-03-01T09:30:00.000Z", "actor": { "kind": "user", "id": "u" }, "org": "org_1", "data": { "a": [ 1, "x y" ] }, "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV" }  "#
        let batch = try Events.batch([compact, spaced])
        let expected =
            #"{"type":"build.queued","stream":"build/b_1","org":"org_1","actor":{"kind":"user","id":"u"},"data":{"a":[1,"x y"]},"occurredAt":"2026-03-01T09:30:00.000Z","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}"#
        #expect(String(decoding: batch.body(0), as: UTF8.self) == expected)
        #expect(String(decoding: batch.body(1), as: UTF8.self) == expected)
    }

    @Test("UUID and ULID ids are accepted in either case")
    func idForms() throws {
        let batch = try Events.batch([
            Events.event(id: "0190B1A2-7C3D-4E5F-8A9B-0C1D2E3F4A5B"),
            Events.event(id: "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            Events.event(id: "01arz3ndektsv4rrffq69g5fav"),
        ])
        #expect(batch.events[1].id == batch.events[2].id)
    }
}

@Suite("Refused input leaves the log unchanged")
struct RefusedInputTests {
    @Test("every kind of bad input is refused and the segments stay byte for byte the same")
    func badInputChangesNothing() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog(directory: dir.path)
        _ = try log.append(Events.workload(50))
        let before = dir.segments.map { FileManager.default.contents(atPath: $0) }
        let head = FileManager.default.contents(atPath: dir.path + "/HEAD")

        let good = Array((Events.event() + "\n").utf8)
        let inputs: [(String, [UInt8])] = [
            ("empty line", good + Array("\n".utf8) + good),
            ("invalid UTF-8", good + Array(Events.event(data: #"{"x":"A"}"#).utf8).map { $0 == UInt8(ascii: "A") ? 0xC0 : $0 }),
            ("10 MB line", good + Array(Events.event(data: #"{"blob":"\#(String(repeating: "y", count: 10 << 20))"}"#).utf8)),
            (
                "deep nesting",
                good
                    + Array(
                        Events.event(data: #"{"d":\#(String(repeating: "[", count: 4000))\#(String(repeating: "]", count: 4000))}"#).utf8)
            ),
            ("duplicate keys", good + Array(Events.event(data: #"{"k":1,"k":2}"#).utf8)),
            ("non-object line", good + Array("[1,2,3]".utf8)),
        ]
        for (name, input) in inputs {
            let error = #expect(throws: LogError.self, "\(name)") { try log.append(EnvelopeParser.parse(ndjson: input, catalog: nil)) }
            #expect(error?.location == "line 2", "\(name): \(error?.description ?? "")")
        }
        #expect(dir.segments.map { FileManager.default.contents(atPath: $0) } == before)
        #expect(FileManager.default.contents(atPath: dir.path + "/HEAD") == head)
        #expect(log.size == 50)
    }
}
