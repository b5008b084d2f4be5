import HindsightLog
import HindsightProjections

/// The analytics read model's methods (QUERIES.md): `analytics.builds`.
enum AnalyticsMethods {
    static let all: [RPCMethod] = [builds]

    static let builds = RPCMethod(
        name: "analytics.builds",
        params: "project? | org? (one of them), days? (1 to 366; 7), at? (the window ends with its day; default the newest day of builds)",
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
        guard let db = models.database("analytics") else { throw RPCError(1009, "the analytics read model is not open", data: ["kind": "io_error"]) }
        let reader = try call.store.reader()
        let figures: [AnalyticsReadModel.BuildDay]
        let position: UInt64
        do throws(LogError) {
            position = try models.positions()["analytics"] ?? 0
            let end: Int64 = switch at {
            case .seq(let seq)?: try reader.occurredAt(min(seq, position))
            case .time(let ms)?: ms
            case nil: try AnalyticsReadModel.newestDay(in: db).map { $0 * 86_400_000 } ?? Timestamp.now()
            }
            figures = try AnalyticsReadModel.builds(scope: scope, days: days, endingAt: end, in: db)
        } catch {
            throw RPCError(error)
        }
        var totalFigures = described(AnalyticsReadModel.total(of: figures))
        totalFigures["day"] = nil
        return [
            "scope": .string(scope), "days": .array(figures.map { .object(described($0)) }), "total": .object(totalFigures),
            "position": .integer(Int64(position)),
        ]
    }

    private static func described(_ day: AnalyticsReadModel.BuildDay) -> [String: JSONValue] {
        let number = { (value: Double?) in value.map { JSONValue.number(($0 * 1000).rounded() / 1000) } ?? .null }
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
