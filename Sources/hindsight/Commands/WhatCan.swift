import ArgumentParser
import HindsightCore
import HindsightQuery

struct WhatCan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "what-can",
        abstract: "Everything a user or token may do, grant by grant (rbac.whatCan).")

    @OptionGroup var options: DataOptions
    @Argument(help: "A user (usr_…) or a token (tok_…).") var subject: String
    @Option(help: "A seq, an RFC 3339 time or a date: the answer as of then (default: now).") var at: String?
    @OptionGroup var output: JSONOption

    func run() throws {
        let moment = try MomentOption.position(at, option: "at")
        let answer = try options.ask(HindsightQuery.WhatCan.self, ["subject": .string(subject), "at": moment])
        if output.json { return printAnswer(answer) }
        guard !answer.grants.isEmpty else { return print("\(subject) holds no grant") }
        print(
            FigureTable(columns: ["grant", "role", "scope", "expires", "permissions"]).render(
                answer.grants.map {
                    [
                        $0.grant, $0.role, $0.scope, $0.expiresAt.map(Timestamp.format) ?? "-",
                        $0.permissions.map(\.description).joined(separator: " "),
                    ]
                }), terminator: "")
    }
}
