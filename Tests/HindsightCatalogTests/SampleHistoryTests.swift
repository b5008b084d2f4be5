import Foundation
import HindsightTestSupport
import Testing

/// EventSchemas/examples/history.ndjson: the story every read model is tested against.
@Suite struct SampleHistoryTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("EventSchemas/examples/history.ndjson").path

    static func events() throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    static func data(_ event: [String: Any]) -> [String: Any] { event["data"] as! [String: Any] }

    @Test func itTellsTheWholeStoryOfThePlatform() throws {
        let events = try Self.events()
        #expect(events.count >= 300)
        func of(_ type: String) -> [[String: Any]] { events.filter { $0["type"] as? String == type } }
        #expect(of("team.created").count >= 2 && of("project.created").count >= 3)
        #expect(of("member.invited").count >= 5 && of("invitation.accepted").count >= 4 && !of("invitation.revoked").isEmpty)
        #expect(of("role.granted").contains { Self.data($0)["expiresAt"] != nil } && !of("role.revoked").isEmpty)
        #expect(!of("build.succeeded").isEmpty && !of("build.failed").isEmpty && !of("build.canceled").isEmpty)
        let invocations = of("function.invoked").map(Self.data)
        #expect(invocations.filter { $0["coldStart"] as? Bool == true }.count >= 10, "a cold-start spike")
        #expect(invocations.filter { $0["status"] as? String != "ok" }.count >= 10, "an error burst")
        #expect(of("function.invoked").contains { $0["schemaVersion"] as? Int == 2 }, "both versions of function.invoked")
        let rule = try #require(of("alert.rule_defined").map(Self.data).first { $0["metric"] as? String == "http.latency_ms" })
        let threshold = try #require(rule["threshold"] as? Double)
        let latencies = of("metric.recorded").map(Self.data).filter { $0["name"] as? String == "http.latency_ms" }.compactMap {
            $0["value"] as? Double
        }
        #expect(latencies.contains { $0 > threshold } && latencies.last! < threshold, "the alert fires and resolves")
        #expect(!of("token.rotated").isEmpty && !of("token.revoked").isEmpty)
        #expect(!of("backup.completed").isEmpty && !of("backup.failed").isEmpty && !of("backup.schedule_set").isEmpty)
        #expect(!of("env_var.set").isEmpty && !of("domain.added").isEmpty && !of("domain.verified").isEmpty)
        #expect(events.last?["type"] as? String == "person.erased", "it ends with an erasure")
        let times = events.compactMap { $0["occurredAt"] as? String }
        #expect(times == times.sorted(), "in time order")
    }

    @Test func loadingItErasesThePersonItEndsWith() throws {
        let dir = TemporaryDirectory()
        let appended = try run(hindsightExecutable, ["append", "--data", dir.path, Self.path])
        #expect(appended.status == 0, "\(appended.stderr)")
        let read = try run(hindsightExecutable, ["read", "--data", dir.path, "--type", "member.invited"]).stdout
        #expect(read.contains(#""email":"[erased]""#))
        #expect(!read.contains("erin@"))
        #expect(read.contains(#""email":"carol@acme.example""#))
        #expect(try run(hindsightExecutable, ["verify", "--data", dir.path]).status == 0)
        // Loading it again is an idempotent retry: the same positions, nothing new.
        let again = try run(hindsightExecutable, ["append", "--data", dir.path, Self.path])
        #expect(again.stdout.contains(#""retry":true"#), "\(again.stdout)")
    }
}
