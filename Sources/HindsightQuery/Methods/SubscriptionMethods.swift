import Foundation
public import HindsightCore
import HindsightLog

/// `log.subscribe` and `log.unsubscribe`: new events sent to a connection as they are
/// appended. The query service of the connection (one per `serve`) keeps its subscriptions;
/// the edge that holds the connection sends what they are due after each request
/// (`QueryService.dueEvents`), since in `serve` nothing is appended but by its own requests.
enum SubscriptionMethods {
    static let all = [MethodDescription(reading: Subscribe.self), MethodDescription(reading: Unsubscribe.self)]
}

/// A connection's subscriptions, each with its filters and the next seq it is to be sent.
final class Subscriptions: @unchecked Sendable {
    private var byID: [String: (query: ReadQuery, upcast: Bool)] = [:]
    private var order: [String] = []
    private var made = 0
    private let lock = NSLock()

    var isEmpty: Bool { lock.withLock { order.isEmpty } }

    func add(_ query: ReadQuery, upcast: Bool) -> String {
        lock.withLock {
            made += 1
            let id = "sub_\(made)"
            byID[id] = (query, upcast)
            order.append(id)
            return id
        }
    }

    func remove(_ id: String) -> Bool {
        lock.withLock {
            order.removeAll { $0 == id }
            return byID.removeValue(forKey: id) != nil
        }
    }

    /// Every event a subscription is due from `reader`, in seq order, subscription by
    /// subscription in the order they were made; `emit` false stops (the connection went away).
    func due(
        _ reader: LogReader, present: (StoredEvent, Bool) -> StoredEvent, _ emit: (String, StoredEvent) -> Bool
    ) throws(LogError) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        for id in order {
            guard let subscription = byID[id], subscription.query.from <= reader.size else { continue }
            var query = subscription.query
            query.to = reader.size
            var going = true
            // Moved on event by event, so that one sent is never sent again, whatever stops the read.
            defer { byID[id]?.query.from = query.from }
            try reader.read(query) { event throws(LogError) in
                going = emit(id, present(event, subscription.upcast))
                if going { query.from = event.seq + 1 }
                return going
            }
            guard going else { return false }
            query.from = reader.size + 1
        }
        return true
    }
}

/// `log.subscribe`: from now on (or from a seq), each new event that passes the filters is
/// sent as a `log.event` notification, until `log.unsubscribe`.
public enum Subscribe: ReadingMethod {
    public static let name = "log.subscribe"
    public static let summary =
        "From a seq (default: the next appended), each event passing the filters as a log.event notification {subscription, event}, in seq order, until log.unsubscribe."
    public static let models: [String] = []

    public struct Params: QueryParams {
        public var from: UInt64?
        public var query: ReadQuery
        public var upcast: Bool

        public static let parameters = [
            Parameter("from", .integer(1...Int64.max, "The first seq to send (default: the next one appended).")),
            Parameter("types", .array(.string(), "Only these event types.")), Parameter("stream", .string("Only this stream.")),
            Parameter("org", .string("Only this org.")), Parameter("upcast", .boolean("Each event as the newest version of its type.")),
        ]

        public init(_ p: Parameters) throws(QueryError) {
            from = try p.integer("from", in: 1...Int64.max).map(UInt64.init)
            var query = ReadQuery()
            query.types = try p.eventTypes("types").map(Set.init)
            query.stream = try p.string("stream")
            query.org = try p.string("org")
            self.query = query
            upcast = try p.bool("upcast") ?? false
        }
    }

    public struct Answer: QueryAnswer {
        public let subscription: String
        public let from: UInt64
        /// The log's last seq when the subscription was made.
        public let position: UInt64?
        public var members: [String: JSONValue] { ["subscription": .string(subscription), "from": .integer(Int64(from))] }
        public static let schema = Schema.object([
            "subscription": .string("Its id, for log.unsubscribe and in each notification."),
            "from": .integer(nil, "The first seq it sends: a client that reconnects subscribes from the seq after the last it saw."),
        ])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        var query = params.query
        let size = try reading.reader().size
        query.from = params.from ?? size + 1
        return Answer(subscription: reading.subscriptions.add(query, upcast: params.upcast), from: query.from, position: size)
    }
}

/// `log.unsubscribe`: no more notifications for a subscription.
public enum Unsubscribe: ReadingMethod {
    public static let name = "log.unsubscribe"
    public static let summary = "Ends a subscription: no notification for it follows the answer."
    public static let models: [String] = []

    public struct Params: QueryParams {
        public var subscription: String
        public static let parameters = [Parameter("subscription", .string("What log.subscribe answered."), required: true)]
        public init(_ p: Parameters) throws(QueryError) { subscription = try p.required("subscription") }
    }

    public struct Answer: QueryAnswer {
        /// The log's last seq when the subscription ended.
        public let position: UInt64?
        public var members: [String: JSONValue] { ["unsubscribed": true] }
        public static let schema = Schema.object(["unsubscribed": .boolean()])
    }

    public static func answer(_ params: Params, from reading: Reading) throws(QueryError) -> Answer {
        guard reading.subscriptions.remove(params.subscription) else {
            throw .params("there is no subscription \(params.subscription) on this connection", at: "/subscription")
        }
        return Answer(position: try reading.reader().size)
    }
}
