internal import CShim
import Dispatch

/// What the writer must know to append: each stream's version, every stored event id, and
/// the Merkle frontier. Rebuilt from the segments at open, so it is exactly as durable as
/// the log itself.
struct WriterState: Sendable {
    var streams: [String: UInt64] = [:]
    var ids: [EventID: UInt64] = [:]
    var frontier = MerkleFrontier()

    init() {}

    /// Replays every committed chunk, checking its checksums, seqs and Merkle root on the way.
    init(rebuiltFrom view: LogView) throws(LogError) {
        let parser = try StoredLineParser()
        var hashes: [TreeHash] = []
        for chunk in view.chunks {
            if chunk.header.firstSeq != frontier.size + 1 {
                throw view.corrupt(chunk, "expected the chunk to start at seq \(frontier.size + 1); run `hindsight verify`")
            }
            if case .failure(let bad) = LogReader.leafHashes(of: chunk, in: view, into: &hashes) {
                throw LogError(.logCorrupt, bad.reason, location: "seq \(bad.seq)")
            }
            for hash in hashes { frontier.append(hash) }
            guard frontier.root == chunk.header.root else {
                throw view.corrupt(chunk, "Merkle root does not match; run `hindsight verify`")
            }
            let text = try view.text(of: chunk).get()
            var seq = chunk.header.firstSeq
            var start = 0
            let end = Int(chunk.header.rawLength)
            while start < end {
                let stop = text[start..<end].firstIndex(of: UInt8(ascii: "\n")) ?? end
                let identity = try text.withUnsafeBytes { bytes in
                    Result { () throws(LogError) in
                        try parser.identity(UnsafeRawBufferPointer(rebasing: bytes[start..<stop]), padded: true)
                    }
                }.get()
                streams[identity.stream] = identity.version
                if let id = identity.id { ids[id] = seq }
                seq += 1
                start = stop + 1
            }
        }
    }

    /// The original positions if the batch is a retry of stored events; nil if it is new.
    func retry(of batch: EnvelopeBatch) throws(LogError) -> AppendResult? {
        var inBatch = Set<EventID>(minimumCapacity: batch.count)
        var stored: [UInt64] = []
        var firstNew: ParsedEnvelope?
        for event in batch.events {
            guard let id = event.id else {
                if firstNew == nil { firstNew = event }
                continue
            }
            guard inBatch.insert(id).inserted else {
                throw LogError(.invalidEnvelope, "this event id appears earlier in the same batch", location: "line \(event.line)", fieldPath: "/id")
            }
            if let seq = ids[id] { stored.append(seq) } else if firstNew == nil { firstNew = event }
        }
        if stored.isEmpty { return nil }
        if let firstNew {
            throw LogError(.idempotencyConflict, "the batch mixes \(stored.count) events stored before (first at seq \(stored.min()!)) with new ones; retry the original batch unchanged, or send the new events alone", location: "line \(firstNew.line)", fieldPath: "/id")
        }
        return AppendResult(firstSeq: stored.min()!, lastSeq: stored.max()!, count: stored.count, isRetry: true)
    }

    func check(_ expected: [String: ExpectedVersion]) throws(LogError) {
        for (stream, expectation) in expected.sorted(by: { $0.key < $1.key }) {
            let current = streams[stream] ?? 0
            let ok: Bool
            switch expectation {
            case .any: ok = true
            case .noStream: ok = current == 0
            case .exactly(let version): ok = current == version
            }
            if !ok {
                let wanted: String
                switch expectation {
                case .any: wanted = "any"
                case .noStream: wanted = "no stream"
                case .exactly(let version): wanted = "version \(version)"
                }
                let actual = current == 0 ? "does not exist" : "is at version \(current)"
                throw LogError(.wrongExpectedVersion, "stream \(stream) \(actual); the batch expected \(wanted)", location: "expectedVersions", fieldPath: "/expectedVersions/\(stream.replacingSlashes())")
            }
        }
    }

    /// Assigns seqs and stream versions, builds the stored lines, and returns the bytes to
    /// append (for each chunk its header and its LZ4 frame) with the state they lead to.
    /// Compression and hashing run on all cores, one chunk per task. Nothing changes until
    /// `apply` is called, so a failed write leaves the state as it was.
    func encode(_ batch: EnvelopeBatch, options: LogOptions, recordedAt: Int64) -> EncodedBatch {
        var stamp: [UInt8] = []
        Timestamp.append(recordedAt, to: &stamp)
        var versions: [String: UInt64] = [:]
        var newIDs: [(EventID, UInt64)] = []
        newIDs.reserveCapacity(batch.count)
        var chunks: [PendingChunk] = []
        var current = PendingChunk(firstSeq: frontier.size + 1, capacity: options.chunkBytes)
        var seq = frontier.size
        batch.bodies.withUnsafeBytes { bodies in
            for event in batch.events {
                seq += 1
                let version = (versions[event.stream] ?? streams[event.stream] ?? 0) + 1
                versions[event.stream] = version
                if let id = event.id { newIDs.append((id, seq)) }
                current.append(seq: seq, version: version, recordedAt: stamp, occurredAt: event.occurredAt,
                               body: UnsafeRawBufferPointer(rebasing: bodies[event.bodyStart..<(event.bodyStart + event.bodyLength)]))
                if current.text.count >= options.chunkBytes {
                    chunks.append(current)
                    current = PendingChunk(firstSeq: seq + 1, capacity: options.chunkBytes)
                }
            }
        }
        if current.count > 0 { chunks.append(current) }

        chunks.withUnsafeMutableBufferPointer { buffer in
            let shared = UnsafeSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: buffer.count) { index in
                shared.value[index].seal(level: options.compressionLevel)
            }
        }

        var frontier = self.frontier
        var bytes: [UInt8] = []
        bytes.reserveCapacity(chunks.reduce(0) { $0 + $1.frame.count + ChunkHeader.encodedSize })
        for (index, chunk) in chunks.enumerated() {
            for leaf in chunk.leaves { frontier.append(leaf) }
            ChunkHeader(
                isBatchEnd: index == chunks.count - 1, firstSeq: chunk.firstSeq, count: UInt32(chunk.count),
                frameLength: UInt32(chunk.frame.count), rawLength: UInt32(chunk.text.count),
                minOccurredAt: chunk.minOccurredAt, maxOccurredAt: chunk.maxOccurredAt,
                recordedAt: recordedAt, root: frontier.root
            ).encode(into: &bytes)
            bytes.append(contentsOf: chunk.frame)
        }
        return EncodedBatch(bytes: bytes, streamVersions: versions, ids: newIDs, frontier: frontier)
    }

    /// Takes on the state an encoded batch leads to, once its bytes are written.
    mutating func apply(_ batch: EncodedBatch) {
        streams.merge(batch.streamVersions) { _, new in new }
        ids.reserveCapacity(ids.count + batch.ids.count)
        for (id, seq) in batch.ids { ids[id] = seq }
        frontier = batch.frontier
    }
}

/// A batch ready to write, and the writer state it leads to.
struct EncodedBatch {
    let bytes: [UInt8]
    let streamVersions: [String: UInt64]
    let ids: [(EventID, UInt64)]
    let frontier: MerkleFrontier
}

/// A chunk being built: its stored lines, then its frame and leaf hashes.
private struct PendingChunk {
    let firstSeq: UInt64
    var count = 0
    var text: [UInt8] = []
    var minOccurredAt = Int64.max
    var maxOccurredAt = Int64.min
    var frame: [UInt8] = []
    var leaves: [TreeHash] = []

    init(firstSeq: UInt64, capacity: Int) {
        self.firstSeq = firstSeq
        text.reserveCapacity(capacity + 8192)
    }

    private static let seqKey = Array("{\"seq\":".utf8)
    private static let versionKey = Array(",\"streamVersion\":".utf8)
    private static let recordedKey = Array(",\"recordedAt\":\"".utf8)

    /// Appends `{"seq":N,"streamVersion":V,"recordedAt":"T",` and the rest of the producer's
    /// minified object: the engine's fields first, so a reader finds them without parsing.
    mutating func append(seq: UInt64, version: UInt64, recordedAt: [UInt8], occurredAt: Int64, body: UnsafeRawBufferPointer) {
        text.append(contentsOf: Self.seqKey)
        text.appendDecimal(seq)
        text.append(contentsOf: Self.versionKey)
        text.appendDecimal(version)
        text.append(contentsOf: Self.recordedKey)
        text.append(contentsOf: recordedAt)
        text.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ",")])
        text.append(contentsOf: UnsafeRawBufferPointer(rebasing: body.dropFirst()))
        text.append(UInt8(ascii: "\n"))
        count += 1
        minOccurredAt = min(minOccurredAt, occurredAt)
        maxOccurredAt = max(maxOccurredAt, occurredAt)
    }

    /// Compresses the text and hashes its lines.
    mutating func seal(level: Int32) {
        text.withUnsafeBytes { LZ4Frame.compress($0, level: level, into: &frame) }
        leaves = [TreeHash](repeating: .emptyRoot, count: count)
        var bad = -1
        let hashed = text.withUnsafeBytes { raw in
            leaves.withUnsafeMutableBytes { out in
                hs_hash_stored_lines(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, firstSeq, count,
                                     out.baseAddress!.assumingMemoryBound(to: UInt8.self), &bad)
            }
        }
        precondition(hashed == count, "the engine wrote a chunk whose lines do not carry their seqs")
    }
}

extension String {
    /// The string as one JSON Pointer token.
    func replacingSlashes() -> String {
        var out = ""
        for c in self {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.append(c)
            }
        }
        return out
    }
}
