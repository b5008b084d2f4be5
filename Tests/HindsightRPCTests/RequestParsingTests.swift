import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

/// The response's text to a request given as bytes.
private func responseText(_ server: RPCServer, _ request: [UInt8]) -> String {
    server.respond(to: request).map { String(decoding: $0, as: UTF8.self) } ?? ""
}

/// A request whose params hold `inner` under `name` (JSON text).
private func request(id: String = "7", method: String = "log.read", _ name: String, _ inner: String) -> String {
    #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":{"\#(name)":\#(inner)}}"#
}

@Suite("Requests read as RFC 8259 JSON")
struct RequestParsingTests {
    let dir: TemporaryDirectory
    let server: RPCServer

    init() throws {
        dir = try historyDirectory()
        server = RPCServer(directory: dir.path, engine: nil)
    }

    @Test(arguments: ["1e400", "-1e400", "1E+999", "123456789012345678901234567890"])
    func aNumberBeyondInt64OrDoubleIsAParameterErrorNamingTheParameter(number: String) throws {
        let response = try #require(server.call(request("limit", number)))
        #expect(response["id"] == 7)
        #expect(errorCode(response) == -32602, "\(response)")
        #expect(response["error"]?["data"]?["path"] == "/params/limit")
    }

    @Test(arguments: [#""\ud800""#, #""a\udc00b""#, #""\ud800\u0041""#, #""\udbff""#, #""x\ud800""#])
    func aLoneSurrogateIsAnErrorWithTheRequestsIdAndWhereItIs(string: String) throws {
        let response = try #require(server.call(request(method: "audit.search", "actor", string)))
        #expect(response["id"] == 7)
        #expect(errorCode(response) == -32602, "\(response)")
        #expect(response["error"]?["data"]?["path"] == "/params/actor")
        #expect(response["error"]?["message"].map { "\($0)".contains("surrogate") } == true, "\(response)")
        // A pair is one character, read as such.
        let pair = try #require(server.call(request(method: "audit.search", "actor", #""\ud83d\ude00""#)))
        #expect(pair["result"] != nil, "\(pair)")
    }

    @Test func aLoneSurrogateOutsideParamsIsAnInvalidRequestWithItsId() throws {
        let response = try #require(server.call(#"{"jsonrpc":"2.0","id":"r1","method":"log.stats","note":"\udfff"}"#))
        #expect(response["id"] == "r1")
        #expect(errorCode(response) == -32600)
        #expect(response["error"]?["data"]?["path"] == "/note")
        let inKey = try #require(server.call(#"{"jsonrpc":"2.0","id":"r2","method":"log.read","params":{"\ud800":1}}"#))
        #expect(inKey["id"] == "r2" && errorCode(inKey) == -32602, "\(inKey)")
    }

    @Test func nestingIsReadUpToTheLimitAndBeyondItIsAnErrorWithTheRequestsId() throws {
        // 600 levels: read, and refused as a value the parameter does not take.
        let deep = request("types", String(repeating: "[", count: 600) + String(repeating: "]", count: 600))
        let read = try #require(server.call(deep))
        #expect(read["id"] == 7 && errorCode(read) == -32602, "\(read)")
        #expect(read["error"]?["data"]?["path"] == "/params/types/0")
        // 5,000 levels: beyond the 2,048 a request may have; the error says where it goes too deep.
        let deeper = request("types", String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000))
        let refused = try #require(server.call(deeper))
        #expect(refused["id"] == 7 && errorCode(refused) == -32602)
        guard case .string(let path)? = refused["error"]?["data"]?["path"], case .string(let message)? = refused["error"]?["message"] else {
            Issue.record("\(refused)")
            return
        }
        #expect(path == "/params/types" + String(repeating: "/0", count: 2046))
        #expect(message.contains("2048"))
        // The limit counts the request's own object: 2,048 levels in all are read.
        let atLimit = request("types", String(repeating: "[", count: 2046) + String(repeating: "]", count: 2046))
        #expect(server.call(atLimit)?["error"]?["data"]?["path"] == "/params/types/0")
        // Deep nesting outside params, and a deep text that is not JSON after all.
        let outside =
            #"{"jsonrpc":"2.0","id":8,"method":"log.stats","x":"# + String(repeating: "{\"a\":", count: 3000) + "1"
            + String(repeating: "}", count: 3000) + "}"
        let invalid = try #require(server.call(outside))
        #expect(invalid["id"] == 8 && errorCode(invalid) == -32600, "\(invalid)")
        let broken =
            #"{"jsonrpc":"2.0","id":9,"method":"log.stats","x":"# + String(repeating: "[", count: 5000)
            + String(repeating: "]", count: 4999) + "}"
        #expect(errorCode(server.call(broken)) == -32700)
    }

    @Test(arguments: ["12345678901234567890", "-0", "1.50", "1e2", "9223372036854775807", "-9223372036854775808", "1e400", "0.1"])
    func aNumericIdIsEchoedExactlyAsWritten(id: String) {
        let text = responseText(server, Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"log.stats"}"#.utf8))
        #expect(text.hasPrefix(#"{"jsonrpc":"2.0","id":\#(id),"result":"#), "\(text.prefix(200))")
        // Also inside a batch, and with an error.
        let batch = responseText(server, Array(#"[{"jsonrpc":"2.0","id":\#(id),"method":"nope"}]"#.utf8))
        #expect(batch.hasPrefix(#"[{"jsonrpc":"2.0","id":\#(id),"error":"#), "\(batch.prefix(200))")
    }

    @Test func aKeyTwiceIsAnErrorSayingWhichAndWhere() throws {
        let inParams = try #require(server.call(#"{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"limit":1,"limit":2}}"#))
        #expect(errorCode(inParams) == -32602 && inParams["id"] == 1)
        #expect(inParams["error"]?["data"]?["path"] == "/params/limit")
        let nested = try #require(server.call(#"{"jsonrpc":"2.0","id":2,"method":"log.read","params":{"types":[{"a/b":1,"a/b":2}]}}"#))
        #expect(nested["error"]?["data"]?["path"] == "/params/types/0/a~1b", "\(nested)")
        let method = try #require(server.call(#"{"jsonrpc":"2.0","id":3,"method":"log.stats","method":"log.read"}"#))
        #expect(errorCode(method) == -32600 && method["id"] == 3)
        #expect(method["error"]?["data"]?["path"] == "/method")
        let params = try #require(server.call(#"{"jsonrpc":"2.0","id":4,"method":"log.read","params":{},"params":{"limit":1}}"#))
        #expect(errorCode(params) == -32600 && params["error"]?["data"]?["path"] == "/params", "\(params)")
        // Which id would be answered is not known: none is.
        let id = try #require(server.call(#"{"jsonrpc":"2.0","id":5,"id":6,"method":"log.stats"}"#))
        #expect(errorCode(id) == -32600 && id["id"] == .null)
        // An event's own duplicate key is the engine's to refuse (log.append hands events on as
        // their text), naming the event and the field.
        let duplicated =
            #"{"type":"build.started","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{"build":"b_1","build":"b_2","project":"prj_1","runner":"r"}}"#
        let event = try #require(server.call(#"{"jsonrpc":"2.0","id":10,"method":"log.append","params":{"events":[\#(duplicated)]}}"#))
        #expect(
            event["error"]?["data"]?["path"] == "/params/events/0/data/build" && event["error"]?["data"]?["rule"] == "duplicateKey",
            "\(event)")
        #expect(event["id"] == 10)
    }

    @Test func eachRequestOfABatchGetsItsOwnProblemAndId() throws {
        let deep = String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000)
        let text =
            #"[{"jsonrpc":"2.0","id":1,"method":"log.read","params":{"limit":1,"limit":1}},{"jsonrpc":"2.0","id":2,"method":"log.stats"},"#
            + #"{"jsonrpc":"2.0","id":3,"method":"log.read","params":{"types":\#(deep)}},{"jsonrpc":"2.0","id":4,"method":"log.read","params":{"org":"\udead"}}]"#
        guard case .array(let items)? = server.call(text) else {
            Issue.record("not a batch response")
            return
        }
        #expect(items.count == 4)
        #expect(items.map { $0["id"] } == [1, 2, 3, 4])
        #expect(items.map(errorCode) == [-32602, nil, -32602, -32602])
        #expect(items[0]["error"]?["data"]?["path"] == "/params/limit")
        #expect(items[3]["error"]?["data"]?["path"] == "/params/org")
    }

    @Test(arguments: [
        "", " ", "{", "}", #"{"jsonrpc":"2.0","id":1,"method":"log.stats"} x"#, #"{"jsonrpc":"2.0","id":01,"method":"log.stats"}"#,
        #"{"jsonrpc":"2.0","id":1.,"method":"log.stats"}"#, #"{"jsonrpc":"2.0","id":.5,"method":"log.stats"}"#,
        #"{"jsonrpc":"2.0","id":+1,"method":"log.stats"}"#, #"{"jsonrpc":"2.0","id":1e,"method":"log.stats"}"#,
        #"{"jsonrpc":"2.0","id":-,"method":"log.stats"}"#, #"{"jsonrpc":"2.0","id":NaN,"method":"log.stats"}"#,
        #"{"jsonrpc":"2.0","id":Infinity,"method":"log.stats"}"#, #"{"jsonrpc":"2.0","id":'1',"method":"log.stats"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"log.stats",}"#, #"{"jsonrpc":"2.0","id":[1,],"method":"log.stats"}"#,
        #"{"jsonrpc":"2.0","id":tru,"method":"log.stats"}"#, #"{"jsonrpc":"2.0","id":"\x","method":"log.stats"}"#,
        #"{"jsonrpc":"2.0","id":"\u12","method":"log.stats"}"#, "{\"jsonrpc\":\"2.0\",\"id\":\"a\u{1}b\",\"method\":\"log.stats\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"a\tb\",\"method\":\"log.stats\"}", #"{jsonrpc:"2.0","id":1,"method":"log.stats"}"#,
        #"{"jsonrpc":"2.0" "id":1,"method":"log.stats"}"#, #"{"jsonrpc":"2.0","id":1,"method":"log.stats"}}"#,
        "\u{FEFF}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"log.stats\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"log.stats\"}\u{0}",
        "\u{0B}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"log.stats\"}",
    ])
    func textThatIsNotJSONIsAParseErrorWithANullId(text: String) throws {
        let response = try #require(server.call(text), "no response to \(text.debugDescription)")
        #expect(errorCode(response) == -32700 && response["id"] == .null, "\(text.debugDescription) → \(response)")
        // Nor is a string whose bytes are not UTF-8: overlong forms, surrogates, beyond U+10FFFF,
        // stray or missing continuation bytes.
        let invalid: [[UInt8]] = [
            [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF0, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xF5, 0x80, 0x80, 0x80], [0x80], [0xC3], [0xE2, 0x82], [0xFF], [0xC3, 0x28],
        ]
        for bytes in invalid {
            let text = Array(#"{"jsonrpc":"2.0","id":1,"method":"log.stats","x":""#.utf8) + bytes + Array(#""}"#.utf8)
            let response = try #require(server.respond(to: text).flatMap { JSONValue(parsing: $0) })
            #expect(errorCode(response) == -32700 && response["id"] == .null, "\(bytes) → \(response)")
        }
    }

    @Test func textInUTF16IsNotARequest() throws {
        // RFC 8259: JSON exchanged between systems is UTF-8.
        let utf16 = Array(#"{"jsonrpc":"2.0","id":1,"method":"log.stats"}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let response = try #require(server.respond(to: utf16).flatMap { JSONValue(parsing: $0) })
        #expect(errorCode(response) == -32700, "\(response)")
    }

    @Test func valuesAreReadAsTheyWereWritten() throws {
        let text =
            #"{"s":"a\"\\\/\b\f\n\r\t\u0000\u00e9\u20AC\ud83d\ude00é€😀","i":-9223372036854775808,"j":9223372036854775807,"n":-0.5e-3,"z":-0,"#
            + #""big":18446744073709551616,"t":true,"f":false,"u":null,"a":[ 1 , [ ] , { } ],"o":{"":""}}"#
        let value = try #require(JSONValue(parsing: Array(text.utf8)))
        #expect(value["s"] == .string("a\"\\/\u{8}\u{C}\n\r\t\u{0}é€😀é€😀"))
        #expect(value["i"] == .integer(.min) && value["j"] == .integer(.max) && value["z"] == .integer(0))
        #expect(value["n"] == .number(-0.0005) && value["big"] == .number(18_446_744_073_709_551_616))
        #expect(value["t"] == true && value["f"] == false && value["u"] == .null)
        #expect(value["a"] == [1, [], [:]] && value["o"] == ["": ""])
        // What it writes, it reads back.
        #expect(JSONValue(parsing: value.text) == value)
        // What a request cannot be read from is not a value.
        #expect(JSONValue(parsing: Array(#"{"a":1,"a":1}"#.utf8)) == nil)
        #expect(JSONValue(parsing: Array(#"["\ud800"]"#.utf8)) == nil)
    }
}
