internal import CShim
import Dispatch
import Foundation
import HindsightCore
import HindsightLog

/// What the writer must know to append: each stream's version, every stored event id (both
/// in `WriterIndex`, on disk), and the Merkle frontier.
struct WriterState: Sendable {
    let index: WriterIndex
    var frontier: MerkleFrontier

    /// Opens the writer's index of the log in `view` (rebuilding it from the segments if it is
    /// missing or disagrees with them) and takes the frontier at the log's end.
    init(opening view: LogView, directory: String, saveEvery: Int?) throws(LogError) {
        index = try WriterIndex(view: view, directory: directory, saveEvery: saveEvery)
        frontier = index.savedFrontier
    }

    /// Records the ids of a new batch at the seqs it will get and returns nil. If every
    /// event's id was stored before, the batch is a retry: nothing is recorded and the
    /// original positions are returned. A batch that repeats an id, or mixes stored ids with
    /// new events, is refused. Undone by `releaseIDs` if the batch is not written after all.
    func admit(_ batch: EnvelopeBatch) throws(LogError) -> AppendResult? {
        let firstSeq = frontier.size + 1
        index.reserveIDs(batch.count)
        var stored: [(seq: UInt64, line: Int)] = []
        var firstNew: ParsedEnvelope?
        for (index, event) in batch.events.enumerated() {
            guard let id = event.id else {
                if firstNew == nil { firstNew = event }
                continue
            }
            let found: UInt64?
            do throws(LogError) {
                found = try self.index.admitID(id, at: firstSeq + UInt64(index))
            } catch {
                releaseIDs(of: batch)
                throw error
            }
            guard let seq = found else {
                if firstNew == nil { firstNew = event }
                continue
            }
            if seq >= firstSeq {
                releaseIDs(of: batch)
                throw LogError(
                    .invalidEnvelope, "this event id appears earlier in the same batch", location: "line \(event.line)", fieldPath: "/id")
            }
            stored.append((seq, event.line))
        }
        if stored.isEmpty { return nil }
        releaseIDs(of: batch)
        if let firstNew {
            throw LogError(
                .idempotencyConflict,
                "the batch mixes \(stored.count) events stored before (first at seq \(stored.map(\.seq).min()!)) with new ones; retry the original batch unchanged, or send the new events alone",
                location: "line \(firstNew.line)", fieldPath: "/id")
        }
        var seen = Set<UInt64>()
        for (seq, line) in stored where !seen.insert(seq).inserted {
            throw LogError(.invalidEnvelope, "this event id appears earlier in the same batch", location: "line \(line)", fieldPath: "/id")
        }
        let seqs = stored.map(\.seq)
        return AppendResult(firstSeq: seqs.min()!, lastSeq: seqs.max()!, count: seqs.count, isRetry: true)
    }

    /// Forgets the ids `admit` recorded for a batch that is not written: only those at the
    /// seqs the batch would have had, never an id stored before.
    func releaseIDs(of batch: EnvelopeBatch) {
        let firstSeq = frontier.size + 1
        for (index, event) in batch.events.enumerated() {
            if let id = event.id { self.index.forgetID(id, ifAt: firstSeq + UInt64(index)) }
        }
    }

    func check(_ expected: [String: ExpectedVersion]) throws(LogError) {
        for (stream, expectation) in expected.sorted(by: { $0.key < $1.key }) {
            let current = try index.position(of: StreamKey(stream)).version
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
                throw LogError(
                    .wrongExpectedVersion, "stream \(stream) \(actual); the batch expected \(wanted)", location: "expectedVersions",
                    fieldPath: "/expectedVersions/\(stream.replacingSlashes())")
            }
        }
    }

    /// Assigns seqs and stream versions, builds, compresses and hashes the batch's chunks on
    /// all cores, and hands each chunk's bytes (its header, then its LZ4 frame) to `write` in
    /// order, on the calling thread, as soon as that chunk and every one before it are ready:
    /// writing overlaps compression, and a chunk's frame is let go once written. Returns the
    /// state the batch leads to; nothing changes until `apply`, so a failed write leaves the
    /// state as it was.
    func encode(
        _ batch: EnvelopeBatch, options: LogOptions, recordedAt: Int64, write: ([[UInt8]]) throws(LogError) -> Void
    ) throws(LogError) -> EncodedBatch {
        // Each distinct stream of the batch once, as a String, with its version so far.
        var distinct: [(stream: StreamKey, position: StreamPosition)] = []
        var eventVersions = [UInt64](repeating: 0, count: batch.count)
        var previous = [UInt64](repeating: 0, count: batch.count)
        var lookupFailure: LogError?
        var plans: [PendingChunk] = []
        var chunkStart = 0
        var chunkBytes = 0
        let firstSeq = frontier.size + 1
        let limit = Self.chunkLimit(for: batch, options: options)
        batch.withBodies { body in
            // The batch's streams by their bytes in the bodies: no String per event.
            var slots = NumberTable<StreamBytes>()
            for (index, event) in batch.events.enumerated() {
                let name = UnsafeRawBufferPointer(rebasing: body(event)[event.streamOffset...].prefix(event.streamLength))
                let key = StreamBytes(hash: event.streamHash, bytes: name)
                let slot: Int
                if let found = slots[key] {
                    slot = Int(found)
                } else {
                    let stream = StreamKey(name: String(decoding: name, as: UTF8.self), hash: event.streamHash)
                    do throws(LogError) {
                        distinct.append((stream, try self.index.position(of: stream)))
                    } catch {
                        lookupFailure = lookupFailure ?? error
                        distinct.append((stream, StreamPosition(version: 0, lastSeq: 0)))
                    }
                    slot = distinct.count - 1
                    slots.insert(key, UInt64(slot))
                }
                distinct[slot].position.version += 1
                eventVersions[index] = distinct[slot].position.version
                previous[index] = distinct[slot].position.lastSeq
                distinct[slot].position.lastSeq = firstSeq + UInt64(index)
                chunkBytes += event.bodyLength + PendingChunk.prefixBound
                if chunkBytes >= limit || index == batch.count - 1 {
                    plans.append(
                        PendingChunk(firstSeq: firstSeq + UInt64(chunkStart), events: chunkStart..<(index + 1), capacity: chunkBytes))
                    chunkStart = index + 1
                    chunkBytes = 0
                }
            }
        }

        if let lookupFailure { throw lookupFailure }

        var stampBytes: [UInt8] = []
        Timestamp.append(recordedAt, to: &stampBytes)
        let stamp = stampBytes
        let versionsByEvent = eventVersions
        var frontier = self.frontier
        var leaves: [TreeHash] = []
        leaves.reserveCapacity(batch.count)
        var byteCount = 0
        var failure: LogError?
        plans.withUnsafeMutableBufferPointer { chunks in
            batch.withBodies { body in
                // The helpers finish before withBodies returns, so the closure never escapes.
                withoutActuallyEscaping(body) { body in
                    let work = ChunkWork(
                        chunks: chunks, events: batch.events, versions: versionsByEvent, body: body, recordedAt: stamp,
                        level: options.compressionLevel)
                    let helpers = DispatchGroup()
                    let shared = UnsafeSendable(work)
                    for _ in 1..<min(chunks.count, ProcessInfo.processInfo.activeProcessorCount) {
                        DispatchQueue.global().async(group: helpers) { shared.value.sealClaimedChunks() }
                    }
                    // This thread seals chunks too, and between two writes each chunk that is
                    // ready in order; a slow write leaves more chunks to the helpers.
                    var next = 0
                    func writeReady(waiting: Bool) {
                        while failure == nil, next < chunks.count, work.isSealed(next, waiting: waiting) {
                            for subtree in chunks[next].subtrees { frontier.append(subtree) }
                            leaves.append(contentsOf: chunks[next].leaves)
                            let header = chunks[next].header(
                                isBatchEnd: next == chunks.count - 1, recordedAt: recordedAt, root: frontier.root)
                            do throws(LogError) {
                                try write([header, chunks[next].frame])
                            } catch {
                                failure = error
                                work.stop()
                                return
                            }
                            byteCount += header.count + chunks[next].frame.count
                            chunks[next].frame = []
                            next += 1
                        }
                    }
                    var text: [UInt8] = []
                    while let index = work.claim() {
                        work.seal(index, text: &text)
                        writeReady(waiting: false)
                    }
                    writeReady(waiting: true)
                    // After a failed write the helpers may still be reading the batch.
                    helpers.wait()
                }
            }
        }
        if let failure { throw failure }
        return EncodedBatch(byteCount: byteCount, streamPositions: distinct, previous: previous, leaves: leaves, frontier: frontier)
    }

    /// How much NDJSON a chunk of this batch holds: `options.chunkBytes`, but a batch of a few
    /// megabytes is cut into one chunk per core (down to `minimumChunkBytes`) so that all
    /// cores compress it.
    static func chunkLimit(for batch: EnvelopeBatch, options: LogOptions) -> Int {
        let total = batch.events.reduce(0) { $0 + $1.bodyLength + PendingChunk.prefixBound }
        let perCore = total / ProcessInfo.processInfo.activeProcessorCount + 1
        return max(min(options.chunkBytes, perCore), min(options.chunkBytes, LogOptions.minimumChunkBytes))
    }

    /// Takes on the state an encoded batch leads to, once its bytes are written (its ids were
    /// recorded by `admit`).
    mutating func apply(_ batch: EncodedBatch) {
        index.record(streams: batch.streamPositions, previous: batch.previous, leaves: batch.leaves)
        frontier = batch.frontier
    }
}

/// A stream's name where it lies in a batch's bodies, for the batch's own version table.
private struct StreamBytes: PrehashedKey, @unchecked Sendable {
    let hash: UInt64
    let bytes: UnsafeRawBufferPointer

    var hash64: UInt64 { hash }

    static func == (a: StreamBytes, b: StreamBytes) -> Bool {
        a.hash == b.hash && a.bytes.count == b.bytes.count && memcmp(a.bytes.baseAddress!, b.bytes.baseAddress!, a.bytes.count) == 0
    }
}

/// The chunks of one batch being built, compressed and hashed by several threads, each
/// claiming the next chunk nobody has taken, and the writer waiting for them in order.
private final class ChunkWork: @unchecked Sendable {
    let chunks: UnsafeMutableBufferPointer<PendingChunk>
    let events: [ParsedEnvelope]
    let versions: [UInt64]
    let body: (ParsedEnvelope) -> UnsafeRawBufferPointer
    let recordedAt: [UInt8]
    let level: Int32
    /// Signalled once per chunk, when it is sealed.
    private let sealed: [DispatchSemaphore]
    private let lock = NSLock()
    private var unclaimed = 0

    init(
        chunks: UnsafeMutableBufferPointer<PendingChunk>, events: [ParsedEnvelope], versions: [UInt64],
        body: @escaping (ParsedEnvelope) -> UnsafeRawBufferPointer, recordedAt: [UInt8], level: Int32
    ) {
        self.chunks = chunks
        self.events = events
        self.versions = versions
        self.body = body
        self.recordedAt = recordedAt
        self.level = level
        sealed = chunks.indices.map { _ in DispatchSemaphore(value: 0) }
    }

    /// The next chunk to seal, or nil when all are taken (or the work was stopped).
    func claim() -> Int? {
        lock.withLock {
            guard unclaimed < chunks.count else { return nil }
            unclaimed += 1
            return unclaimed - 1
        }
    }

    /// Leaves the chunks nobody has claimed yet unsealed.
    func stop() {
        lock.withLock { unclaimed = chunks.count }
    }

    /// Builds the chunk's text in `text` (a buffer reused from chunk to chunk: no fresh pages
    /// to fault in for each one), compresses and hashes it.
    func seal(_ index: Int, text: inout [UInt8]) {
        chunks[index].build(events, versions, body: body, recordedAt: recordedAt, into: &text)
        chunks[index].seal(text, level: level)
        sealed[index].signal()
    }

    func sealClaimedChunks() {
        var text: [UInt8] = []
        while let index = claim() { seal(index, text: &text) }
    }

    /// Whether the chunk is sealed; `waiting`, it waits until it is. Call once per chunk that
    /// it reports sealed.
    func isSealed(_ index: Int, waiting: Bool) -> Bool {
        if waiting {
            sealed[index].wait()
            return true
        }
        return sealed[index].wait(timeout: .now()) == .success
    }
}

/// A written batch: its size and the writer state it leads to.
struct EncodedBatch {
    let byteCount: Int
    /// Each stream the batch touched and its version and last seq after it.
    let streamPositions: [(stream: StreamKey, position: StreamPosition)]
    /// Each event's previous seq in its stream (0 for a stream's first).
    let previous: [UInt64]
    /// Each event's leaf hash.
    let leaves: [TreeHash]
    let frontier: MerkleFrontier
}

/// One chunk of a batch: which events it holds, then its frame and subtrees.
private struct PendingChunk {
    /// The most bytes the engine's fields add to a line (20-digit seq and version, the time).
    static let prefixBound = 100

    let firstSeq: UInt64
    let events: Range<Int>
    let capacity: Int
    var rawLength = 0
    var minOccurredAt = Int64.max
    var maxOccurredAt = Int64.min
    var frame: [UInt8] = []
    var leaves: [TreeHash] = []
    var subtrees: [PerfectSubtree] = []

    init(firstSeq: UInt64, events: Range<Int>, capacity: Int) {
        self.firstSeq = firstSeq
        self.events = events
        self.capacity = capacity
    }

    private static let seqKey = Array("{\"seq\":".utf8)
    private static let versionKey = Array(",\"streamVersion\":".utf8)
    private static let recordedKey = Array(",\"recordedAt\":\"".utf8)
    private static let recordedEnd = Array("\",".utf8)

    /// Writes each event into `text` (emptied first) as `{"seq":N,"streamVersion":V,"recordedAt":"T",`
    /// followed by the rest of its canonical object: the engine's fields first, so a reader
    /// finds them without parsing.
    mutating func build(
        _ all: [ParsedEnvelope], _ versions: [UInt64], body: (ParsedEnvelope) -> UnsafeRawBufferPointer, recordedAt: [UInt8],
        into text: inout [UInt8]
    ) {
        text.removeAll(keepingCapacity: true)
        text.reserveCapacity(capacity)
        var seq = firstSeq
        for index in events {
            let event = all[index]
            text.append(contentsOf: Self.seqKey)
            text.appendDecimal(seq)
            text.append(contentsOf: Self.versionKey)
            text.appendDecimal(versions[index])
            text.append(contentsOf: Self.recordedKey)
            text.append(contentsOf: recordedAt)
            text.append(contentsOf: Self.recordedEnd)
            text.append(contentsOf: UnsafeRawBufferPointer(rebasing: body(event).dropFirst()))
            text.append(UInt8(ascii: "\n"))
            minOccurredAt = min(minOccurredAt, event.occurredAt)
            maxOccurredAt = max(maxOccurredAt, event.occurredAt)
            seq += 1
        }
    }

    /// The chunk's header, once sealed; `root` is the tree's root after its last event.
    func header(isBatchEnd: Bool, recordedAt: Int64, root: TreeHash) -> [UInt8] {
        var header: [UInt8] = []
        ChunkHeader(
            isBatchEnd: isBatchEnd, firstSeq: firstSeq, count: UInt32(events.count), frameLength: UInt32(frame.count),
            rawLength: UInt32(rawLength), minOccurredAt: minOccurredAt, maxOccurredAt: maxOccurredAt,
            recordedAt: recordedAt, root: root
        ).encode(into: &header)
        return header
    }

    /// Compresses the chunk's text and hashes its lines into the chunk's aligned subtrees.
    mutating func seal(_ text: [UInt8], level: Int32) {
        frame = text.withUnsafeBytes { LZ4Frame.compress($0, level: level) }
        var leaves = [TreeHash](repeating: .emptyRoot, count: events.count)
        var bad = -1
        let hashed = text.withUnsafeBytes { raw in
            leaves.withUnsafeMutableBytes { out in
                hs_hash_stored_lines(
                    raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, firstSeq, events.count,
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), &bad, nil)
            }
        }
        precondition(hashed == events.count, "the engine wrote a chunk whose lines do not carry their seqs")
        rawLength = text.count
        subtrees = PerfectSubtree.decompose(leaves, start: firstSeq - 1)
        self.leaves = leaves
    }
}
