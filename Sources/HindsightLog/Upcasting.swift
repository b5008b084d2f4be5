public import HindsightCatalog

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
        return StoredEvent(seq: seq, streamVersion: streamVersion, type: type, stream: stream, org: org, id: id,
                           occurredAtMs: occurredAtMs, schemaVersion: newest.version,
                           line: StoredLine.upcast(line, adding: added, version: newest.version))
    }
}

/// Edits of a stored line that rely on its canonical form (docs/log-format.md): minified,
/// `data` after `actor`, `schemaVersion` last when present.
enum StoredLine {
    static func upcast(_ line: [UInt8], adding fields: [(field: String, json: String)], version: Int) -> [UInt8] {
        // `,"data":{` cannot occur inside a string (a quote there is escaped), so the first one
        // is the envelope's.
        let marker = Array(#","data":{"#.utf8)
        guard let start = line.firstRange(of: marker)?.upperBound, let end = closingBrace(line, from: start - 1) else { return line }
        var out = Array(line[..<end])
        for (index, field) in fields.enumerated() {
            if index > 0 || end > start { out.append(UInt8(ascii: ",")) }
            out += Array("\"\(field.field)\":\(field.json)".utf8)
        }
        out += line[end...].dropLast()  // up to the line's closing brace
        let versionField = Array(#","schemaVersion":"#.utf8)
        if let existing = out.lastRange(of: versionField), existing.lowerBound > end {
            out.removeSubrange(existing.lowerBound...)
        }
        out += versionField + Array("\(version)}".utf8)
        return out
    }

    /// The index of the `}` that closes the object opening at `open`.
    static func closingBrace(_ line: [UInt8], from open: Int) -> Int? {
        var depth = 0, index = open, inString = false
        while index < line.count {
            let byte = line[index]
            if inString {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                depth += 1
            } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 { return index }
            }
            index += 1
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    func lastRange(of pattern: [UInt8]) -> Range<Int>? {
        guard pattern.count <= count else { return nil }
        for start in stride(from: count - pattern.count, through: 0, by: -1) where self[start..<(start + pattern.count)].elementsEqual(pattern) {
            return start..<(start + pattern.count)
        }
        return nil
    }
}
