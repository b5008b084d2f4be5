import Foundation
import HindsightCore
import HindsightRPC
import HindsightTestSupport
import Testing

@Suite("rbac.check")
struct AccessMethodTests {
    @Test func anAnswerNamesTheGrantsThatAllowItAtTheMomentAskedAbout() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        func check(_ params: String) -> JSONValue? {
            server.call(#"{"jsonrpc":"2.0","id":1,"method":"rbac.check","params":{\#(params)}}"#)?["result"]
        }
        let question = #""subject":"usr_erin","permission":"project:deploy","resource":"project/prj_storefront""#
        let during = check(question + #","at":"2026-03-05T12:00:00.000Z""#)
        #expect(during?["allowed"] == true)
        #expect(during?["grants"] == [["grant": "grant_6", "role": "developer", "scope": "project/prj_storefront"]])
        // At seq 217, when the platform refused her, the grant had expired.
        let refused = check(question + #","at":217"#)
        #expect(refused?["allowed"] == false)
        #expect(refused?["position"] == 217)
        #expect(check(question)?["allowed"] == false)
        // The command line answers the same.
        let cli = try run(
            hindsightExecutable,
            [
                "check", "--data", dir.path, "usr_erin", "project:deploy", "project/prj_storefront", "--at", "2026-03-05T12:00:00.000Z",
                "--json",
            ])
        #expect(cli.status == 0 && cli.stdout.contains(#""grant":"grant_6""#))
        // As a table; and a denial is exit status 1, so that a script can tell.
        let table = try run(
            hindsightExecutable,
            ["check", "--data", dir.path, "usr_erin", "project:deploy", "project/prj_storefront", "--at", "2026-03-05"])
        #expect(
            table.status == 0 && table.stdout.hasPrefix("allowed") && table.stdout.contains("grant_6"), "\(table.stdout)\(table.stderr)")
        let denied = try run(
            hindsightExecutable, ["check", "--data", dir.path, "usr_erin", "project:deploy", "project/prj_storefront", "--at", "217"])
        #expect(denied.status == 1 && denied.stdout.hasPrefix("denied"), "\(denied.stdout)\(denied.stderr)")
        let unanswered = try run(hindsightExecutable, ["check", "--data", dir.path, "erin", "project:deploy", "project/prj_storefront"])
        #expect(unanswered.status == 2 && unanswered.stderr.contains("subject must be a user"), "\(unanswered.stderr)")
    }

    @Test func aDenialNamesTheGrantsThatWouldHaveAllowedItAndWhyTheyDidNot() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        func misses(_ params: String) -> [String] {
            let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"rbac.check","params":{\#(params)}}"#)
            #expect(response?["result"]?["allowed"] == false)
            guard case .array(let entries)? = response?["result"]?["wouldHave"] else { return [] }
            return entries.map { entry in
                guard case .string(let grant)? = entry["grant"], case .string(let why)? = entry["why"] else { return "?" }
                return grant + " " + why
            }
        }
        // Erin at seq 217: her developer grant had expired.
        #expect(
            misses(#""subject":"usr_erin","permission":"project:deploy","resource":"project/prj_storefront","at":217"#) == [
                "grant_6 expired"
            ])
        // Dave on 7 March: his admin grant had been revoked.
        #expect(
            misses(#""subject":"usr_dave","permission":"project:delete","resource":"project/prj_checkout","at":"2026-03-07T00:00:00.000Z""#)
                == ["grant_7 revoked"])
        // Carol's CI token may not query her database: its scopes leave that out.
        #expect(
            misses(
                #""subject":"tok_ci_checkout","permission":"database:query","resource":"database/db_orders","at":"2026-03-15T00:00:00.000Z""#
            )
                == ["member:team_payments outside the token's scopes"])
        // Once revoked, the token can use nothing its owner holds.
        let revoked = misses(
            #""subject":"tok_ci_checkout","permission":"function:deploy","resource":"function/fn_checkout_api","at":"2026-03-16T09:00:00.000Z""#
        )
        #expect(
            Set(revoked) == [
                "grant_2 the token is revoked or expired", "grant_9 the token is revoked or expired",
                "member:team_payments the token is revoked or expired",
            ])
        // Nothing would have let Erin deploy checkout.
        #expect(
            misses(#""subject":"usr_erin","permission":"project:deploy","resource":"project/prj_checkout","at":"2026-03-04T11:00:00.000Z""#)
                .isEmpty)
    }

    /// A custom role deleted, a resource deleted and a membership ended each explain a denial,
    /// with when and (for the last two) what.
    @Test func aDenialNamesWhatADeletedRoleOrResourceOrAnEndedMembershipWouldHaveAllowed() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        func misses(_ params: String) -> Set<String> {
            let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"rbac.check","params":{\#(params)}}"#)
            #expect(response?["result"]?["allowed"] == false)
            guard case .array(let entries)? = response?["result"]?["wouldHave"] else { return [] }
            return Set(
                entries.map { entry in
                    [entry["grant"], entry["why"], entry["since"], entry["entity"]].map {
                        if case .string(let text)? = $0 { text } else { "-" }
                    }.joined(separator: " ")
                })
        }
        // The incident commanders' role was deleted on 19 March: Carol's team grant of it no
        // longer lets her restore the orders database.
        let role = #""subject":"usr_carol","permission":"database:restore","resource":"database/db_orders""#
        #expect(misses(role + #","at":"2026-03-19T10:00:00Z""#) == ["grant_9 role deleted 2026-03-19T09:00:00.000Z -"])
        // The day before, it did.
        let before = server.call(#"{"jsonrpc":"2.0","id":1,"method":"rbac.check","params":{\#(role),"at":"2026-03-18T10:00:00Z"}}"#)
        #expect(before?["result"]?["allowed"] == true)
        // prj_legacy was deleted on 15 March: Bob's admin grant and team role reach it no more.
        #expect(
            misses(#""subject":"usr_bob","permission":"project:deploy","resource":"project/prj_legacy""#) == [
                "grant_4 resource deleted 2026-03-15T08:15:00.000Z project/prj_legacy",
                "member:team_platform resource deleted 2026-03-15T08:15:00.000Z project/prj_legacy",
            ])
        // Two days later its grant would have expired too; the deletion, first, is what ended it.
        #expect(misses(role + #","at":"2026-03-21T10:00:00Z""#) == ["grant_9 role deleted 2026-03-19T09:00:00.000Z -"])
        // Carol's CI token acts for her within its scopes: revoked on 16 March, it could use
        // nothing she held; and her team grant's role was deleted on 19 March.
        #expect(
            misses(
                #""subject":"tok_ci_checkout","permission":"function:deploy","resource":"function/fn_checkout_api","at":"2026-03-19T10:00:00Z""#
            ) == [
                "grant_2 the token is revoked or expired - -", "member:team_payments the token is revoked or expired - -",
                "grant_9 role deleted 2026-03-19T09:00:00.000Z -",
            ])
        // Dave left the payments team on 17 March: its grant and his role there end with it.
        #expect(
            misses(
                #""subject":"usr_dave","permission":"function:deploy","resource":"function/fn_checkout_api","at":"2026-03-18T00:00:00Z""#)
                == [
                    "grant_7 revoked 2026-03-06T17:00:00.000Z -",
                    "grant_9 membership ended 2026-03-17T17:00:00.000Z team/team_payments",
                    "member:team_payments membership ended 2026-03-17T17:00:00.000Z team/team_payments",
                ])
    }

    @Test func theAccessReviewListsEveryRoleInForceWithItsGrantAndHowItIsHeld() throws {
        let dir = try historyDirectory()
        let keys = TemporaryDirectory()
        let key = keys.path + "/signing.key"
        let publicKey = try run(hindsightExecutable, ["keys", "init", "--key", key]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let out = keys.path + "/review"
        let exported = try run(
            hindsightExecutable,
            [
                "export", "access-review", "--data", dir.path, "--key", key, "--org", "org_acme", "--at", "2026-03-15T00:00:00.000Z",
                "--since", "2026-03-08T00:00:00.000Z", "--format", "jsonl", "--out", out,
            ])
        #expect(exported.status == 0, "\(exported.stdout)")
        let rows = try String(contentsOfFile: out + "/access-review.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
        func row(_ subject: String, _ grant: String) -> [String: String]? {
            rows.first { $0["subject"] == subject && $0["grant"] == grant }
        }
        #expect(
            row("usr_frank", "grant_5") == [
                "subject": "usr_frank", "role": "auditor", "scope": "org/org_acme", "grant": "grant_5",
                "grantedAt": "2026-03-02T16:00:00.000Z",
                "grantedBy": "usr_bob", "expiresAt": "2026-03-31T00:00:00.000Z", "heldAs": "direct",
            ])
        #expect(row("usr_dave", "grant_9")?["heldAs"] == "via team/team_payments")
        #expect(row("usr_grace", "member:team_data")?["role"] == "admin")
        #expect(row("tok_ci_checkout", "grant_2")?["heldAs"] == "via token owner usr_carol")
        // Expired and revoked grants, and the expired deploy token, hold nothing any more.
        #expect(row("usr_erin", "grant_6") == nil && row("usr_dave", "grant_7") == nil)
        #expect(!rows.contains { $0["subject"] == "tok_deploy_bot" })
        let changes = try String(contentsOfFile: out + "/changes.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
        #expect(
            changes.map { "\($0["change"] ?? "?") \($0["what"] ?? "?") \($0["by"] ?? "-")" } == [
                "expired grant_6 -", "role changed member:team_data usr_alice", "granted grant_9 usr_alice",
            ])

        // The same review as CSV: a header, then one line per row.
        let csvOut = keys.path + "/review-csv"
        #expect(
            try run(
                hindsightExecutable,
                [
                    "export", "access-review", "--data", dir.path, "--key", key, "--org", "org_acme", "--at", "2026-03-15T00:00:00.000Z",
                    "--format", "csv", "--out", csvOut,
                ]
            ).status == 0)
        let csv = try String(contentsOfFile: csvOut + "/access-review.csv", encoding: .utf8).split(separator: "\r\n")
        #expect(csv.first == "subject,role,scope,grant,grantedAt,grantedBy,expiresAt,heldAs")
        #expect(csv.count == rows.count + 1)

        // A bundle the reviewer can check: both verifiers accept it as written, and refuse it
        // once a row is taken out.
        let verifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/verify_export.py").path
        let verdicts = { () throws -> [(status: Int32, output: String)] in
            [
                try run(hindsightExecutable, ["verify-export", out, "--key", publicKey]),
                try run("/usr/bin/env", ["python3", verifier, out, "--key", publicKey]),
            ]
            .map { ($0.status, $0.stdout + $0.stderr) }
        }
        for verdict in try verdicts() {
            #expect(verdict.status == 0 && verdict.output.contains("hindsight-access-review/1"), "\(verdict.output)")
        }
        let reviewed = try String(contentsOfFile: out + "/access-review.jsonl", encoding: .utf8).split(separator: "\n")
        writeFile(out + "/access-review.jsonl", Data((reviewed.dropFirst().joined(separator: "\n") + "\n").utf8))
        for verdict in try verdicts() {
            #expect(
                verdict.status == 2 && verdict.output.contains("access-review.jsonl")
                    && verdict.output.contains("the manifest says \(reviewed.count)"),
                "\(verdict.output)")
        }
    }

    @Test func whoCanNamesEverySubjectWithItsGrants() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        let response = server.call(
            #"{"jsonrpc":"2.0","id":1,"method":"rbac.whoCan","params":{"permission":"database:restore","resource":"database/db_orders","at":"2026-03-15T00:00:00.000Z"}}"#
        )
        guard case .array(let subjects)? = response?["result"]?["subjects"] else {
            Issue.record("\(String(describing: response))")
            return
        }
        // The org's owner and admin, and the Payments team through its incident commander grant.
        let pairs = Set(
            subjects.compactMap { entry -> String? in
                guard case .string(let subject)? = entry["subject"], case .string(let grant)? = entry["grant"] else { return nil }
                return subject + " " + grant
            })
        #expect(
            pairs.isSuperset(of: ["usr_alice grant_1", "usr_bob grant_4", "usr_carol grant_9", "usr_dave grant_9"]), "\(pairs.sorted())")
        #expect(!pairs.contains { $0.hasPrefix("usr_erin") })
    }

    @Test func whatCanListsTheGrantsInForceATokensNarrowedToItsScopes() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        func grants(_ subject: String, at: String) -> [String: [String]] {
            let response = server.call(
                #"{"jsonrpc":"2.0","id":1,"method":"rbac.whatCan","params":{"subject":"\#(subject)","at":"\#(at)"}}"#)
            guard case .array(let entries)? = response?["result"]?["grants"] else { return [:] }
            var out: [String: [String]] = [:]
            for entry in entries {
                guard case .string(let grant)? = entry["grant"], case .array(let permissions)? = entry["permissions"] else { continue }
                out[grant] = permissions.compactMap { if case .string(let text) = $0 { text } else { nil } }
            }
            return out
        }
        // Erin on 5 March: her developer grant on storefront and her viewer role on Platform.
        let erin = grants("usr_erin", at: "2026-03-05T12:00:00.000Z")
        #expect(Set(erin.keys) == ["grant_6", "member:team_platform"])
        #expect(erin["grant_6"]?.contains("project:deploy") == true)
        #expect(erin["member:team_platform"]?.contains("env:read") == false)
        // Carol's CI token: only build:* and function:deploy of what Carol holds.
        let token = grants("tok_ci_checkout", at: "2026-03-15T00:00:00.000Z")
        #expect(!token.isEmpty)
        for permissions in token.values {
            #expect(permissions.allSatisfy { $0.hasPrefix("build:") || $0 == "function:deploy" }, "\(permissions)")
        }
        #expect(grants("tok_ci_checkout", at: "2026-03-17T00:00:00.000Z").isEmpty)
    }

    @Test func changesListEveryGainAndLossInThePeriodWithWhatCausedIt() throws {
        let dir = try historyDirectory()
        let server = RPCServer(directory: dir.path, engine: nil)
        func changes(_ params: String) -> [String] {
            let response = server.call(#"{"jsonrpc":"2.0","id":1,"method":"rbac.changes","params":{\#(params)}}"#)
            guard case .array(let entries)? = response?["result"]?["changes"] else { return ["\(String(describing: response))"] }
            return entries.map { entry in
                let field = { (name: String) -> String in
                    switch entry[name] {
                    case .string(let text)?: text
                    case .integer(let number)?: String(number)
                    default: "-"
                    }
                }
                return
                    ([field("at"), field("seq"), field("change"), field("what"), field("by")]
                    + (entry["reason"] == nil ? [] : [field("reason")]))
                    .joined(separator: " ")
            }
        }
        // 5 to 10 March: Dave's admin grant made by Carol and revoked by Bob (with his reason),
        // the deploy bot's grant, Erin's grant expiring at midnight (no event marks it, no one
        // made it), the release manager role redefined.
        #expect(
            changes(#""from":"2026-03-05T00:00:00.000Z","to":"2026-03-10T12:00:00.000Z""#) == [
                "2026-03-05T08:00:00.000Z 128 granted grant_7 usr_carol",
                "2026-03-06T17:00:00.000Z 180 revoked grant_7 usr_bob granted by mistake: admin instead of developer",
                "2026-03-07T09:00:00.000Z 186 granted grant_8 usr_bob",
                "2026-03-10T00:00:00.000Z - expired grant_6 -",
                "2026-03-10T09:00:00.000Z 216 redefined role_release_manager usr_bob",
            ])
        // 16 to 20 March on the Payments team: Dave leaves; its incident commander grant
        // expires on 20 March (its role was deleted on 19 March, which the role's own change shows).
        #expect(
            changes(#""from":"2026-03-16T00:00:00.000Z","to":"2026-03-21T00:00:00.000Z","scope":"team/team_payments""#) == [
                "2026-03-17T17:00:00.000Z 368 left member:team_payments usr_carol",
                "2026-03-20T12:00:00.000Z - expired grant_9 -",
            ])
        #expect(
            changes(#""from":"2026-03-16T00:00:00.000Z","to":"2026-03-21T00:00:00.000Z""#).contains(
                "2026-03-19T09:00:00.000Z 370 deleted role_incident_commander usr_alice"))
    }

    @Test(arguments: [
        (#""permission":"project:deploy","resource":"project/prj_1""#, "/params/subject"),
        (#""subject":"team/team_1","permission":"project:deploy","resource":"project/prj_1""#, "/params/subject"),
        (#""subject":"usr_1","permission":"project:fly","resource":"project/prj_1""#, "/params/permission"),
        (#""subject":"usr_1","permission":"*:read","resource":"project/prj_1""#, "/params/permission"),
        (#""subject":"usr_1","permission":"project:read","resource":"prj_1""#, "/params/resource"),
        (#""subject":"usr_1","permission":"project:read","resource":"project/prj_1","at":"yesterday""#, "/params/at"),
    ])
    func badQuestionsPointAtTheParameter(params: String, path: String) throws {
        let dir = try historyDirectory()
        let response = RPCServer(directory: dir.path, engine: nil).call(
            #"{"jsonrpc":"2.0","id":1,"method":"rbac.check","params":{\#(params)}}"#)
        #expect(errorCode(response) == -32602)
        #expect(response?["error"]?["data"]?["path"] == .string(path))
    }
}
