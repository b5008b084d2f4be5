import Foundation
import HindsightAccess
import HindsightTestSupport
import Testing

/// Grants whose scope is an entity below a project (EVENTS.md: any entity of the ownership
/// tree), stored through the whole catalogue and answered by the access read model.
@Suite("Grants on any entity of the ownership tree")
struct EntityScopeTests {
    static let history: [String] = [
        #"{"type":"team.created","stream":"team/team_1","occurredAt":"2026-03-01T09:00:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{"team":"team_1","name":"core"}}"#,
        #"{"type":"project.created","stream":"project/prj_1","occurredAt":"2026-03-01T09:01:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{"project":"prj_1","team":"team_1","name":"shop"}}"#,
        #"{"type":"database.provisioned","stream":"database/db_2","occurredAt":"2026-03-01T09:02:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{"database":"db_2","project":"prj_1","engine":"postgres","plan":"small","region":"eu-west-1"}}"#,
        #"{"type":"database.provisioned","stream":"database/db_3","occurredAt":"2026-03-01T09:03:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{"database":"db_3","project":"prj_1","engine":"postgres","plan":"small","region":"eu-west-1"}}"#,
        #"{"type":"backup.started","stream":"database/db_2","occurredAt":"2026-03-01T09:04:00.000Z","actor":{"kind":"system","id":"backup"},"org":"org_1","data":{"backup":"bak_1","database":"db_2"}}"#,
        #"{"type":"role.granted","stream":"grant/grant_1","occurredAt":"2026-03-01T09:05:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{"grant":"grant_1","subject":"usr_7","role":"viewer","scope":"database/db_2"}}"#,
        #"{"type":"role.granted","stream":"grant/grant_2","occurredAt":"2026-03-01T09:06:00.000Z","actor":{"kind":"user","id":"usr_1"},"org":"org_1","data":{"grant":"grant_2","subject":"usr_8","role":"developer","scope":"domain/app.example.com"}}"#,
    ]

    @Test(
        "a grant on a database is stored, and covers that database and its backups but nothing beside or above them, as the reference evaluator has it"
    )
    func grantOnADatabase() throws {
        let dir = TemporaryDirectory()
        let appended = try run(
            hindsightExecutable, ["append", "--data", dir.path], stdin: Data((Self.history.joined(separator: "\n") + "\n").utf8))
        #expect(appended.status == 0, "\(appended.stderr)")
        let evaluator = ReferenceEvaluator(
            events: Self.history.map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] })
        for (resource, allowed) in [("database/db_2", true), ("backup/bak_1", true), ("database/db_3", false), ("project/prj_1", false)] {
            let check = try run(hindsightExecutable, ["check", "--data", dir.path, "usr_7", "database:read", resource, "--json"])
            #expect(check.status == (allowed ? 0 : 1), "\(check.stderr)")
            #expect(check.stdout.contains(#""allowed":\#(allowed)"#), "\(resource): \(check.stdout)")
            #expect(evaluator.check("usr_7", Permission("database:read")!, resource, at: .seq(7)).allowed == allowed, "\(resource)")
        }
        let who = try run(hindsightExecutable, ["who-can", "--data", dir.path, "database:read", "backup/bak_1", "--json"])
        #expect(who.stdout.contains(#""subject":"usr_7""#) && who.stdout.contains(#""scope":"database/db_2""#), "\(who.stdout)")
    }
}
