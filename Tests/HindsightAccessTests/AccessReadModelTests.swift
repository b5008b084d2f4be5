import Foundation
import HindsightAccess
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightLog
import HindsightProjections
import HindsightReadSide
import HindsightTestSupport
import Testing

@Suite("The access read model")
struct AccessReadModelTests {
    /// Every question about the sample history, at every ninth moment (after an event, and
    /// just after its time) and after the last, answered by the read model from its
    /// intervals and by the reference evaluator from a replay: the same answers, with the
    /// same grants; who can do each thing is exactly whom the checks allow; and what each subject
    /// can do, grant by grant, is what the checks allow through those grants.
    @Test func everyAnswerAboutTheSampleHistoryIsTheReplaysAnswer() throws {
        let dir = TemporaryDirectory()
        let historyPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("EventSchemas/examples/history.ndjson").path
        let appended = try run(hindsightExecutable, ["append", "--data", dir.path, historyPath])
        #expect(appended.status == 0, "\(appended.stderr)")
        let events = try String(contentsOfFile: historyPath, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let reference = ReferenceEvaluator(events: events)

        let models = try Projections(source: EventSource(directory: dir.path), models: [AccessReadModel()])
        try models.catchUp(LogReader(directory: dir.path))
        let db = try #require(models.database("access"))

        // Everyone the history names, and everything (but only a few of its many builds and
        // backups, which all sit alike).
        var subjects: Set<String> = []
        var resources: Set<String> = ["org/org_acme"]
        var seen: [String: Int] = [:]
        for event in events {
            let data = event["data"] as! [String: Any]
            for case let value as String in data.values {
                if value.hasPrefix("usr_") || value.hasPrefix("tok_") { subjects.insert(value) }
            }
            for kind in ["team", "project", "build", "function", "database", "backup", "webhook", "domain"] {
                guard let id = data[kind] as? String, !resources.contains("\(kind)/\(id)") else { continue }
                if kind == "build" || kind == "backup", seen[kind, default: 0] >= 3 { continue }
                seen[kind, default: 0] += 1
                resources.insert("\(kind)/\(id)")
            }
        }
        let permissions = [
            "project:deploy", "project:delete", "project:read", "database:restore", "database:query", "function:deploy",
            "audit:export", "audit:read", "org:delete", "env:read", "build:create", "backup:create",
        ].map { Permission($0)! }

        var moments: [(ReferenceEvaluator.Moment, AsOf)] = []
        for (index, event) in events.enumerated() where index % 9 == 0 || index == events.count - 1 {
            let time = ReferenceEvaluator.milliseconds(event["occurredAt"] as! String)!
            moments.append((.seq(index + 1), .seq(UInt64(index + 1), occurredAt: time)))
            moments.append((.time(time + 1), .time(time + 1)))
        }
        let later = ReferenceEvaluator.milliseconds("2026-04-01T00:00:00.000Z")!
        moments.append((.time(later), .time(later)))

        var compared = 0
        var allowed = 0
        for (moment, when) in moments {
            let expected = reference.checker(at: moment)
            var granted: [String: [(permission: Permission, grants: Set<String>)]] = [:]
            for permission in permissions {
                for resource in resources.sorted() {
                    var everyone: [String: Set<String>] = [:]
                    for subject in subjects.sorted() {
                        let want = expected(subject, permission, resource)
                        let got = Set(try AccessReadModel.check(subject, permission, resource, at: when, in: db).map(\.grant))
                        #expect(got == want, "\(subject) \(permission) \(resource) at \(when): \(got.sorted()) != \(want.sorted())")
                        compared += 1
                        if !want.isEmpty {
                            allowed += 1
                            everyone[subject] = want
                            granted[subject, default: []].append((permission, want))
                        }
                        if got != want { return }
                    }
                    // Who can: exactly those the checks allow, through the same grants.
                    let who = try AccessReadModel.whoCan(permission, resource, at: when, in: db).mapValues { Set($0.map(\.grant)) }
                    #expect(who == everyone, "who can \(permission) \(resource) at \(when)")
                    if who != everyone { return }
                }
            }
            // What each can: every grant that allows a check, with that permission among what it
            // confers; and every permission a grant confers is allowed on its scope through it.
            for subject in subjects.sorted() {
                let holdings = try AccessReadModel.whatCan(subject, at: when, in: db)
                let byGrant = Dictionary(holdings.map { ($0.grant, Set($0.permissions)) }, uniquingKeysWith: { $0.union($1) })
                for (permission, grants) in granted[subject] ?? [] {
                    for grant in grants {
                        #expect(byGrant[grant]?.contains(permission) == true, "what can \(subject) at \(when): \(grant) \(permission)")
                    }
                }
                for holding in holdings {
                    for permission in holding.permissions where permissions.contains(permission) {
                        #expect(
                            expected(subject, permission, holding.scope).contains(holding.grant),
                            "what can \(subject) at \(when): \(holding.grant) \(permission) on \(holding.scope)")
                    }
                }
            }
        }
        #expect(compared > 50_000 && allowed > compared / 10, "\(compared) questions, \(allowed) allowed")
    }
}
