public import HindsightCatalog
public import HindsightLog
public import HindsightPrivacy

/// An event as read models receive it: upcast to the newest version of its type, with
/// personal data as readers see it (`event`), and the entities it refers to. A model that
/// keeps an event's text keeps `stored.line`, where personal data is sealed, so that a later
/// erasure reaches it too, and reveals it when it answers.
public struct ProjectedEvent: Sendable {
    public let stored: StoredEvent
    let catalog: Catalog
    let vault: PersonalDataVault
    /// Every entity the event names, as `KIND/ID`: its stream, and each identifier with a
    /// kind prefix (`prj_9` is `project/prj_9`), reference (`team/team_3`) or domain in
    /// `data`, each once. Found when the event is read, on the core that reads the log.
    public let references: [String]

    init(stored: StoredEvent, catalog: Catalog, vault: PersonalDataVault) {
        self.stored = stored
        self.catalog = catalog
        self.vault = vault
        references = Self.references(of: stored)
    }

    /// The event upcast, with personal data revealed (worked out when asked for: many read
    /// models need only the stored event's fields).
    public var event: StoredEvent { vault.reveal(stored, catalog: catalog).upcast(by: catalog) }

    public var seq: UInt64 { stored.seq }
    public var type: String { stored.type }

    private static func references(of stored: StoredEvent) -> [String] {
        var found: [String] = [stored.stream]
        // The stored line: personal data there is sealed, and sealed values name nothing.
        StoredLine.forEachString(inDataOf: stored.line, where: Self.mayRefer) { key, value in
            if let reference = reference(key: key, value: value), !found.contains(reference) { found.append(reference) }
        }
        return found
    }

    static let kinds: [(prefix: String, kind: String)] = [
        ("usr_", "user"), ("tok_", "token"), ("org_", "org"), ("team_", "team"), ("prj_", "project"), ("b_", "build"),
        ("fn_", "function"), ("db_", "database"), ("bak_", "backup"), ("wh_", "webhook"), ("role_", "role"),
        ("grant_", "grant"), ("inv_", "invitation"),
    ]

    /// Whether a value's bytes can be a reference: it has a `_` (an id's prefix) or a `/`
    /// (`KIND/ID`) or a `.` (a domain), and no space.
    static func mayRefer(_ bytes: ArraySlice<UInt8>) -> Bool {
        var marked = false
        for byte in bytes {
            if byte == UInt8(ascii: " ") { return false }
            if byte == UInt8(ascii: "_") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".") { marked = true }
        }
        return marked
    }

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
