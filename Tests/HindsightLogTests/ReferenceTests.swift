import Testing
@testable import HindsightLog

@Suite("Entities an event names")
struct ReferenceTests {
    private func references(_ data: String) -> [String] {
        let line = #"{"seq":1,"streamVersion":1,"recordedAt":"2026-03-01T09:30:00.000Z","type":"x.y","stream":"build/b_1","org":"org_1","actor":{"kind":"user","id":"usr_9"},"data":\#(data),"occurredAt":"2026-03-01T09:30:00.000Z"}"#
        return StoredLine.references(in: Array(line.utf8)[...])
    }

    @Test func prefixedIdentifiersReferencesAndDomainsAreNamedOnceInOrder() {
        #expect(references(#"{"project":"prj_9","scope":"team/team_3","again":"prj_9"}"#) == ["project/prj_9", "team/team_3"])
        #expect(references(#"{"domain":"shop.example.com","target":"domain/api.example.com"}"#) == ["domain/shop.example.com", "domain/api.example.com"])
        // At any depth; array items count as their array's member.
        #expect(references(#"{"grants":[{"subject":"usr_2","role":"role_7"}],"domain":["a.example","b.example"]}"#)
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
        #expect(references(#"{"nested":\#(deep),"domain":"shop.example.com","b":"b_1"}"#)
                == ["project/prj_9", "domain/deep.example", "domain/shop.example.com", "build/b_1"])
    }
}
