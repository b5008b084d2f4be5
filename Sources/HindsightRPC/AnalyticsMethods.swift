public import HindsightCore
import HindsightLog
import HindsightProjections

/// The analytics read model's methods (QUERIES.md): `analytics.builds`, `analytics.functions`,
/// `analytics.metrics`, `webhooks.deliveries`.
enum AnalyticsMethods {
    static let all: [RPCMethod] = [builds, functions, metrics, deliveries, activeAlerts, alertHistory]

    static let activeAlerts = RPCMethod(
        name: "alerts.active",
        params: "at? (a seq: after that event; a time: as of the events that occurred by then; default now)",
        result: "alerts: [{rule, since, sinceSeq, value}] (the transition that made each fire, and its aggregate), position",
        summary: "The alert rules firing at a moment.",
        writes: false
    ) { call throws(RPCError) in
        try call.params.only(["at"])
        let at = try call.params.at()
        let models = try call.store.readModels()
        guard let db = models.database("alerts") else { throw RPCError(1009, "the alerts read model is not open", data: ["kind": "io_error"]) }
        let firing: [AlertsReadModel.AlertTransition]
        let position: UInt64
        do throws(LogError) {
            let reached = try models.positions()["alerts"] ?? 0
            switch at {
            case .seq(let seq)?:
                position = min(seq, reached)
                firing = try AlertsReadModel.activeAlerts(afterSeq: Int64(position), orTime: nil, in: db)
            case .time(let ms)?:
                position = reached
                firing = try AlertsReadModel.activeAlerts(afterSeq: nil, orTime: ms, in: db)
            case nil:
                position = reached
                firing = try AlertsReadModel.activeAlerts(afterSeq: nil, orTime: nil, in: db)
            }
        } catch {
            throw RPCError(error)
        }
        return [
            "alerts": .array(firing.map { ["rule": .string($0.rule), "since": .string(Timestamp.format($0.occurredAt)), "sinceSeq": .integer($0.seq),
                                           "value": rounded($0.value)] }),
            "position": .integer(Int64(position)),
        ]
    }

    static let alertHistory = RPCMethod(
        name: "alerts.history",
        params: "rule?, from, to (RFC 3339 times: when the causing events occurred)",
        result: "transitions: [{rule, kind (fired | resolved), seq, at, value}] in seq order, position",
        summary: "Every time an alert rule fired or resolved in a period, with the event that caused it.",
        writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["rule", "from", "to"])
        let (from, to) = try p.requiredPeriod()
        let rule = try p.string("rule")
        let models = try call.store.readModels()
        guard let db = models.database("alerts") else { throw RPCError(1009, "the alerts read model is not open", data: ["kind": "io_error"]) }
        let transitions: [AlertsReadModel.AlertTransition]
        let position: UInt64
        do throws(LogError) {
            position = try models.positions()["alerts"] ?? 0
            transitions = try AlertsReadModel.alertHistory(rule: rule, from: from, to: to, in: db)
        } catch {
            throw RPCError(error)
        }
        return [
            "transitions": .array(transitions.map {
                ["rule": .string($0.rule), "kind": .string($0.kind), "seq": .integer($0.seq), "at": .string(Timestamp.format($0.occurredAt)),
                 "value": rounded($0.value)]
            }),
            "position": .integer(Int64(position)),
        ]
    }

    static let metrics = RPCMethod(
        name: "analytics.metrics",
        params: "name, tags? ({key: value}: the values that carry these tags), from, to (RFC 3339 times), stepSec (seconds; whole hours are read from the model, shorter steps from the log's events of the range)",
        result: "name, tags, stepSec, series: [{t, count, min, max, avg, p95}] (steps that hold values, oldest first; t is the step's start), position",
        summary: "A metric rolled up into steps over a range: count, minimum, maximum, average and 95th percentile.",
        writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["name", "tags", "from", "to", "stepSec"])
        let name = try p.required("name", p.string("name"))
        var tags: [(name: String, value: String)] = []
        switch p.values["tags"] {
        case nil, .null?: break
        case .object(let members)?:
            for (key, value) in members.sorted(by: { $0.key < $1.key }) {
                guard case .string(let text) = value else { throw RPCError.params("a tag's value must be a string", path: "/params/tags/\(key)") }
                tags.append((key, text))
            }
        default: throw RPCError.params("tags must be an object of strings", path: "/params/tags")
        }
        let (from, to) = try p.requiredPeriod()
        let stepSec = try p.required("stepSec", p.integer("stepSec", in: 1...31_622_400))
        let reader = stepSec % 3600 == 0 ? nil : try call.store.reader()
        let models = try call.store.readModels()
        guard let db = models.database("metrics") else { throw RPCError(1009, "the metrics read model is not open", data: ["kind": "io_error"]) }
        let steps: [(start: Int64, figures: MetricsReadModel.MetricFigures)]
        let position: UInt64
        do throws(LogError) {
            position = try models.positions()["metrics"] ?? 0
            if let reader {
                steps = try MetricsReadModel.metric(name, tags: tags, from: from, to: to, stepSec: stepSec, throughSeq: position, reader: reader)
            } else {
                steps = try MetricsReadModel.metric(name, tags: tags, from: from, to: to, stepSec: stepSec, in: db)
            }
        } catch {
            throw RPCError(error)
        }
        return [
            "name": .string(name), "tags": .object(Dictionary(uniqueKeysWithValues: tags.map { ($0.name, JSONValue.string($0.value)) })),
            "stepSec": .integer(stepSec),
            "series": .array(steps.map { step in
                [
                    "t": .string(Timestamp.format(step.start)), "count": .integer(step.figures.count),
                    "min": rounded(step.figures.values.min), "max": rounded(step.figures.values.max), "avg": rounded(step.figures.average),
                    "p95": rounded(step.figures.values.quantile(0.95)),
                ]
            }),
            "position": .integer(Int64(position)),
        ]
    }

    static let deliveries = RPCMethod(
        name: "webhooks.deliveries",
        params: "webhook, from?, to? (RFC 3339 times; whole UTC hours, the ones holding them; default the whole history)",
        result: "webhook, attempts (delivered and failed), successes (a 2xx status), failures, successRate, p50Ms, p95Ms (of the attempts answered), position",
        summary: "How deliveries to a webhook went over a range.",
        writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["webhook", "from", "to"])
        let webhook = try p.required("webhook", p.string("webhook"))
        let (from, to) = try p.period()
        let models = try call.store.readModels()
        guard let db = models.database("webhooks") else { throw RPCError(1009, "the webhooks read model is not open", data: ["kind": "io_error"]) }
        let figures: WebhooksReadModel.DeliveryFigures
        let position: UInt64
        do throws(LogError) {
            position = try models.positions()["webhooks"] ?? 0
            figures = try WebhooksReadModel.deliveries(webhook: webhook.hasPrefix("webhook/") ? String(webhook.dropFirst(8)) : webhook, from: from, to: to, in: db)
        } catch {
            throw RPCError(error)
        }
        return [
            "webhook": .string(webhook), "attempts": .integer(figures.attempts), "successes": .integer(figures.successes),
            "failures": .integer(figures.failures), "successRate": rounded(figures.successRate), "p50Ms": rounded(figures.durations.quantile(0.5)),
            "p95Ms": rounded(figures.durations.quantile(0.95)), "position": .integer(Int64(position)),
        ]
    }

    static let functions = RPCMethod(
        name: "analytics.functions",
        params: "function? | project? | org? (one of them), from?, to? (RFC 3339 times; whole UTC hours, the ones holding them; default the whole history)",
        result: "scope, invocations, errorRate, timeoutRate, coldStartRate, p50Ms, p95Ms, p99Ms, sync and async (the same for each mode), byRuntime {RUNTIME: the same}, position",
        summary: "Function invocations over a range: rates of errors, timeouts and cold starts, and duration percentiles, per mode and runtime.",
        writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["function", "project", "org", "from", "to"])
        let named = [("function", try p.string("function")), ("project", try p.string("project")), ("org", try p.string("org"))]
            .compactMap { kind, id in id.map { $0.hasPrefix(kind + "/") ? $0 : kind + "/" + $0 } }
        guard named.count == 1 else { throw RPCError.params("give function, project or org, one of them", path: "/params/function") }
        let (from, to) = try p.period()
        let models = try call.store.readModels()
        guard let db = models.database("functions") else { throw RPCError(1009, "the functions read model is not open", data: ["kind": "io_error"]) }
        let cells: [(runtime: String, mode: String, figures: FunctionsReadModel.InvocationFigures)]
        let position: UInt64
        do throws(LogError) {
            position = try models.positions()["functions"] ?? 0
            cells = try FunctionsReadModel.invocations(scope: named[0], from: from, to: to, in: db)
        } catch {
            throw RPCError(error)
        }
        var total = FunctionsReadModel.InvocationFigures()
        var modes: [String: FunctionsReadModel.InvocationFigures] = ["sync": .init(), "async": .init()]
        var runtimes: [String: FunctionsReadModel.InvocationFigures] = [:]
        for cell in cells {
            total.merge(cell.figures)
            modes[cell.mode, default: .init()].merge(cell.figures)
            runtimes[cell.runtime, default: .init()].merge(cell.figures)
        }
        var result = described(total)
        for (mode, figures) in modes { result[mode] = .object(described(figures)) }
        result["byRuntime"] = .object(runtimes.mapValues { .object(described($0)) })
        result["scope"] = .string(named[0])
        result["position"] = .integer(Int64(position))
        return result
    }

    private static func described(_ figures: FunctionsReadModel.InvocationFigures) -> [String: JSONValue] {
        [
            "invocations": .integer(figures.invocations), "errorRate": rounded(figures.errorRate), "timeoutRate": rounded(figures.timeoutRate),
            "coldStartRate": rounded(figures.coldStartRate), "p50Ms": rounded(figures.durations.quantile(0.5)),
            "p95Ms": rounded(figures.durations.quantile(0.95)), "p99Ms": rounded(figures.durations.quantile(0.99)),
        ]
    }

    /// A figure to a thousandth, or null.
    private static func rounded(_ value: Double?) -> JSONValue {
        value.map { .number(abs($0) < 1e15 ? ($0 * 1000).rounded() / 1000 : $0) } ?? .null
    }

    static let builds = RPCMethod(
        name: "analytics.builds",
        params: "project? | org? (one of them), days? (1 to 366; 7), at? (a seq: as after that event; a time: the events that occurred by then; the window ends with its day; default the newest day of builds)",
        result: "scope, days: [{day, queued, succeeded, failed, canceled, successRate, p50Ms, p95Ms, cacheHitRate, slowestSteps: [{step, p95Ms}]}] oldest first, total (the same over the window), position",
        summary: "Builds per UTC day of a project or org: counts, success rate, duration percentiles, cache hit rate and the slowest steps.",
        writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["project", "org", "days", "at"])
        let project = try p.string("project"), org = try p.string("org")
        guard (project == nil) != (org == nil) else { throw RPCError.params("give project or org, one of them", path: "/params/project") }
        let scope = project.map { $0.hasPrefix("project/") ? $0 : "project/" + $0 } ?? (org!.hasPrefix("org/") ? org! : "org/" + org!)
        let days = Int(try p.integer("days", in: 1...366) ?? 7)
        let at = try p.at()
        let models = try call.store.readModels()
        guard let db = models.database("builds") else { throw RPCError(1009, "the builds read model is not open", data: ["kind": "io_error"]) }
        let reader = try call.store.reader()
        let figures: [BuildsReadModel.BuildDay]
        let position: UInt64
        do throws(LogError) {
            position = try models.positions()["builds"] ?? 0
            switch at {
            case .seq(let seq)?:
                // As the model stood after that event: its day ends the window.
                let through = min(seq, position)
                figures = try BuildsReadModel.builds(scope: scope, days: days, endingAt: reader.occurredAt(through), occurredBy: nil,
                                                        throughSeq: through, reader: reader, in: db)
            case .time(let ms)?:
                // The events that had occurred by then.
                figures = try BuildsReadModel.builds(scope: scope, days: days, endingAt: ms, occurredBy: ms, throughSeq: position, reader: reader, in: db)
            case nil:
                let end = try BuildsReadModel.newestDay(in: db).map { $0 * 86_400_000 } ?? Timestamp.now()
                figures = try BuildsReadModel.builds(scope: scope, days: days, endingAt: end, in: db)
            }
        } catch {
            throw RPCError(error)
        }
        var totalFigures = described(BuildsReadModel.total(of: figures))
        totalFigures["day"] = nil
        return [
            "scope": .string(scope), "days": .array(figures.map { .object(described($0)) }), "total": .object(totalFigures),
            "position": .integer(Int64(position)),
        ]
    }

    private static func described(_ day: BuildsReadModel.BuildDay) -> [String: JSONValue] {
        let number = rounded
        let slowest = day.steps.compactMap { step, sketch in sketch.quantile(0.95).map { (step, $0) } }
            .sorted { ($0.1, $1.0) > ($1.1, $0.0) }.prefix(3)
        return [
            "day": .string(String(Timestamp.format(day.day * 86_400_000).prefix(10))),
            "queued": .integer(day.queued), "succeeded": .integer(day.succeeded), "failed": .integer(day.failed), "canceled": .integer(day.canceled),
            "successRate": number(day.successRate), "p50Ms": number(day.durations.quantile(0.5)), "p95Ms": number(day.durations.quantile(0.95)),
            "cacheHitRate": number(day.cacheHitRate),
            "slowestSteps": .array(slowest.map { ["step": .string($0.0), "p95Ms": number($0.1)] }),
        ]
    }
}
