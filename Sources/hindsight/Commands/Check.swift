import ArgumentParser
import HindsightCore
import HindsightQuery

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Whether a user or token may do something to something, and through which grants (rbac.check).",
        discussion: """
            Exit status: 0 allowed, 1 denied, 2 not answered (a bad subject, permission, resource or moment, or a damaged \
            log), so that a script can ask `if hindsight check usr_7 project:deploy project/prj_9; then …`.
            """)

    @OptionGroup var options: DataOptions
    @Argument(help: "A user (usr_…) or a token (tok_…).") var subject: String
    @Argument(help: "KIND:ACTION, such as project:deploy.") var permission: String
    @Argument(help: "KIND/ID, such as project/prj_9.") var resource: String
    @Option(help: "A seq, an RFC 3339 time or a date: the answer as of then (default: now).") var at: String?
    @OptionGroup var output: JSONOption

    func run() throws {
        let moment: JSONValue?
        do {
            moment = try MomentOption.position(at, option: "at")
        } catch {
            throw ExitCode(2)  // refused, with its message: not a denial
        }
        let answer = try options.ask(
            HindsightQuery.Check.self, failure: 2,
            [
                "subject": .string(subject), "permission": .string(permission), "resource": .string(resource), "at": moment,
            ])
        if output.json {
            printAnswer(answer)
        } else if answer.allowed {
            print("allowed: \(subject) may \(permission) on \(resource) (as of seq \(answer.position ?? 0)), through")
            print(
                FigureTable(columns: ["grant", "role", "scope"]).render(answer.grants.map { [$0.grant, $0.role, $0.scope] }), terminator: ""
            )
        } else {
            print("denied: \(subject) may not \(permission) on \(resource) (as of seq \(answer.position ?? 0))")
            if !answer.wouldHave.isEmpty {
                print("these grants would have allowed it:")
                print(
                    FigureTable(columns: ["grant", "role", "scope", "why", "since"]).render(
                        answer.wouldHave.map {
                            [$0.grant, $0.role, $0.scope, $0.why, $0.since.map(Timestamp.format) ?? "-"]
                        }), terminator: "")
            }
        }
        if !answer.allowed { throw ExitCode(1) }
    }
}
