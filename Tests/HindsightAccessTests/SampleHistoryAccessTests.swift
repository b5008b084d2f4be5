import Foundation
import HindsightAccess
import Testing

/// The sample history (EventSchemas/examples/history.ndjson), decoded, in seq order.
private func history() -> [[String: Any]] {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("EventSchemas/examples/history.ndjson").path
    let text = try! String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
}

private func time(_ text: String) -> ReferenceEvaluator.Moment { .time(ReferenceEvaluator.milliseconds(text)!) }

private func permission(_ text: String) -> Permission { Permission(text)! }

/// The questions an auditor would ask of the Acme fortnight, answered by hand from the
/// history and EVENTS.md, and put to the reference evaluator that the access read model is
/// checked against.
@Suite("Access in the sample history")
struct SampleHistoryAccessTests {
    let evaluator = ReferenceEvaluator(events: history())

    private func expect(
        _ subject: String, _ wanted: String, _ resource: String, at moment: ReferenceEvaluator.Moment, allowedBy: Set<String>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let answer = evaluator.check(subject, permission(wanted), resource, at: moment)
        #expect(answer.allowed == !allowedBy.isEmpty, "\(subject) \(wanted) \(resource)", sourceLocation: sourceLocation)
        #expect(answer.by == allowedBy, "\(subject) \(wanted) \(resource)", sourceLocation: sourceLocation)
    }

    @Test func aGrantWithAnExpiryAppliesUntilThenAndNoLonger() {
        // grant_6: developer on prj_storefront for Erin, until 10 March.
        expect("usr_erin", "project:deploy", "project/prj_storefront", at: time("2026-03-05T12:00:00.000Z"), allowedBy: ["grant_6"])
        // The platform refused her on 10 March at 09:30 (seq 217): the grant had expired at midnight.
        expect("usr_erin", "project:deploy", "project/prj_storefront", at: .seq(217), allowedBy: [])
        // Frank's auditor grant ends on 31 March, after the last event.
        expect("usr_frank", "audit:export", "org/org_acme", at: time("2026-03-20T00:00:00.000Z"), allowedBy: ["grant_5"])
        expect("usr_frank", "audit:export", "org/org_acme", at: time("2026-04-01T00:00:00.000Z"), allowedBy: [])
    }

    @Test func aRevokedGrantStopsAtItsRevocation() {
        // grant_7: admin on prj_checkout for Dave, from 5 March 08:00 until revoked on 6 March 17:00.
        expect("usr_dave", "project:delete", "project/prj_checkout", at: time("2026-03-06T12:00:00.000Z"), allowedBy: ["grant_7"])
        expect("usr_dave", "project:delete", "project/prj_checkout", at: time("2026-03-07T00:00:00.000Z"), allowedBy: [])
        // His own team role (developer on Payments) never allowed it.
        expect(
            "usr_dave", "project:deploy", "project/prj_checkout", at: time("2026-03-07T00:00:00.000Z"), allowedBy: ["member:team_payments"])
    }

    @Test func aTeamGrantReachesItsCurrentMembersWhileItsRoleExists() {
        // grant_9: incident commander (database:restore among others) to the Payments team on
        // its own scope, from 13 March 12:05 until 20 March; the role is deleted on 19 March.
        expect("usr_carol", "database:restore", "database/db_orders", at: time("2026-03-15T00:00:00.000Z"), allowedBy: ["grant_9"])
        expect("usr_dave", "database:restore", "database/db_orders", at: time("2026-03-15T00:00:00.000Z"), allowedBy: ["grant_9"])
        // Dave left the team on 17 March.
        expect("usr_dave", "database:restore", "database/db_orders", at: time("2026-03-18T00:00:00.000Z"), allowedBy: [])
        expect("usr_carol", "database:restore", "database/db_orders", at: time("2026-03-18T00:00:00.000Z"), allowedBy: ["grant_9"])
        // The role is deleted: its grants confer nothing, before their expiry.
        expect("usr_carol", "database:restore", "database/db_orders", at: time("2026-03-19T10:00:00.000Z"), allowedBy: [])
    }

    @Test func aTransferredProjectLeavesWhatTheOldTeamsRolesReached() {
        // Erin reads storefront as a Platform viewer until it moves to Payments on 13 March.
        expect(
            "usr_erin", "project:read", "project/prj_storefront", at: time("2026-03-12T12:00:00.000Z"), allowedBy: ["member:team_platform"])
        expect("usr_erin", "project:read", "project/prj_storefront", at: time("2026-03-14T12:00:00.000Z"), allowedBy: [])
        // And Payments developers reach it from then on, with what is beneath it.
        expect(
            "usr_carol", "database:query", "database/db_cache", at: time("2026-03-14T12:00:00.000Z"), allowedBy: ["member:team_payments"])
    }

    @Test func nothingReachesADeletedEntityOrWhatIsBeneathIt() {
        // prj_legacy is deleted on 15 March 08:15; Alice owns the org.
        expect("usr_alice", "project:read", "project/prj_legacy", at: time("2026-03-15T08:00:00.000Z"), allowedBy: ["grant_1"])
        expect("usr_alice", "project:read", "project/prj_legacy", at: time("2026-03-15T09:00:00.000Z"), allowedBy: [])
        expect("usr_alice", "function:read", "function/fn_legacy_report", at: time("2026-03-15T09:00:00.000Z"), allowedBy: [])
    }

    @Test func aTokenActsForItsOwnerWithinItsScopesUntilRevoked() {
        // tok_ci_checkout: Carol's, scopes build:* and function:deploy, revoked on 16 March 08:00.
        // Carol may deploy the checkout function three ways: as a Payments developer, as
        // release manager of checkout (grant_2), and through her team's incident commander
        // grant (grant_9).
        expect(
            "tok_ci_checkout", "function:deploy", "function/fn_checkout_api", at: time("2026-03-15T00:00:00.000Z"),
            allowedBy: ["member:team_payments", "grant_2", "grant_9"])
        // Carol may query the orders database; the token's scopes do not reach that.
        expect("tok_ci_checkout", "database:query", "database/db_orders", at: time("2026-03-15T00:00:00.000Z"), allowedBy: [])
        expect("tok_ci_checkout", "function:deploy", "function/fn_checkout_api", at: time("2026-03-16T09:00:00.000Z"), allowedBy: [])
        // tok_deploy_bot holds grant_8 (developer on storefront) itself, and acts for Bob, an org admin.
        expect(
            "tok_deploy_bot", "project:deploy", "project/prj_storefront", at: time("2026-03-08T00:00:00.000Z"),
            allowedBy: ["grant_4", "grant_8", "member:team_platform"])
    }

    @Test func anAdminMayDoAllButDeleteTheOrg() {
        // At seq 24 Bob has just been made admin of the org (grant_4); he is also a Platform admin.
        expect("usr_bob", "org:delete", "org/org_acme", at: .seq(24), allowedBy: [])
        expect("usr_bob", "org:update", "org/org_acme", at: .seq(24), allowedBy: ["grant_4"])
        expect("usr_alice", "org:delete", "org/org_acme", at: .seq(1), allowedBy: ["grant_1"])
        // Before seq 24 Bob's only role is on the Platform team.
        expect("usr_bob", "org:update", "org/org_acme", at: .seq(23), allowedBy: [])
    }
}
