import ArgumentParser
import HindsightCore
import HindsightQuery

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "The alert rules firing at a moment (alerts.active), or with --from and --to, every time one fired or resolved (alerts.history)."
    )

    @OptionGroup var options: DataOptions
    @Option(help: "A seq, an RFC 3339 time or a date: the alerts firing then (default: now); with --from and --to, the history as of then.")
    var at: String?
    @Option(help: "An RFC 3339 time or a date: the history from then.") var from: String?
    @Option(help: "An RFC 3339 time or a date: the history up to then.") var to: String?
    @Option(help: "Only this rule's history.") var rule: String?
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard (from == nil) == (to == nil) else { throw ValidationError("give --from and --to together, for the history") }
        guard rule == nil || from != nil else { throw ValidationError("--rule narrows the history: give --from and --to with it") }
    }

    func run() throws {
        let moment = try MomentOption.position(at, option: "at")
        let value = { (value: Double?) in FigureTable.figure(value) }
        if let from, let to {
            let (first, last) = (try MomentOption.time(from, option: "from", dayEnds: false), try MomentOption.time(to, option: "to"))
            let answer = try options.ask(
                AlertHistory.self,
                [
                    "from": first, "to": last, "rule": textParameter(rule),
                    "at": moment,
                ])
            if output.json { return printAnswer(answer) }
            guard !answer.transitions.isEmpty else { return print("no alert fired or resolved then") }
            print(
                FigureTable(columns: ["at", "seq", "rule", "change", "value"]).render(
                    answer.transitions.map {
                        [Timestamp.format($0.occurredAt), String($0.seq), $0.rule, $0.kind, value($0.value)]
                    }), terminator: "")
        } else {
            let answer = try options.ask(ActiveAlerts.self, ["at": moment])
            if output.json { return printAnswer(answer) }
            guard !answer.alerts.isEmpty else { return print("no alert is firing") }
            print(
                FigureTable(columns: ["rule", "since", "seq", "value"]).render(
                    answer.alerts.map {
                        [$0.rule, Timestamp.format($0.occurredAt), String($0.seq), value($0.value)]
                    }), terminator: "")
        }
    }
}
