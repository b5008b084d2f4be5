public import HindsightLog

/// An event as read models receive it: upcast to the newest version of its type, with
/// personal data as readers see it (`event`), and the entities it refers to. A model that
/// keeps an event's text keeps `stored.line`, where personal data is sealed, so that a later
/// erasure reaches it too, and reveals it when it answers.
public struct ProjectedEvent: Sendable {
    public let event: StoredEvent
    public let stored: StoredEvent

    public var seq: UInt64 { event.seq }
    public var type: String { event.type }

    /// Every entity the event names, as `KIND/ID`: its stream, and each identifier with a
    /// kind prefix (`prj_9` is `project/prj_9`), reference (`team/team_3`) or domain in
    /// `data`, each once.
    public var references: [String] {
        var found: [String] = [event.stream]
        StoredLine.forEachString(inDataOf: event.line) { key, value in
            if let reference = Self.reference(key: key, value: value), !found.contains(reference) { found.append(reference) }
        }
        return found
    }

    static let kinds: [(prefix: String, kind: String)] = [
        ("usr_", "user"), ("tok_", "token"), ("org_", "org"), ("team_", "team"), ("prj_", "project"), ("b_", "build"),
        ("fn_", "function"), ("db_", "database"), ("bak_", "backup"), ("wh_", "webhook"), ("role_", "role"),
        ("grant_", "grant"), ("inv_", "invitation"),
    ]

    static func reference(key: String, value: String) -> String? {
        if key == "domain" { return "domain/" + value }
        if let slash = value.firstIndex(of: "/") {
            let kind = value[..<slash]
            return kinds.contains { $0.kind == kind } || kind == "domain" ? value : nil
        }
        guard let match = kinds.first(where: { value.hasPrefix($0.prefix) && value.count > $0.prefix.count }) else { return nil }
        return match.kind + "/" + value
    }
}
