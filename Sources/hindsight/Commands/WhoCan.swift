import ArgumentParser
import HindsightQuery

struct WhoCan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "who-can",
        abstract: "Every user and token that may do something to something, and through which grants (rbac.whoCan).")

    @OptionGroup var options: DataOptions
    @Argument(help: "KIND:ACTION, such as project:deploy.") var permission: String
    @Argument(help: "KIND/ID, such as project/prj_9.") var resource: String
    @Option(help: "A seq, an RFC 3339 time or a date: the answer as of then (default: now).") var at: String?
    @OptionGroup var output: JSONOption

    func run() throws {
        let moment = try MomentOption.position(at, option: "at")
        let answer = try options.ask(
            HindsightQuery.WhoCan.self,
            [
                "permission": .string(permission), "resource": .string(resource), "at": moment,
            ])
        if output.json { return printAnswer(answer) }
        guard !answer.subjects.isEmpty else { return print("nobody may \(permission) on \(resource)") }
        print(
            FigureTable(columns: ["subject", "grant", "role", "scope"]).render(
                answer.subjects.map {
                    [$0.subject, $0.reason.grant, $0.reason.role, $0.reason.scope]
                }), terminator: "")
    }
}
