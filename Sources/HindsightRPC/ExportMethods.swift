import HindsightEvidence
public import HindsightCore
import HindsightLog

/// `export.audit`: audit events as a bundle anyone can verify offline (docs/export-format.md).
enum ExportMethods {
    static let all: [RPCMethod] = [audit]

    static let audit = RPCMethod(
        name: "export.audit",
        params: "from?, to? (seqs or RFC 3339 times; default the whole log), org?, types?, format (jsonl | csv), path (a new directory beneath the exports directory serve was started with, or relative to it)",
        result: "manifest: file, count, firstSeq, lastSeq, sha256, chainHead {size, root}, complete, range, files; path",
        summary: "Writes the events of a range (optionally of one org or some types) with their Merkle proofs, a signed checkpoint and a signed manifest; keeps the checkpoint.",
        writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["from", "to", "org", "types", "format", "path"])
        let formatName = try p.required("format", p.string("format"))
        guard let format = ExportFormat(rawValue: formatName) else { throw RPCError.params("format must be jsonl or csv", path: "/params/format") }
        let path = try p.required("path", p.string("path"))
        let bound = { (position: Params.Position?) -> AuditExport.Request.Bound? in
            switch position {
            case .seq(let seq)?: .seq(seq)
            case .time(let ms)?: .time(ms)
            case nil: nil
            }
        }
        let (from, to) = (try p.position("from"), try p.position("to"))
        switch (from, to) {
        case (.seq(let first)?, .seq(let last)?) where first > last:
            throw RPCError.params("from must not be after to", path: "/params/from")
        case (.time(let first)?, .time(let last)?) where first > last:
            throw RPCError.params("from must not be after to", path: "/params/from")
        default: break
        }
        let request = AuditExport.Request(from: bound(from), to: bound(to), org: try p.string("org"), types: try p.eventTypes("types", in: call.store.catalog), format: format)
        let destination = try call.store.exportDestination(path)
        let reader = try call.store.reader()
        let source = try call.store.source()
        let manifest: ExportManifest
        do throws(LogError) {
            let key = try SigningKey(path: call.store.signingKey)
            manifest = try AuditExport.write(
                request, reader: reader, events: source, key: key,
                checkpoints: CheckpointStore(dataDirectory: call.store.directory), to: destination)
        } catch {
            throw RPCError(error)
        }
        return [
            "file": .string(manifest.file), "count": .integer(Int64(manifest.count)),
            "firstSeq": manifest.firstSeq.map { .integer(Int64($0)) } ?? .null, "lastSeq": manifest.lastSeq.map { .integer(Int64($0)) } ?? .null,
            "sha256": .string(manifest.sha256),
            "chainHead": ["size": .integer(Int64(manifest.chainHead.size)), "root": .string(manifest.chainHead.root)],
            "complete": .bool(manifest.complete),
            "range": ["firstSeq": .integer(Int64(manifest.range.firstSeq)), "lastSeq": .integer(Int64(manifest.range.lastSeq))],
            "files": .object(manifest.files.mapValues { .string($0) }), "path": .string(destination.path),
            "position": .integer(Int64(manifest.chainHead.size)),
        ]
    }
}
