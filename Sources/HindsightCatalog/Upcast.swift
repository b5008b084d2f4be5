public import HindsightCore

extension StoredEvent {
    /// The event as the newest schema of its type describes it, which is how read models
    /// see history: a stored event is never rewritten, but an older version is read through
    /// each later schema's `x-upcast` rule in turn (the fields it sets are added to `data`,
    /// `schemaVersion` becomes the newest). Events already at the newest version, and types
    /// the catalogue does not know, come back unchanged.
    public func upcast(by catalog: Catalog) -> StoredEvent {
        let versions = catalog.versions(of: type)
        guard let newest = versions.last, schemaVersion < newest.version else { return self }
        let added = versions.filter { $0.version > schemaVersion }.flatMap { $0.upcast?.set ?? [] }
        return StoredEvent(
            seq: seq, streamVersion: streamVersion, type: type, stream: stream, org: org, actorKind: actorKind, actorID: actorID,
            occurredAtMs: occurredAtMs, schemaVersion: newest.version,
            line: StoredLine.upcast(Array(line), adding: added, version: newest.version)[...])
    }
}
