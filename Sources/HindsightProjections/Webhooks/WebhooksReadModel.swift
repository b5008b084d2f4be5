public import HindsightCore

/// Webhooks: per webhook and UTC hour, delivery attempts (`webhook.delivered` and
/// `webhook.failed`), successes (a 2xx status), failures, and a sketch of the durations of
/// the attempts that got an answer.
public final class WebhooksReadModel: ReadModel {
    public let name = "webhooks"
    public let version = 1
    public let types: Set<String>? = ["webhook.delivered", "webhook.failed"]

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE analytics_webhook_hour (webhook TEXT NOT NULL, hour INTEGER NOT NULL, attempts INTEGER NOT NULL,
                                                 successes INTEGER NOT NULL, failures INTEGER NOT NULL, durations BLOB NOT NULL,
                                                 PRIMARY KEY (webhook, hour)) WITHOUT ROWID;
            """)
    }

    struct DeliveryKey: Hashable, Sendable {
        let webhook: String
        let hour: Int64
    }

    public struct Batch: Sendable {
        /// Delivery attempts per webhook and hour, added up while the batch is read.
        let deliveries: [DeliveryKey: DeliveryFigures]
    }

    public func prepare(_ events: [ProjectedEvent]) -> Batch {
        var deliveries: [DeliveryKey: DeliveryFigures] = [:]
        for event in events {
            let stored = event.stored
            let data = StoredLine.DataFields(stored.line)
            guard let webhook = data["webhook"] else { continue }
            let status = data.integer("httpStatus")
            let key = DeliveryKey(webhook: webhook, hour: Analytics.hour(stored.occurredAtMs))
            deliveries[key, default: DeliveryFigures()].count(
                status: status, durationMs: stored.type == "webhook.delivered" ? data.integer("durationMs") : nil)
        }
        return Batch(deliveries: deliveries)
    }

    public func apply(_ batch: Batch, in db: SQLiteDatabase) throws(LogError) {
        try db.defineBlobFunction("hindsight_sketch_merge") { stored, added in
            guard var sketch = QuantileSketch(encoded: stored), sketch.merge(encoded: added) else { return nil }
            return sketch.encoded
        }
        let delivery = try db.statement(
            """
            INSERT INTO analytics_webhook_hour VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (webhook, hour) DO UPDATE SET attempts = attempts + excluded.attempts, successes = successes + excluded.successes,
                failures = failures + excluded.failures, durations = hindsight_sketch_merge(durations, excluded.durations)
            """)
        for (key, added) in batch.deliveries {
            try delivery.reset().bind(1, key.webhook).bind(2, key.hour).bind(3, added.attempts).bind(4, added.successes).bind(
                5, added.failures
            )
            .bind(6, blob: added.durations.encoded).run()
        }
    }

    // MARK: - Questions

    /// Delivery attempts to a webhook over a range, and how they went.
    public struct DeliveryFigures: Sendable {
        public var attempts: Int64 = 0, successes: Int64 = 0, failures: Int64 = 0
        /// Durations of the attempts that got an answer (`webhook.delivered`).
        public var durations = QuantileSketch()

        public init() {}

        public var successRate: Double? { attempts == 0 ? nil : Double(successes) / Double(attempts) }

        /// Adds one attempt, in place: answered with `status` (none: no answer), taking
        /// `durationMs` when it was delivered.
        mutating func count(status: Int64?, durationMs: Int64?) {
            attempts += 1
            if let status, (200..<300).contains(status) { successes += 1 } else { failures += 1 }
            if let durationMs { durations.add(Double(durationMs)) }
        }
    }

    /// The delivery attempts to `webhook` in the UTC hours from the one holding `from` to the
    /// one holding `to` (milliseconds; nil: unbounded).
    public static func deliveries(webhook: String, from: Int64?, to: Int64?, in db: SQLiteDatabase) throws(LogError) -> DeliveryFigures {
        var figures = DeliveryFigures()
        let rows = try db.statement(
            "SELECT attempts, successes, failures, durations FROM analytics_webhook_hour WHERE webhook = ? AND hour BETWEEN ? AND ?"
        )
        .bind(1, webhook).bind(2, from.map(Analytics.hour) ?? Int64.min).bind(3, to.map(Analytics.hour) ?? Int64.max)
        while try rows.step() {
            figures.attempts += rows.int(0)
            figures.successes += rows.int(1)
            figures.failures += rows.int(2)
            figures.durations.merge(encoded: rows.blob(3))
        }
        rows.finish()
        return figures
    }

}
