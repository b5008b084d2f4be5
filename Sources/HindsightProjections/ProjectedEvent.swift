public import HindsightCore
import HindsightReadSide

/// An event as read models receive it: upcast to the newest version of its type, with
/// personal data as readers see it (`event`), and the entities it refers to. A model that
/// keeps an event's text keeps `stored.line`, where personal data is sealed, so that a later
/// erasure reaches it too, and reveals it when it answers.
public struct ProjectedEvent: Sendable {
    public let stored: StoredEvent
    let source: EventSource
    init(stored: StoredEvent, source: EventSource) {
        self.stored = stored
        self.source = source
    }

    /// Every entity the event names, as `KIND/ID`: its stream, and each identifier with a
    /// kind prefix (`prj_9` is `project/prj_9`), reference (`team/team_3`) or domain in
    /// `data`, each once. Worked out when asked for: a model that needs it asks in its
    /// `prepare`, on the core that reads the log.
    public var references: [String] { Self.references(of: stored) }

    /// The event upcast, with personal data revealed (worked out when asked for: many read
    /// models need only the stored event's fields).
    public var event: StoredEvent { source.present(stored, upcast: true) }

    public var seq: UInt64 { stored.seq }
    public var type: String { stored.type }

    private static func references(of stored: StoredEvent) -> [String] {
        var found: [String] = [stored.stream]
        // The stored line: personal data there is sealed, and sealed values name nothing.
        for reference in StoredLine.references(in: stored.line) where !found.contains(reference) { found.append(reference) }
        return found
    }
}
