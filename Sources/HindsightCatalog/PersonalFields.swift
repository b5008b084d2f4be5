public import HindsightCore

/// Personal data (fields a schema marks `"x-personal": true`) is stored only in a sealed
/// form: the append path replaces each value before the batch is written, and readers map
/// each stored value back (to the plaintext, or to the erasure marker). What sealing means is
/// the privacy module's business; the log only finds the fields and refuses to store a batch
/// whose personal fields were not sealed.
extension EnvelopeBatch {
    /// Replaces every personal field's string value by `seal(field, value)`, whose
    /// result must need no JSON escaping (the privacy module's sealed form is ASCII without
    /// quotes or backslashes).
    public mutating func sealPersonalData(
        catalog: Catalog, _ seal: (_ field: String, _ value: String) throws(LogError) -> String
    ) throws(LogError) {
        for index in unsealed {
            var body = Array(body(index))
            for field in catalog.schema(at: Int(events[index].schema)).personalFields {
                guard let data = StoredLine.data(in: body[...]), let value = StoredLine.stringField(field, in: body[...], data: data) else {
                    continue
                }
                let sealed = try seal(field, String(decoding: body[value], as: UTF8.self))
                precondition(
                    sealed.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") },
                    "a sealed value must need no JSON escaping")
                body.replaceSubrange(value, with: Array(sealed.utf8))
            }
            events[index].bodyStart = sealedBodies.count
            events[index].bodyLength = body.count
            events[index].isSealed = true
            sealedBodies += body
        }
        unsealed = []
    }
}

extension EnvelopeBatch {
    /// The canonical JSON of the batch's events of the given types, in batch order, for the
    /// few events whose payload the privacy module must read before the batch is stored
    /// (invitations, acceptances, erasures).
    public func bodies(ofTypes types: Set<String>, catalog: Catalog) -> [[UInt8]] {
        let wanted = catalog.schemas.map { types.contains($0.type) }
        return events.indices.compactMap { index in
            let schema = Int(events[index].schema)
            return schema >= 0 && wanted[schema] ? Array(body(index)) : nil
        }
    }
}

extension StoredEvent {
    /// The event with each personal field's stored value replaced by `reveal(field, stored)`,
    /// a plain string (escaped here as JSON needs).
    public func revealingPersonalData(catalog: Catalog, _ reveal: (_ field: String, _ stored: String) -> String) -> StoredEvent {
        guard let schema = catalog.versions(of: type).first(where: { $0.version == schemaVersion }),
            !schema.personalFields.isEmpty
        else { return self }
        var line = Array(line)
        for field in schema.personalFields {
            guard let data = StoredLine.data(in: line[...]), let value = StoredLine.stringField(field, in: line[...], data: data) else {
                continue
            }
            let revealed = reveal(field, String(decoding: line[value], as: UTF8.self))
            line.replaceSubrange(value, with: jsonStringContents(revealed))
        }
        return StoredEvent(
            seq: seq, streamVersion: streamVersion, type: type, stream: stream, org: org, actorKind: actorKind, actorID: actorID,
            occurredAtMs: occurredAtMs, schemaVersion: schemaVersion, line: line[...])
    }
}
