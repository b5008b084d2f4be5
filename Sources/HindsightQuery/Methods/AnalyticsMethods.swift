public import HindsightCore
import HindsightLog
public import HindsightProjections

/// The analytics read models' methods (QUERIES.md): `analytics.builds`, `analytics.functions`,
/// `analytics.metrics`, `webhooks.deliveries`, `alerts.active` and `alerts.history`.
enum AnalyticsMethods {
    static let all = [
        MethodDescription(reading: Builds.self), MethodDescription(reading: Functions.self), MethodDescription(reading: Metrics.self),
        MethodDescription(reading: Deliveries.self), MethodDescription(reading: ActiveAlerts.self),
        MethodDescription(reading: AlertHistory.self),
    ]

    static let at = Parameter(
        "at", .position("As of then: the events up to that seq, or that occurred by that time (default: every event the model holds)."))

    /// A figure as it is, never rounded (an auditor divides the counts beside a rate and gets
    /// the same number: 1 error in 2,000 is 0.0005), or null.
    static func figure(_ value: Double?) -> JSONValue { value.map { .number($0) } ?? .null }

    /// The database a question as of `at` is answered from, and the position it reflects: the
    /// model's own (no `at`), or the model folded again from the log's events up to `at`
    /// (`Projections.fold`) within `window` of `occurredAt`, for figures that the model keeps
    /// added up whenever their events occurred.
    static func database<Model: ReadModel>(
        _ model: Model, at: LogPosition?, window: (from: Int64?, to: Int64?) = (nil, nil), _ reading: Reading
    ) throws(QueryError) -> (db: SQLiteDatabase, position: UInt64) {
        let position = try reading.position(of: model.name)
        guard let at else { return (try reading.database(model.name), position) }
        var query = ReadQuery()
        query.occurredFrom = window.from
        query.occurredTo = window.to
        switch at {
        case .seq(let seq):
            query.to = min(seq, position)
        case .time(let ms):
            query.to = position
            query.occurredTo = min(query.occurredTo ?? ms, ms)
        }
        return (try reading.fold(model, matching: query), query.to)
    }
}

/// `analytics.builds`: builds per UTC day of a project or org.
public enum Builds: ReadingMethod {
    public static let name = "analytics.builds"
    public static let summary =
        "Builds per UTC day of a project or org: counts, success rate, duration percentiles, cache hit rate and the slowest steps."
    public static let models = ["builds"]

    public struct Params: QueryParams {
        /// `project/ID` or `org/ID`.
        public var scope: String
        public var days: Int
        public var at: LogPosition?

        public init(scope: String, days: Int = 7, at: LogPosition? = nil) {
            self.scope = scope
            self.days = days
            self.at = at
        }

        public static let parameters = [
            Parameter("project", .string("A project (prj_… or project/prj_…); give project or org.")),
            Parameter("org", .string("An org (org_… or org/org_…); give project or org.")),
            Parameter("days", .integer(1...366, "Days in the window (default 7).")),
            Parameter(
                "at",
                .position(
                    "A seq: as after that event; a time: the events that occurred by then; the window ends with its day (default: the newest day of builds)."
                )),
        ]

        public init(_ p: Parameters) throws(QueryError) {
            let project = try p.string("project")
            let org = try p.string("org")
            guard (project == nil) != (org == nil) else { throw .params("give project or org, one of them", at: "/project") }
            let scope = project.map { $0.hasPrefix("project/") ? $0 : "project/" + $0 } ?? (org!.hasPrefix("org/") ? org! : "org/" + org!)
            self.init(scope: scope, days: Int(try p.integer("days", in: 1...366) ?? 7), at: try p.position("at"))
        }
    }

    public struct Answer: QueryAnswer {
        public let scope: String
        /// Oldest first, a day without builds included.
        public let days: [BuildsReadModel.BuildDay]
        public let position: UInt64?
        public var total: BuildsReadModel.BuildDay { BuildsReadModel.total(of: days) }

        public var members: [String: JSONValue] {
            var total = Self.described(total)
            total["day"] = nil
            return ["scope": .string(scope), "days": .array(days.map { .object(Self.described($0)) }), "total": .object(total)]
        }

        static func described(_ day: BuildsReadModel.BuildDay) -> [String: JSONValue] {
            let number = AnalyticsMethods.figure
            return [
                "day": .string(String(Timestamp.format(day.day * 86_400_000).prefix(10))),
                "queued": .integer(day.queued), "succeeded": .integer(day.succeeded), "failed": .integer(day.failed),
                "canceled": .integer(day.canceled),
                "successRate": number(day.successRate), "p50Ms": number(day.durations.quantile(0.5)),
                "p95Ms": number(day.durations.quantile(0.95)),
                "cacheHitRate": number(day.cacheHitRate), "cacheHits": .integer(day.cacheHits),
                "cacheRestores": .integer(day.cacheRestores),
                "slowestSteps": .array(day.slowestSteps.map { ["step": .string($0.step), "p95Ms": number($0.p95)] }),
            ]
        }

        static let figures: [String: Schema] = [
            "queued": .integer(), "succeeded": .integer(), "failed": .integer(), "canceled": .integer(),
            "successRate": .nullable(.number("Succeeded over finished (succeeded and failed), unrounded.")), "p50Ms": .nullable(.number()),
            "p95Ms": .nullable(.number()),
            "cacheHitRate": .nullable(.number("cacheHits over cacheRestores.")),
            "cacheHits": .integer(nil, "Cache restores that hit."), "cacheRestores": .integer(nil, "Cache restores: hits and misses."),
            "slowestSteps": .array(.object(["step": .string(), "p95Ms": .nullable(.number())]), "The three slowest steps by p95."),
        ]
        public static let schema = Schema.object([
            "scope": .string(), "days": .array(.object(figures.merging(["day": .string("YYYY-MM-DD")]) { $1 }), "Oldest first."),
            "total": .object(figures, "The same over the window."),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let db = try reading.database("builds")
        let position = try reading.position(of: "builds")
        let reader = try reading.reader()
        return try engine { () throws(LogError) in
            switch params.at {
            case .seq(let seq)?:
                // As the model stood after that event: its day ends the window.
                let through = min(seq, position)
                return Answer(
                    scope: params.scope,
                    days: try BuildsReadModel.builds(
                        scope: params.scope, days: params.days, endingAt: reader.occurredAt(through), occurredBy: nil, throughSeq: through,
                        reader: reader,
                        in: db), position: through)
            case .time(let ms)?:
                // The events that had occurred by then.
                return Answer(
                    scope: params.scope,
                    days: try BuildsReadModel.builds(
                        scope: params.scope, days: params.days, endingAt: ms, occurredBy: ms, throughSeq: position, reader: reader, in: db),
                    position: position)
            case nil:
                let end = try BuildsReadModel.newestDay(in: db).map { $0 * 86_400_000 } ?? Timestamp.now()
                return Answer(
                    scope: params.scope, days: try BuildsReadModel.builds(scope: params.scope, days: params.days, endingAt: end, in: db),
                    position: position)
            }
        }
    }
}

/// `analytics.functions`: invocations of a function, project or org over a range.
public enum Functions: ReadingMethod {
    public static let name = "analytics.functions"
    public static let summary =
        "Function invocations over a range: rates of errors, timeouts and cold starts, and duration percentiles, per mode and runtime."
    public static let models = ["functions"]

    public struct Params: QueryParams {
        /// `function/ID`, `project/ID` or `org/ID`.
        public var scope: String
        public var from: Int64?
        public var to: Int64?
        public var at: LogPosition?

        public init(scope: String, from: Int64? = nil, to: Int64? = nil, at: LogPosition? = nil) {
            self.scope = scope
            self.from = from
            self.to = to
            self.at = at
        }

        public static let parameters = [
            Parameter("function", .string("A function (fn_…); give one of function, project and org.")),
            Parameter("project", .string("A project (prj_…).")), Parameter("org", .string("An org (org_…).")),
            Parameter("from", .time("From the UTC hour holding it (default: the first invocation).")),
            Parameter("to", .time("To the UTC hour holding it (default: the last invocation).")),
            AnalyticsMethods.at,
        ]

        public init(_ p: Parameters) throws(QueryError) {
            let named = [("function", try p.string("function")), ("project", try p.string("project")), ("org", try p.string("org"))]
                .compactMap { kind, id in id.map { $0.hasPrefix(kind + "/") ? $0 : kind + "/" + $0 } }
            guard named.count == 1 else { throw .params("give function, project or org, one of them", at: "/function") }
            let (from, to) = try p.period()
            self.init(scope: named[0], from: from, to: to, at: try p.position("at"))
        }
    }

    public struct Answer: QueryAnswer {
        public let scope: String
        public let total: FunctionsReadModel.InvocationFigures
        public let modes: [String: FunctionsReadModel.InvocationFigures]
        public let runtimes: [String: FunctionsReadModel.InvocationFigures]
        public let position: UInt64?

        public var members: [String: JSONValue] {
            var result = Self.described(total)
            for (mode, figures) in modes { result[mode] = .object(Self.described(figures)) }
            result["byRuntime"] = .object(runtimes.mapValues { .object(Self.described($0)) })
            result["scope"] = .string(scope)
            return result
        }

        static func described(_ figures: FunctionsReadModel.InvocationFigures) -> [String: JSONValue] {
            let figure = AnalyticsMethods.figure
            return [
                "invocations": .integer(figures.invocations), "errors": .integer(figures.errors),
                "timeouts": .integer(figures.timeouts), "coldStarts": .integer(figures.coldStarts),
                "errorRate": figure(figures.errorRate), "timeoutRate": figure(figures.timeoutRate),
                "coldStartRate": figure(figures.coldStartRate), "p50Ms": figure(figures.durations.quantile(0.5)),
                "p95Ms": figure(figures.durations.quantile(0.95)), "p99Ms": figure(figures.durations.quantile(0.99)),
            ]
        }

        static let figures: [String: Schema] = [
            "invocations": .integer(), "errors": .integer(), "timeouts": .integer(), "coldStarts": .integer(),
            "errorRate": .nullable(.number("errors over invocations, unrounded.")),
            "timeoutRate": .nullable(.number("timeouts over invocations, unrounded.")),
            "coldStartRate": .nullable(.number("coldStarts over invocations, unrounded.")), "p50Ms": .nullable(.number()),
            "p95Ms": .nullable(.number()),
            "p99Ms": .nullable(.number()),
        ]
        public static let schema = Schema.object(
            figures.merging([
                "scope": .string(), "sync": .object(figures), "async": .object(figures),
                "byRuntime": .map(.object(figures), "Per runtime."),
            ]) { $1 })
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let (db, position) = try database(params, reading)
        let cells = try engine { () throws(LogError) in
            try FunctionsReadModel.invocations(scope: params.scope, from: params.from, to: params.to, in: db)
        }
        var total = FunctionsReadModel.InvocationFigures()
        var modes: [String: FunctionsReadModel.InvocationFigures] = ["sync": .init(), "async": .init()]
        var runtimes: [String: FunctionsReadModel.InvocationFigures] = [:]
        for cell in cells {
            total.merge(cell.figures)
            modes[cell.mode, default: .init()].merge(cell.figures)
            runtimes[cell.runtime, default: .init()].merge(cell.figures)
        }
        return Answer(scope: params.scope, total: total, modes: modes, runtimes: runtimes, position: position)
    }
}

extension Functions {
    /// The functions model, as of `at` when the question names a moment: folded from the
    /// first chunk that holds an invocation of the window (every later one is at or after
    /// it), each function starting with the runtime its earlier deployments left it, which
    /// the model keeps. So the fold reads the window's events and those after it up to `at`,
    /// not the log from seq 1.
    static func database(_ params: Params, _ reading: Reading) throws(QueryError) -> (db: SQLiteDatabase, position: UInt64) {
        let position = try reading.position(of: "functions")
        guard let at = params.at else { return (try reading.database("functions"), position) }
        var query = ReadQuery()
        query.from = try params.from.map { from throws(QueryError) in try reading.firstSeq(occurredAtOrAfter: from) ?? position + 1 } ?? 1
        var occurredBy: Int64?
        switch at {
        case .seq(let seq): query.to = min(seq, position)
        case .time(let ms):
            query.to = position
            query.occurredTo = ms
            occurredBy = ms
        }
        let built = try reading.database("functions")
        let db = try reading.fold(FunctionsReadModel(), matching: query) { memory throws(LogError) in
            try FunctionsReadModel.startRuntimes(before: query.from, occurredBy: occurredBy, from: built, into: memory)
        }
        return (db, query.to)
    }
}

/// `analytics.metrics`: a metric rolled up into steps over a range.
public enum Metrics: ReadingMethod {
    public static let name = "analytics.metrics"
    public static let summary = "A metric rolled up into steps over a range: count, minimum, maximum, average and 95th percentile."
    public static let models = ["metrics"]

    public struct Params: QueryParams {
        public var name: String
        public var tags: [(name: String, value: String)]
        public var from: Int64
        public var to: Int64
        public var stepSec: Int64
        public var at: LogPosition?

        public init(
            name: String, tags: [(name: String, value: String)] = [], from: Int64, to: Int64, stepSec: Int64, at: LogPosition? = nil
        ) {
            self.name = name
            self.tags = tags
            self.from = from
            self.to = to
            self.stepSec = stepSec
            self.at = at
        }

        public static let parameters = [
            Parameter("name", .string("The metric's name."), required: true),
            Parameter("tags", .map(.string(), "Only the values that carry these tags.")),
            Parameter("from", .time("The first step holds it."), required: true),
            Parameter("to", .time("The last step holds it."), required: true),
            Parameter(
                "stepSec",
                .integer(
                    1...31_622_400,
                    "Seconds per step: whole hours are read from the model, shorter steps from the log's events of the range."),
                required: true),
            AnalyticsMethods.at,
        ]

        public init(_ p: Parameters) throws(QueryError) {
            let name = try p.required("name")
            let tags = try p.stringMap("tags")
            let (from, to) = try p.period()
            self.init(
                name: name, tags: tags, from: from!, to: to!, stepSec: try p.integer("stepSec", in: 1...31_622_400)!,
                at: try p.position("at"))
        }
    }

    public struct Answer: QueryAnswer {
        public let name: String
        public let tags: [(name: String, value: String)]
        public let stepSec: Int64
        /// Steps that hold values, oldest first, each with its start (milliseconds).
        public let series: [(start: Int64, figures: MetricsReadModel.MetricFigures)]
        public let position: UInt64?

        public var members: [String: JSONValue] {
            let figure = AnalyticsMethods.figure
            return [
                "name": .string(name),
                "tags": .object(Dictionary(uniqueKeysWithValues: tags.map { ($0.name, JSONValue.string($0.value)) })),
                "stepSec": .integer(stepSec),
                "series": .array(
                    series.map { step in
                        [
                            "t": .string(Timestamp.format(step.start)), "count": .integer(step.figures.count),
                            "min": figure(step.figures.values.min), "max": figure(step.figures.values.max),
                            "avg": figure(step.figures.average),
                            "p95": figure(step.figures.values.quantile(0.95)),
                        ]
                    }),
            ]
        }
        public static let schema = Schema.object([
            "name": .string(), "tags": .map(.string()), "stepSec": .integer(),
            "series": .array(
                .object([
                    "t": .time("The step's start."), "count": .integer(), "min": .nullable(.number()), "max": .nullable(.number()),
                    "avg": .nullable(.number()), "p95": .nullable(.number()),
                ]), "Steps that hold values, oldest first."),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let step = params.stepSec * 1000
        let series: [(start: Int64, figures: MetricsReadModel.MetricFigures)]
        let position: UInt64
        if params.stepSec % 3600 == 0 {
            // Only the events of the range count: a fold as of a moment reads those alone.
            // The model's hours from the step holding `from` to the hour holding `to`.
            let window = (
                from: Int64((Double(params.from) / Double(step)).rounded(.down)) * step,
                to: Analytics.hour(params.to) * 3_600_000 + 3_599_999
            )
            let (db, reached) = try AnalyticsMethods.database(MetricsReadModel(), at: params.at, window: window, reading)
            series = try engine { () throws(LogError) in
                try MetricsReadModel.metric(
                    params.name, tags: params.tags, from: params.from, to: params.to, stepSec: params.stepSec, in: db)
            }
            position = reached
        } else {
            let reached = try reading.position(of: "metrics")
            let reader = try reading.reader()
            var through = reached
            var to = params.to
            switch params.at {
            case .seq(let seq)?: through = min(seq, reached)
            case .time(let ms)?: to = min(to, ms)
            case nil: break
            }
            let until = to
            series = try engine { () throws(LogError) in
                try MetricsReadModel.metric(
                    params.name, tags: params.tags, from: params.from, to: params.to, stepSec: params.stepSec,
                    throughSeq: through, occurredBy: until, reader: reader)
            }
            position = through
        }
        return Answer(name: params.name, tags: params.tags, stepSec: params.stepSec, series: series, position: position)
    }
}

/// `webhooks.deliveries`: how deliveries to a webhook went over a range.
public enum Deliveries: ReadingMethod {
    public static let name = "webhooks.deliveries"
    public static let summary = "How deliveries to a webhook went over a range."
    public static let models = ["webhooks"]

    public struct Params: QueryParams {
        public var webhook: String
        public var from: Int64?
        public var to: Int64?
        public var at: LogPosition?
        public static let parameters = [
            Parameter("webhook", .string("The webhook (wh_… or webhook/wh_…)."), required: true),
            Parameter("from", .time("From the UTC hour holding it (default: the first delivery).")),
            Parameter("to", .time("To the UTC hour holding it (default: the last delivery).")),
            AnalyticsMethods.at,
        ]
        public init(_ p: Parameters) throws(QueryError) {
            webhook = try p.required("webhook")
            (from, to) = try p.period()
            at = try p.position("at")
        }
    }

    public struct Answer: QueryAnswer {
        public let webhook: String
        public let figures: WebhooksReadModel.DeliveryFigures
        public let position: UInt64?
        public var members: [String: JSONValue] {
            let figure = AnalyticsMethods.figure
            return [
                "webhook": .string(webhook), "attempts": .integer(figures.attempts), "successes": .integer(figures.successes),
                "failures": .integer(figures.failures), "successRate": figure(figures.successRate),
                "answered": .integer(Int64(figures.durations.count)),
                "p50Ms": figure(figures.durations.quantile(0.5)),
                "p95Ms": figure(figures.durations.quantile(0.95)),
            ]
        }
        public static let schema = Schema.object([
            "webhook": .string(), "attempts": .integer(nil, "Delivered and failed."), "successes": .integer(nil, "A 2xx status."),
            "failures": .integer(), "successRate": .nullable(.number("successes over attempts, unrounded.")),
            "answered": .integer(nil, "Attempts that got an answer (webhook.delivered): the durations p50Ms and p95Ms are of."),
            "p50Ms": .nullable(.number("Of the attempts answered.")),
            "p95Ms": .nullable(.number()),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let window = (
            from: params.from.map { Analytics.hour($0) * 3_600_000 }, to: params.to.map { Analytics.hour($0) * 3_600_000 + 3_599_999 }
        )
        let (db, position) = try AnalyticsMethods.database(WebhooksReadModel(), at: params.at, window: window, reading)
        let id = params.webhook.hasPrefix("webhook/") ? String(params.webhook.dropFirst(8)) : params.webhook
        let figures = try engine { () throws(LogError) in
            try WebhooksReadModel.deliveries(webhook: id, from: params.from, to: params.to, in: db)
        }
        return Answer(webhook: params.webhook, figures: figures, position: position)
    }
}

/// `alerts.active`: the alert rules firing at a moment.
public enum ActiveAlerts: ReadingMethod {
    public static let name = "alerts.active"
    public static let summary = "The alert rules firing at a moment."
    public static let models = ["alerts"]

    public struct Params: QueryParams {
        public var at: LogPosition?
        public init(at: LogPosition? = nil) { self.at = at }
        public static let parameters = [
            Parameter("at", .position("A seq: after that event; a time: as of the events that occurred by then (default now)."))
        ]
        public init(_ p: Parameters) throws(QueryError) { at = try p.position("at") }
    }

    public struct Answer: QueryAnswer {
        /// Each firing rule with the transition that made it fire.
        public let alerts: [AlertsReadModel.AlertTransition]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "alerts": .array(
                    alerts.map {
                        [
                            "rule": .string($0.rule), "since": .string(Timestamp.format($0.occurredAt)), "sinceSeq": .integer($0.seq),
                            "value": AnalyticsMethods.figure($0.value),
                        ]
                    })
            ]
        }
        public static let schema = Schema.object([
            "alerts": .array(
                .object([
                    "rule": .string(), "since": .time("When the event that made it fire occurred."), "sinceSeq": .integer(),
                    "value": .nullable(.number("The aggregate that made it fire.")),
                ]))
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let db = try reading.database("alerts")
        let reached = try reading.position(of: "alerts")
        return try engine { () throws(LogError) in
            switch params.at {
            case .seq(let seq)?:
                let position = min(seq, reached)
                return Answer(alerts: try AlertsReadModel.activeAlerts(afterSeq: Int64(position), orTime: nil, in: db), position: position)
            case .time(let ms)?:
                return Answer(alerts: try AlertsReadModel.activeAlerts(afterSeq: nil, orTime: ms, in: db), position: reached)
            case nil:
                return Answer(alerts: try AlertsReadModel.activeAlerts(afterSeq: nil, orTime: nil, in: db), position: reached)
            }
        }
    }
}

/// `alerts.history`: every time an alert rule fired or resolved in a period.
public enum AlertHistory: ReadingMethod {
    public static let name = "alerts.history"
    public static let summary = "Every time an alert rule fired or resolved in a period, with the event that caused it."
    public static let models = ["alerts"]

    public struct Params: QueryParams {
        public var rule: String?
        public var from: Int64
        public var to: Int64
        public var at: LogPosition?

        public init(rule: String? = nil, from: Int64, to: Int64, at: LogPosition? = nil) {
            self.rule = rule
            self.from = from
            self.to = to
            self.at = at
        }

        public static let parameters = [
            Parameter("rule", .string("Only this rule.")),
            Parameter("from", .time("When the causing events occurred: from."), required: true),
            Parameter("to", .time("To."), required: true),
            Parameter("at", .position("As of then: the transitions caused by events up to that seq, or that occurred by that time.")),
        ]

        public init(_ p: Parameters) throws(QueryError) {
            let (from, to) = try p.period()
            self.init(rule: try p.string("rule"), from: from!, to: to!, at: try p.position("at"))
        }
    }

    public struct Answer: QueryAnswer {
        /// In seq order.
        public let transitions: [AlertsReadModel.AlertTransition]
        public let position: UInt64?
        public var members: [String: JSONValue] {
            [
                "transitions": .array(
                    transitions.map {
                        [
                            "rule": .string($0.rule), "kind": .string($0.kind), "seq": .integer($0.seq),
                            "at": .string(Timestamp.format($0.occurredAt)),
                            "value": AnalyticsMethods.figure($0.value),
                        ]
                    })
            ]
        }
        public static let schema = Schema.object([
            "transitions": .array(
                .object([
                    "rule": .string(), "kind": .oneOf(["fired", "resolved"]), "seq": .integer(nil, "The event that caused it."),
                    "at": .time(),
                    "value": .nullable(.number("The aggregate (none for a removal or redefinition).")),
                ]), "In seq order.")
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        let db = try reading.database("alerts")
        let reached = try reading.position(of: "alerts")
        // A transition is caused by one event: as of a moment, the ones whose event came by then.
        var to = params.to
        var through = reached
        switch params.at {
        case .seq(let seq)?: through = min(seq, reached)
        case .time(let ms)?: to = min(to, ms)
        case nil: break
        }
        let (until, last) = (to, through)
        let transitions = try engine { () throws(LogError) in
            try AlertsReadModel.alertHistory(rule: params.rule, from: params.from, to: until, in: db).filter { UInt64($0.seq) <= last }
        }
        return Answer(transitions: transitions, position: through)
    }
}
