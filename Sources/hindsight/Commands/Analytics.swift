import ArgumentParser
import HindsightCore
import HindsightProjections
import HindsightQuery

struct Analytics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The platform's dashboards as tables and charts.",
        subcommands: [Builds.self, Functions.self, Metrics.self, Deliveries.self])

    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A metric rolled up into steps over a range (analytics.metrics): count, min, max, average and p95 per step.")

        @OptionGroup var options: DataOptions
        @Argument(help: "The metric's name.") var name: String
        @Option(help: ArgumentHelp("Only values carrying this tag (repeatable).", valueName: "KEY=VALUE")) var tag: [String] = []
        @Option(help: "An RFC 3339 time or a date: the first step holds it.") var from: String
        @Option(help: "An RFC 3339 time or a date: the last step holds it.") var to: String
        @Option(help: "Seconds per step (whole hours are read from the read model, shorter steps from the log).") var step = 3600
        @Option(help: "A seq, an RFC 3339 time or a date: as of then.") var at: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            var tags: [String: JSONValue] = [:]
            for pair in tag {
                guard let equals = pair.firstIndex(of: "=") else { throw refusal("--tag takes KEY=VALUE, not \(pair)") }
                tags[String(pair[..<equals])] = .string(String(pair[pair.index(after: equals)...]))
            }
            let (first, last) = (
                try MomentOption.time(from, option: "from", dayEnds: false), try MomentOption.time(to, option: "to", dayEnds: true)
            )
            let moment = try MomentOption.position(at, option: "at")
            let answer = try options.ask(
                HindsightQuery.Metrics.self,
                [
                    "name": .string(name), "tags": .object(tags), "from": first,
                    "to": last,
                    "stepSec": .integer(Int64(step)), "at": moment,
                ])
            if output.json { return printAnswer(answer) }
            guard !answer.series.isEmpty else { return print("no values in that range") }
            print(
                FigureTable(columns: ["step", "count", "min", "max", "avg", "p95"]).render(
                    answer.series.map { step in
                        let figures = step.figures
                        return [
                            Timestamp.format(step.start), String(figures.count), FigureTable.figure(figures.values.min),
                            FigureTable.figure(figures.values.max),
                            FigureTable.figure(figures.average), FigureTable.figure(figures.values.quantile(0.95)),
                        ]
                    }), terminator: "")
        }
    }

    struct Functions: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Function invocations of a function, project or org over a range (analytics.functions).",
            discussion:
                "Rows: all invocations, each mode, each runtime: invocations, error, timeout and cold-start rates, p50, p95 and p99 duration."
        )

        @OptionGroup var options: DataOptions
        @Option(help: "A function (fn_…).") var function: String?
        @Option(help: "A project (prj_…).") var project: String?
        @Option(help: "An org (org_…).") var org: String?
        @Option(help: "An RFC 3339 time or a date: from the UTC hour holding it (default: the first invocation).") var from: String?
        @Option(help: "An RFC 3339 time or a date: to the UTC hour holding it (default: the last invocation).") var to: String?
        @Option(help: "A seq, an RFC 3339 time or a date: as of then.") var at: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let first = try MomentOption.time(from, option: "from", dayEnds: false)
            let last = try MomentOption.time(to, option: "to")
            let moment = try MomentOption.position(at, option: "at")
            let answer = try options.ask(
                HindsightQuery.Functions.self,
                [
                    "function": textParameter(function), "project": textParameter(project), "org": textParameter(org),
                    "from": first, "to": last, "at": moment,
                ])
            if output.json { return printAnswer(answer) }
            let rows =
                [("all", answer.total)] + ["sync", "async"].map { ($0, answer.modes[$0] ?? .init()) }
                + answer.runtimes.keys.sorted().map { ("runtime " + $0, answer.runtimes[$0]!) }
            print(
                FigureTable(columns: ["", "invocations", "errors", "timeouts", "cold starts", "p50", "p95", "p99"]).render(
                    rows.map { name, row in
                        [
                            name, String(row.invocations), FigureTable.share(row.errors, row.errorRate),
                            FigureTable.share(row.timeouts, row.timeoutRate), FigureTable.share(row.coldStarts, row.coldStartRate),
                            FigureTable.duration(row.durations.quantile(0.5)), FigureTable.duration(row.durations.quantile(0.95)),
                            FigureTable.duration(row.durations.quantile(0.99)),
                        ]
                    }), terminator: "")
        }
    }

    struct Builds: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Builds per day of a project or org, with a chart of the trend (analytics.builds).",
            discussion:
                "Each day: queued, succeeded, failed, canceled, success rate (of finished builds), p50 and p95 duration, cache hit rate, the slowest step by p95."
        )

        @OptionGroup var options: DataOptions
        @Option(help: "A project (prj_… or project/prj_…).") var project: String?
        @Option(help: "An org (org_… or org/org_…).") var org: String?
        @Option(help: "Days in the window.") var days = 7
        @Option(help: "A seq, an RFC 3339 time or a date: the window ends with its day (default: the newest day of builds).") var at:
            String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let moment = try MomentOption.position(at, option: "at")
            let answer = try options.ask(
                HindsightQuery.Builds.self,
                [
                    "project": textParameter(project), "org": textParameter(org), "days": .integer(Int64(days)), "at": moment,
                ])
            if output.json { return printAnswer(answer) }
            print(BuildChart(scope: answer.scope, days: answer.days, total: answer.total).text, terminator: "")
        }
    }

    struct Deliveries: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How deliveries to a webhook went over a range (webhooks.deliveries).")

        @OptionGroup var options: DataOptions
        @Argument(help: "The webhook (wh_… or webhook/wh_…).") var webhook: String
        @Option(help: "An RFC 3339 time or a date: from the UTC hour holding it.") var from: String?
        @Option(help: "An RFC 3339 time or a date: to the UTC hour holding it.") var to: String?
        @Option(help: "A seq, an RFC 3339 time or a date: as of then.") var at: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let first = try MomentOption.time(from, option: "from", dayEnds: false)
            let last = try MomentOption.time(to, option: "to")
            let moment = try MomentOption.position(at, option: "at")
            let answer = try options.ask(
                HindsightQuery.Deliveries.self,
                [
                    "webhook": .string(webhook), "from": first, "to": last,
                    "at": moment,
                ])
            if output.json { return printAnswer(answer) }
            let figures = answer.figures
            print(
                FigureTable(columns: ["webhook", "attempts", "successes", "failures", "success", "p50", "p95"]).render([
                    [
                        answer.webhook, String(figures.attempts), String(figures.successes), String(figures.failures),
                        FigureTable.percent(figures.successRate),
                        FigureTable.duration(figures.durations.quantile(0.5)), FigureTable.duration(figures.durations.quantile(0.95)),
                    ]
                ]), terminator: "")
        }
    }
}

/// The build trend as people would rather look at it: a table, and a bar per day
/// (█ succeeded, ▒ failed, · canceled, ░ still queued or running).
struct BuildChart {
    let scope: String
    let days: [BuildsReadModel.BuildDay]
    let total: BuildsReadModel.BuildDay

    var text: String {
        let table = FigureTable(columns: [
            "day", "queued", "ok", "failed", "canceled", "success", "p50", "p95", "cache", "slowest step (p95)",
        ])
        let rows = (days.map { (String(Timestamp.format($0.day * 86_400_000).prefix(10)), $0) } + [("total", total)]).map {
            label, day -> [String] in
            let slowest = day.slowestSteps.first.map { $0.step + " " + FigureTable.duration($0.p95) } ?? ""
            return [
                label, String(day.queued), String(day.succeeded), String(day.failed), String(day.canceled),
                FigureTable.percent(day.successRate),
                FigureTable.duration(day.durations.quantile(0.5)), FigureTable.duration(day.durations.quantile(0.95)),
                FigureTable.percent(day.cacheHitRate),
                slowest,
            ]
        }
        var out = "builds of \(scope)\n\n" + table.render(rows) + "\n"
        let widest = Double(max(1, days.map(\.queued).max() ?? 1))
        for (day, cells) in zip(days, rows) {
            let bar = { (value: Int64) in Int((Double(value) / widest * 40).rounded()) }
            let ok = bar(day.succeeded)
            let failed = bar(day.failed)
            let canceled = bar(day.canceled)
            let open = max(0, bar(day.queued) - ok - failed - canceled)
            out +=
                cells[0] + "  " + String(repeating: "█", count: ok) + String(repeating: "▒", count: failed)
                + String(repeating: "·", count: canceled) + String(repeating: "░", count: open) + "\n"
        }
        return out + "\n█ succeeded  ▒ failed  · canceled  ░ queued or running\n"
    }
}
