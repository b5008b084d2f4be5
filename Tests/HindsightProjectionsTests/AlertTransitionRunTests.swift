import Testing

@testable import HindsightProjections

@Suite("A rule's transitions kept in one row per batch")
struct AlertTransitionRunTests {
    private typealias Transition = AlertsReadModel.AlertTransition

    private func run(_ transitions: [Transition]) -> AlertTransitionRun {
        var run = AlertTransitionRun()
        for transition in transitions { run.append(transition) }
        return run
    }

    private func same(_ a: [Transition], _ b: [Transition]) -> Bool {
        a.count == b.count
            && zip(a, b).allSatisfy {
                $0.rule == $1.rule && $0.seq == $1.seq && $0.occurredAt == $1.occurredAt && $0.kind == $1.kind && $0.value == $1.value
            }
    }

    @Test func transitionsReadBackAsTheyWereWithTheirTimesInAnyOrder() throws {
        let transitions = [
            Transition(rule: "r", seq: 7, occurredAt: 1_767_225_600_000, kind: "fired", value: 845.5),
            Transition(rule: "r", seq: 9, occurredAt: 1_767_225_500_000, kind: "resolved", value: -0.25),  // recorded late
            Transition(rule: "r", seq: 300_000, occurredAt: 1_767_225_900_000, kind: "fired", value: .infinity),
            Transition(rule: "r", seq: 300_001, occurredAt: -5, kind: "resolved", value: nil),  // a removal: no value
        ]
        let stored = run(transitions)
        #expect(stored.earliest == -5 && stored.latest == 1_767_225_900_000)
        let read = try #require(AlertTransitionRun(encoded: stored.encoded()[...], rule: "r"))
        #expect(same(read.transitions, transitions))
        #expect(read.earliest == stored.earliest && read.latest == stored.latest)
        #expect(AlertTransitionRun(encoded: [][...], rule: "r")?.transitions.isEmpty == true)
        // Added later, after what is stored: the same bytes as written at once.
        let appended = run(Array(transitions[..<2])).encoded() + run(Array(transitions[2...])).encoded(after: (9, 1_767_225_500_000))
        #expect(appended == stored.encoded())
    }

    @Test func bytesThatAreNotTransitionsInSeqOrderAreRefused() {
        let stored = run([Transition(rule: "r", seq: 7, occurredAt: 100, kind: "fired", value: 1.5)]).encoded()
        #expect(AlertTransitionRun(encoded: stored.dropLast()[...], rule: "r") == nil)  // a value cut short
        #expect(AlertTransitionRun(encoded: (stored + [0, 0, 1])[...], rule: "r") == nil)  // a second transition at the same seq
        #expect(AlertTransitionRun(encoded: [7, 0, 9][...], rule: "r") == nil)  // an unknown kind
        let far: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0, 0]
        #expect(AlertTransitionRun(encoded: (stored + far)[...], rule: "r") == nil)  // a seq beyond Int64
    }
}
