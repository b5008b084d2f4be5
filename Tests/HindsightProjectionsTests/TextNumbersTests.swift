import Testing

@testable import HindsightProjections

@Suite("Numbers for texts a batch meets again")
struct TextNumbersTests {
    private func bytes(_ text: String) -> ArraySlice<UInt8> { Array(text.utf8)[...] }

    @Test func theSameTextGetsTheSameNumberAndANewOneTheNext() {
        var numbers = TextNumbers()
        #expect(numbers.number(bytes(#""cpu""#), bytes(#"{"a":"1"}"#)) == (0, true))
        #expect(numbers.number(bytes(#""mem""#), bytes(#"{"a":"1"}"#)) == (1, true))
        // A slice of other bytes reads as its own text.
        let line = Array(#"x"cpu"y"#.utf8)
        #expect(numbers.number(line[1..<6], bytes(#"{"a":"1"}"#)) == (0, false))
        #expect(numbers.count == 2)
    }

    @Test func partsAndTagsAreTextsApart() {
        var numbers = TextNumbers()
        let first = numbers.number(bytes("ab"), bytes("c")).number
        #expect(numbers.number(bytes("a"), bytes("bc")).number != first)
        #expect(numbers.number(bytes("ab"), bytes("c"), bytes("")).number == first)
        #expect(numbers.number(bytes("ab"), bytes("c"), tag: "org_2").number != first)
        #expect(numbers.number(bytes("ab"), bytes("c"), tag: "org_2").new == false)
    }

    @Test func manyTextsEachKeepTheirNumber() {
        var numbers = TextNumbers()
        let texts = (0..<5_000).map { (bytes("fn_\($0 % 97)"), bytes("prj_\($0)")) }
        let first = texts.map { numbers.number($0.0, $0.1).number }
        #expect(first == Array(0..<5_000))
        #expect(texts.map { numbers.number($0.0, $0.1) }.allSatisfy { !$0.new } && texts.map { numbers.number($0.0, $0.1).number } == first)
    }
}
