import Testing

@testable import HindsightCore

@Suite("Entities an event names")
struct ReferenceTests {
    private func references(_ data: String) -> [String] {
        let line =
            #"{"seq":1,"streamVersion":1,"recordedAt":"2026-03-01T09:30:00.000Z","type":"x.y","stream":"build/b_1","org":"org_1","actor":{"kind":"user","id":"usr_9"},"data":\#(data),"occurredAt":"2026-03-01T09:30:00.000Z"}"#
        return StoredLine.references(in: Array(line.utf8)[...])
    }

    @Test func prefixedIdentifiersReferencesAndDomainsAreNamedOnceInOrder() {
        #expect(references(#"{"project":"prj_9","scope":"team/team_3","again":"prj_9"}"#) == ["project/prj_9", "team/team_3"])
        #expect(
            references(#"{"domain":"shop.example.com","target":"domain/api.example.com"}"#) == [
                "domain/shop.example.com", "domain/api.example.com",
            ])
        // At any depth; array items count as their array's member.
        #expect(
            references(#"{"grants":[{"subject":"usr_2","role":"role_7"}],"domain":["a.example","b.example"]}"#)
                == ["user/usr_2", "role/role_7", "domain/a.example", "domain/b.example"])
        #expect(references(#"{"invitation":"inv_4","token":"tok_5"}"#) == ["invitation/inv_4", "token/tok_5"])
    }

    @Test func plainValuesSealedValuesAndUnknownKindsNameNothing() {
        #expect(references(#"{"name":"prj_ with space","email":"enc:v1:k1:AbC+/=","reason":"done","scope":"planet/earth"}"#).isEmpty)
        // A prefix alone is no identifier; the actor and stream are not part of data.
        #expect(references(#"{"project":"prj_","count":3,"ok":true,"none":null}"#).isEmpty)
    }

    @Test func escapedValuesAreReadUnescaped() {
        #expect(references(#"{"project":"prj\u005f9","scope":"team\/team_3"}"#) == ["project/prj_9", "team/team_3"])
    }

    @Test func valuesNestedDeeperThanTheKeptLevelsAreStillFoundAndTheScanGoesOnAfterThem() {
        let deep = String(repeating: "[", count: 100) + #""prj_9",{"domain":"deep.example"}"# + String(repeating: "]", count: 100)
        #expect(
            references(#"{"nested":\#(deep),"domain":"shop.example.com","b":"b_1"}"#)
                == ["project/prj_9", "domain/deep.example", "domain/shop.example.com", "build/b_1"])
    }
}

@Suite("Fields of an event's data")
struct DataFieldsTests {
    private func fields(_ data: String) -> StoredLine.DataFields {
        let line =
            #"{"seq":1,"streamVersion":1,"recordedAt":"2026-03-01T09:30:00.000Z","type":"x.y","stream":"build/b_1","org":"org_1","actor":{"kind":"user","id":"usr_9"},"data":\#(data),"occurredAt":"2026-03-01T09:30:00.000Z"}"#
        // A slice in the middle of other bytes, as lines are read from a chunk.
        let chunk = Array(("{}\n" + line + "\n{}").utf8)
        return StoredLine.DataFields(chunk[3..<(3 + line.utf8.count)])
    }

    @Test func stringsNumbersBooleansAndObjectsReadAsTheirTypes() {
        let data = fields(
            #"{"build":"b_7","durationMs":48529,"hit":true,"value":-2.5e1,"tags":{"project":"prj_1","note":"a,b}"},"list":[1,{"x":"]"}],"last":null}"#
        )
        #expect(data["build"] == "b_7")
        #expect(data.integer("durationMs") == 48529)
        #expect(data.bool("hit") == true)
        #expect(data.number("value") == -25)
        #expect(data.strings(in: "tags")?.map { "\($0.name)=\($0.value)" } == ["project=prj_1", "note=a,b}"])
        #expect(data["list"] == nil && data["last"] == nil && data["absent"] == nil)
        #expect(data["durationMs"] == nil && data.integer("build") == nil)
    }

    @Test func integersReadFromTheirDigitsToTheEdgesOfInt64() {
        let data = fields(
            #"{"a":-17,"b":0,"c":9223372036854775807,"d":-9223372036854775808,"e":9223372036854775808,"f":1.5,"g":2e3,"h":"12"}"#)
        #expect(data.integer("a") == -17 && data.integer("b") == 0)
        #expect(data.integer("c") == .max && data.integer("d") == .min)
        #expect(data.integer("e") == nil && data.integer("f") == nil && data.integer("g") == nil && data.integer("h") == nil)
        #expect(data.bool("a") == nil)
    }

    @Test func aValuesTextIsTheLinesOwn() {
        let data = fields(#"{"name":"cpu","tags":{"b":"2","a":"1"},"n":3}"#)
        #expect(data.text("name").map { String(decoding: $0, as: UTF8.self) } == #""cpu""#)
        #expect(data.text("tags").map { String(decoding: $0, as: UTF8.self) } == #"{"b":"2","a":"1"}"#)
        #expect(data.text("n").map { String(decoding: $0, as: UTF8.self) } == "3" && data.text("absent") == nil)
    }

    @Test func escapedStringsAreReadUnescaped() {
        let data = fields(#"{"reason":"said \"no\"","path":"a\\b","name\"odd":"x"}"#)
        #expect(data["reason"] == #"said "no""#)
        #expect(data["path"] == #"a\b"#)
    }

    @Test func wideDataHasEveryMemberAndEmptyDataNone() {
        let wide = "{" + (0..<100).map { #""f\#($0)":\#($0)"# }.joined(separator: ",") + "}"
        let data = fields(wide)
        #expect((0..<100).allSatisfy { data.integer("f\($0)") == Int64($0) })
        #expect(fields("{}")["f0"] == nil)
    }
}

@Suite("Reading a stored line's type without parsing it")
struct PlainTypeTests {
    private func type(_ line: String) -> String? {
        StoredLine.plainType(of: Array(line.utf8)[...]).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func aCanonicalLineGivesItsTypeAndAnythingElseAsksToBeParsed() {
        let head = #"{"seq":7,"streamVersion":2,"recordedAt":"2026-03-01T09:30:00.000Z","#
        #expect(type(head + #""type":"build.queued","stream":"build/b_1","data":{"type":"x.y"}}"#) == "build.queued")
        // Escaped, or not right after recordedAt (a data member's "type" never counts): parse.
        #expect(type(head + #""type":"build\u002equeued","stream":"build/b_1"}"#) == nil)
        #expect(type(head + #""stream":"build/b_1","data":{"type":"x.y"}}"#) == nil)
        #expect(type(#"{"seq":7,"type":"build.queued"}"#) == nil)
        #expect(type(head + #""type":"build.queu"#) == nil)
    }
}
