import ArgumentParser
import HindsightCore
import HindsightQuery

struct Settings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "A project's environment variables (settings.env), the domains and their verification (settings.domains), or the history of a project's build settings (settings.builds).",
        subcommands: [Env.self, Domains.self, Builds.self])

    struct Env: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "A project's environment variables by key and target: secret or not, the value's fingerprint (never a value), who set it and when."
        )

        @OptionGroup var options: DataOptions
        @Argument(help: "The project (prj_…).") var project: String
        @Option(help: "Only this target's variables: production, preview or development.") var target: String?
        @Option(help: "A seq, an RFC 3339 time or a date: as they stood then (default: now).") var at: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let answer = try options.ask(
                EnvironmentVariables.self,
                ["project": textParameter(project), "target": textParameter(target), "at": try MomentOption.position(at, option: "at")])
            if output.json { return printAnswer(answer) }
            guard !answer.variables.isEmpty else { return print("no variable is set") }
            let rows = answer.variables.map {
                [$0.key, $0.target, $0.secret ? "secret" : "-", $0.valueFingerprint, $0.setBy, Timestamp.format($0.setAt)]
            }
            print(FigureTable(columns: ["key", "target", "secret", "fingerprint", "set by", "set at"]).render(rows), terminator: "")
        }
    }

    struct Domains: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Domains with their verification state and method.")

        @OptionGroup var options: DataOptions
        @Option(help: "Only this project's domains.") var project: String?
        @Option(help: "A seq, an RFC 3339 time or a date: as they stood then (default: now).") var at: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let answer = try options.ask(
                HindsightQuery.Domains.self, ["project": textParameter(project), "at": try MomentOption.position(at, option: "at")])
            if output.json { return printAnswer(answer) }
            guard !answer.domains.isEmpty else { return print("no domain") }
            let rows = answer.domains.map {
                [$0.domain, $0.project, $0.verified ? "verified" : "unverified", $0.method ?? "-", Timestamp.format($0.addedAt)]
            }
            print(FigureTable(columns: ["domain", "project", "status", "method", "added"]).render(rows), terminator: "")
        }
    }

    struct Builds: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The history of a project's build settings: each change with its fields, who made it and when, oldest first.")

        @OptionGroup var options: DataOptions
        @Argument(help: "The project (prj_…).") var project: String
        @Option(help: "Only changes from then on (RFC 3339 time or date).") var from: String?
        @Option(help: "Only changes until then (RFC 3339 time or date).") var to: String?
        @Option(help: "A seq, an RFC 3339 time or a date: the history as it stood then (default: now).") var at: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let answer = try options.ask(
                BuildSettingsHistory.self,
                [
                    "project": textParameter(project), "from": try MomentOption.time(from, option: "from", dayEnds: false),
                    "to": try MomentOption.time(to, option: "to"), "at": try MomentOption.position(at, option: "at"),
                ])
            if output.json { return printAnswer(answer) }
            guard !answer.changes.isEmpty else { return print("no change of the build settings") }
            let rows = answer.changes.map { [Timestamp.format($0.changedAt), $0.changedBy, $0.changes] }
            print(FigureTable(columns: ["changed at", "by", "changes"]).render(rows), terminator: "")
        }
    }
}
