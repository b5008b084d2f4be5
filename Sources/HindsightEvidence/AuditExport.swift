import Dispatch
import Foundation
public import HindsightCore
public import HindsightLog
public import HindsightReadSide

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An export of audit events that anyone can check offline with the signing key's public
/// half: a directory holding the stored lines (as hashed), a readable rendering, a signed
/// checkpoint of the log, the Merkle proofs that tie the lines to it, and a signed manifest.
/// The format is in docs/export-format.md.
public enum AuditExport {
    /// What to export. `from` and `to` are seqs or times; a time window covers the seqs from
    /// the first event that occurred in it to the last, every event between included, so that
    /// an unfiltered export is provably complete.
    public struct Request: Sendable {
        public var from: LogPosition?
        public var to: LogPosition?
        public var org: String?
        public var types: [String]?
        public var format: ExportFormat

        public init(from: LogPosition? = nil, to: LogPosition? = nil, org: String? = nil, types: [String]? = nil, format: ExportFormat) {
            self.from = from
            self.to = to
            self.org = org
            self.types = types
            self.format = format
        }
    }

    /// Writes the bundle as `destination`: beside it, then renamed into place once whole. Signs and keeps a checkpoint of the log as it is now, and
    /// anchors the bundle to it (in `checkpoints`). `progress` hears of the log's events read.
    public static func write(
        _ request: Request, reader: LogReader, events: EventSource, key: SigningKey,
        checkpoints: CheckpointStore, to destination: ExportDestination, progress: ProgressReport? = nil
    ) throws(LogError) -> ExportManifest {
        let size = reader.size
        guard size > 0 else { throw LogError(.outOfRange, "the log is empty: there is nothing to export") }
        let range = try seqs(of: request, in: reader)

        let bundle = try BundleWriter(destination)
        return try bundle.writing { () throws(LogError) -> ExportManifest in
            let lines = try bundle.file("events.ndjson")
            let rendering = try bundle.file(request.format.file)
            if request.format == .csv { rendering.write(Rendering.csvHeader) }

            // One pass over the whole log: every line's leaf hash (the tree proves the exported
            // lines, and the log's extension of every checkpoint kept before), and the lines the
            // request selects with their rendering.
            let pass = ExportPass(request, range: range, size: size, events: events, lines: lines, rendering: rendering)
            do {
                try reader.scanLines(1...size) { seq, line in
                    pass.add(seq, line)
                    if seq & 0xFFFF == 0 || seq == size { progress?(seq, size) }
                    return true
                }
            } catch let error as LogError {
                throw error
            } catch {
                throw LogError(.io, "cannot read the log: \(error)")
            }
            let (leaves, indices) = pass.finish()
            let root = MerkleProof.root(of: leaves[...])
            guard root == reader.root else {
                throw LogError(.logCorrupt, "the log's events do not hash to its tree head; run `hindsight verify`")
            }
            let earlier = checkpoints.sizes().filter { $0 < size }
            let checkpoint = try checkpoints.write(size: size, root: root, key: key)

            let proof = ExportProof(
                treeSize: size,
                inclusion: indices.isEmpty ? [] : MerkleProof.multiInclusion(indices: indices, leaves: leaves[...]).map(\.hex),
                consistency: earlier.map { old in
                    ExportProof.Consistency(
                        oldSize: old, hashes: MerkleProof.consistency(oldSize: Int(old), leaves: leaves[...]).map(\.hex))
                })
            try bundle.add("proof.json", Array(try BundleWriter.json(proof)))
            try bundle.add("checkpoint", Array(checkpoint.utf8))
            let sha256 = try bundle.close(lines, "events.ndjson")
            _ = try bundle.close(rendering, request.format.file)
            let manifest = ExportManifest(
                format: ExportManifest.currentFormat,
                query: .init(
                    method: "export.audit", from: request.from?.text, to: request.to?.text, org: request.org,
                    types: request.types, format: request.format.rawValue),
                range: range, complete: request.org == nil && request.types == nil, count: indices.count,
                firstSeq: indices.first.map { UInt64($0 + 1) }, lastSeq: indices.last.map { UInt64($0 + 1) },
                chainHead: .init(size: size, root: root.hex), file: "events.ndjson", sha256: sha256,
                rendering: request.format.file, checkpoint: "checkpoint", proof: "proof.json",
                files: bundle.digests, createdAt: Timestamp.format(Timestamp.now()))
            try bundle.seal(manifest, format: manifest.format, key: key)
            return manifest
        }
    }

    /// Reads the lines of the log as they come, a slice at a time, and works each slice out
    /// on every core: the leaf hash of every line, and the stored line and rendering of every
    /// line the request selects, handed to the bundle's files in seq order.
    private final class ExportPass: @unchecked Sendable {
        /// Lines worked out at once.
        static let slice = 16_384

        let request: Request
        let range: ExportManifest.SeqRange
        let events: EventSource
        let lines: BundleFile
        let rendering: BundleFile
        private var leaves: [TreeHash]
        private var indices: [Int] = []
        private var text: [UInt8] = []
        private var ranges: [Range<Int>] = []
        private var firstSeq: UInt64 = 1

        init(
            _ request: Request, range: ExportManifest.SeqRange, size: UInt64, events: EventSource,
            lines: BundleFile, rendering: BundleFile
        ) {
            self.request = request
            self.range = range
            self.events = events
            self.lines = lines
            self.rendering = rendering
            leaves = [TreeHash](repeating: .emptyRoot, count: Int(size))
        }

        func add(_ seq: UInt64, _ line: UnsafeRawBufferPointer) {
            if ranges.isEmpty { firstSeq = seq }
            ranges.append(text.count..<(text.count + line.count))
            text.append(contentsOf: line)
            if ranges.count == Self.slice { work() }
        }

        /// The leaf hashes of the whole log, and the (0-based) leaf indices of the lines exported.
        func finish() -> (leaves: [TreeHash], indices: [Int]) {
            work()
            return (leaves, indices)
        }

        private func work() {
            guard !ranges.isEmpty else { return }
            let parts = 2 * ProcessInfo.processInfo.activeProcessorCount
            var stored = [[UInt8]](repeating: [], count: parts)
            var shown = stored
            var picked = [[Int]](repeating: [], count: parts)
            let first = Int(firstSeq - 1)
            leaves.withUnsafeMutableBufferPointer { leaves in
                stored.withUnsafeMutableBufferPointer { stored in
                    shown.withUnsafeMutableBufferPointer { shown in
                        picked.withUnsafeMutableBufferPointer { picked in
                            text.withUnsafeBytes { text in
                                let shared = UnsafeSendable((leaves, stored, shown, picked, text))
                                DispatchQueue.concurrentPerform(iterations: parts) { part in
                                    let (leaves, stored, shown, picked, text) = shared.value
                                    let share = (ranges.count + parts - 1) / parts
                                    for offset in min(ranges.count, part * share)..<min(ranges.count, (part + 1) * share) {
                                        let line = UnsafeRawBufferPointer(rebasing: text[ranges[offset]])
                                        let index = first + offset
                                        leaves[index] = TreeHash.leaf(line)
                                        guard UInt64(index + 1) >= range.firstSeq, UInt64(index + 1) <= range.lastSeq, selects(line) else {
                                            continue
                                        }
                                        picked[part].append(index)
                                        stored[part].append(contentsOf: line)
                                        stored[part].append(0x0A)
                                        render(line, into: &shown[part])
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for part in 0..<parts {
                lines.write(stored[part])
                rendering.write(shown[part])
                indices += picked[part]
            }
            text.removeAll(keepingCapacity: true)
            ranges.removeAll(keepingCapacity: true)
        }

        /// Whether the line passes the request's org and types filters.
        private func selects(_ line: UnsafeRawBufferPointer) -> Bool {
            guard request.org != nil || request.types != nil else { return true }
            let event = Array(line)
            let fields = Rendering.Fields(event)
            if let org = request.org, fields.ranges[4].map({ event[$0].elementsEqual(org.utf8) }) != true { return false }
            if let types = request.types,
                !types.contains(where: { type in fields.ranges[3].map { event[$0].elementsEqual(type.utf8) } == true })
            {
                return false
            }
            return true
        }

        /// The line as readers see it, in the request's format. Only a line holding a sealed
        /// value reads otherwise than it is stored.
        private func render(_ line: UnsafeRawBufferPointer, into out: inout [UInt8]) {
            var revealed = Array(line)
            if Rendering.holdsSealedValue(line), let event = try? StoredEvent(storedLine: revealed) {
                revealed = Array(events.present(event).line)
            }
            switch request.format {
            case .jsonl:
                out += revealed
                out.append(0x0A)
            case .csv:
                out += Rendering.csvRow(revealed)
            }
        }
    }

    /// The seqs `from` and `to` stand for.
    private static func seqs(of request: Request, in reader: LogReader) throws(LogError) -> ExportManifest.SeqRange {
        var first: UInt64 = 1
        var last = reader.size
        switch request.from {
        case .seq(let seq)?: first = seq
        case .time(let ms)?:
            var query = ReadQuery()
            query.occurredFrom = ms
            query.limit = 1
            first = reader.size + 1
            try reader.read(query) { (event: StoredEvent) throws(LogError) in
                first = event.seq
                return true
            }
        case nil: break
        }
        switch request.to {
        case .seq(let seq)?: last = seq
        case .time(let ms)?:
            var query = ReadQuery()
            query.from = first
            query.occurredTo = ms
            last = 0
            try reader.read(query) { (event: StoredEvent) throws(LogError) in
                last = event.seq
                return true
            }
        case nil: break
        }
        guard first >= 1, first <= last, last <= reader.size else {
            throw LogError(.outOfRange, "from and to select no events of the log's \(reader.size)", fieldPath: "/from")
        }
        return .init(firstSeq: first, lastSeq: last)
    }
}

extension LogPosition {
    /// As a manifest records a bound: the seq, or the time in RFC 3339.
    var text: String {
        switch self {
        case .seq(let seq): String(seq)
        case .time(let ms): Timestamp.format(ms)
        }
    }
}
