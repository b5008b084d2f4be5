internal import CShim
import Dispatch
package import HindsightCore

/// A chunk whose checksums passed and whose lines carry the seqs they should, with the
/// hashes it adds to the Merkle tree.
package struct CheckedChunk: Sendable {
    package let chunk: ChunkRef
    package let leaves: [TreeHash]
    package let subtrees: [PerfectSubtree]
    /// Each line's stream, stream version and id, when asked for (to rebuild a writer).
    package let identities: [StoredIdentity]
    /// The chunk's NDJSON, when asked for (to recompress it).
    package let text: ArraySlice<UInt8>?
    /// The root of each whole tile of 256 leaves inside the chunk, by the tile's number.
    package let tileRoots: [UInt64: TreeHash]
}

extension CheckedChunk {
    /// `frontier`, which ends at a seq inside this chunk or just before it, grown by the
    /// chunk's later leaves: nil unless it then has the tree head the chunk header records.
    package func grownToItsEnd(from frontier: MerkleFrontier) -> MerkleFrontier? {
        var grown = frontier
        for leaf in leaves[Int(frontier.size + 1 - chunk.header.firstSeq)...] { grown.append(leaf) }
        return grown.root == chunk.header.root ? grown : nil
    }
}

extension LogView {
    /// Decompresses a chunk, hashes its lines and checks that each carries its seq; on
    /// failure names the first bad seq.
    func check(_ chunk: ChunkRef, identities: Bool, keepText: Bool = false) -> Result<CheckedChunk, VerifyFailure> {
        let header = chunk.header
        let text: [UInt8]
        switch self.text(of: chunk) {
        case .success(let bytes): text = bytes
        case .failure(let error): return .failure(VerifyFailure(seq: header.firstSeq, reason: "\(error.location ?? ""): \(error.message)"))
        }
        var leaves = [TreeHash](repeating: TreeHash.emptyRoot, count: Int(header.count))
        var badLine = -1
        var span: [Int64] = [0, 0]
        let hashed = text.withUnsafeBytes { raw in
            leaves.withUnsafeMutableBytes { out in
                hs_hash_stored_lines(
                    raw.baseAddress?.assumingMemoryBound(to: UInt8.self), Int(header.rawLength), header.firstSeq,
                    Int(header.count), out.baseAddress!.assumingMemoryBound(to: UInt8.self), &badLine, &span)
            }
        }
        if hashed < 0 {
            let seq = header.firstSeq + UInt64(badLine)
            return .failure(
                VerifyFailure(
                    seq: seq,
                    reason:
                        "\(location(of: chunk)): line \(badLine + 1) of the chunk should hold seq \(seq) and its occurredAt, and does not (an event was removed, added, reordered or mangled)"
                ))
        }
        // The time span is the sparse time index: a wrong one would hide events from reads.
        guard span[0] == header.minOccurredAt && span[1] == header.maxOccurredAt else {
            return .failure(
                VerifyFailure(
                    seq: header.firstSeq,
                    reason: "\(location(of: chunk)): the chunk header's time span does not match its events' occurredAt"))
        }
        var found: [StoredIdentity] = []
        if identities {
            switch Self.identities(in: text, of: chunk) {
            case .success(let list): found = list
            case .failure(let error):
                return .failure(VerifyFailure(seq: header.firstSeq, reason: "\(location(of: chunk)): \(error.message)"))
            }
        }
        var tileRoots: [UInt64: TreeHash] = [:]
        let subtrees = PerfectSubtree.decompose(leaves, start: header.firstSeq - 1, tileRoots: &tileRoots)
        return .success(
            CheckedChunk(
                chunk: chunk, leaves: leaves, subtrees: subtrees, identities: found,
                text: keepText ? text[..<Int(header.rawLength)] : nil, tileRoots: tileRoots))
    }

    private static func identities(in text: [UInt8], of chunk: ChunkRef) -> Result<[StoredIdentity], LogError> {
        let parser: StoredLineParser
        do { parser = try StoredLineParser() } catch { return .failure(error) }
        var found: [StoredIdentity] = []
        found.reserveCapacity(Int(chunk.header.count))
        return text.withUnsafeBytes { bytes in
            for line in bytes.lineRanges(length: Int(chunk.header.rawLength)) {
                do throws(LogError) {
                    found.append(try parser.identity(UnsafeRawBufferPointer(rebasing: bytes[line])))
                } catch {
                    return .failure(error)
                }
            }
            return .success(found)
        }
    }

    /// Adds a checked chunk to the tree in `frontier` after checking that it continues the
    /// log where the tree ends and that the tree head then matches the chunk header's.
    package func grow(_ frontier: inout MerkleFrontier, with chunk: ChunkRef, _ result: Result<CheckedChunk, VerifyFailure>) -> Result<
        CheckedChunk, VerifyFailure
    > {
        let header = chunk.header
        let expected = frontier.size + 1
        if header.firstSeq != expected {
            let what =
                header.firstSeq > expected
                ? "events \(expected)…\(header.firstSeq - 1) are missing"
                : "seq \(header.firstSeq)…\(header.lastSeq) appear again or out of order"
            return .failure(VerifyFailure(seq: expected, reason: "\(location(of: chunk)): \(what)"))
        }
        return result.flatMap { checked in
            for subtree in checked.subtrees { frontier.append(subtree) }
            guard frontier.root == header.root else {
                return .failure(
                    VerifyFailure(
                        seq: header.firstSeq,
                        reason:
                            "\(location(of: chunk)): Merkle root does not match: an event in seq \(header.firstSeq)…\(header.lastSeq) was altered"
                    ))
            }
            return .success(checked)
        }
    }

    /// Checks `chunks` on all cores, a few at a time, and hands each result to `body` in log
    /// order, until `body` returns false.
    package func forEachChecked(
        _ chunks: ArraySlice<ChunkRef>, identities: Bool = false, keepText: Bool = false,
        _ body: (ChunkRef, Result<CheckedChunk, VerifyFailure>) throws(LogError) -> Bool
    ) throws(LogError) {
        let window = 4 * 2
        var start = chunks.startIndex
        while start < chunks.endIndex {
            let group = chunks[start..<min(start + window, chunks.endIndex)]
            var results = [Result<CheckedChunk, VerifyFailure>?](repeating: nil, count: group.count)
            results.withUnsafeMutableBufferPointer { out in
                let shared = UnsafeSendable(out)
                DispatchQueue.concurrentPerform(iterations: group.count) { index in
                    shared.value[index] = self.check(group[group.startIndex + index], identities: identities, keepText: keepText)
                }
            }
            for (chunk, result) in zip(group, results) where try !body(chunk, result!) { return }
            start = group.endIndex
        }
    }
}

extension LogView {
    /// Whether an index state's tree head is this log's at its size: the header of the chunk
    /// ending there says so, or, when the size falls inside a chunk (compaction merges
    /// batches), the state's frontier grown by the chunk's later lines reaches the root the
    /// chunk's header records. A state beyond the log, or of another log, is not confirmed.
    package func confirms(_ state: IndexState) -> Bool {
        guard let frontier = state.frontier else { return false }
        if state.size == 0 { return true }
        guard let index = chunkIndex(holding: state.size, in: committed) else { return false }
        let chunk = committed[index]
        if chunk.header.lastSeq == state.size { return chunk.header.root == state.root }
        guard case .success(let checked) = check(chunk, identities: false) else { return false }
        return checked.grownToItsEnd(from: frontier) != nil
    }
}
