internal import CShim
package import HindsightCore

/// The engine's record of one chunk: a skippable LZ4 frame written just before the chunk's
/// data frame, so `lz4 -dc` passes over it. Layout (little-endian), see docs/log-format.md:
///
/// ```
///  0  u32  0x184D2A5E      skippable-frame magic
///  4  u32  96              payload size
///  8  4B   "HSC1"          format tag and version
/// 12  u32  flags           bit 0: the last chunk of a batch (the commit point)
///                          bit 1: written by compaction (may span several batches)
/// 16  u64  firstSeq
/// 24  u32  count           events in the chunk
/// 28  u32  frameLength     bytes of the LZ4 data frame that follows
/// 32  u32  rawLength       bytes of NDJSON inside it
/// 36  u32  reserved (0)
/// 40  i64  minOccurredAt   milliseconds since the epoch
/// 48  i64  maxOccurredAt
/// 56  i64  recordedAt
/// 64  32B  root            Merkle tree head of the log after this chunk
/// 96  8B   checksum        the first 8 bytes of SHA-256 over bytes 8..<96
/// ```
package struct ChunkHeader: Equatable, Sendable {
    static let magic: UInt32 = 0x184D_2A5E
    static let tag: [UInt8] = Array("HSC1".utf8)
    static let payloadSize: UInt32 = 96
    /// Bytes on disk, skippable-frame magic and size included.
    static let encodedSize = 104

    package var isBatchEnd: Bool
    /// Written by compaction, which merges the chunks of a sealed segment into large ones.
    package var isCompacted = false
    package var firstSeq: UInt64
    package var count: UInt32
    package var frameLength: UInt32
    package var rawLength: UInt32
    package var minOccurredAt: Int64
    package var maxOccurredAt: Int64
    package var recordedAt: Int64
    /// The tree head at size `lastSeq`.
    package var root: TreeHash

    package init(
        isBatchEnd: Bool, isCompacted: Bool = false, firstSeq: UInt64, count: UInt32, frameLength: UInt32, rawLength: UInt32,
        minOccurredAt: Int64, maxOccurredAt: Int64, recordedAt: Int64, root: TreeHash
    ) {
        self.isBatchEnd = isBatchEnd
        self.isCompacted = isCompacted
        self.firstSeq = firstSeq
        self.count = count
        self.frameLength = frameLength
        self.rawLength = rawLength
        self.minOccurredAt = minOccurredAt
        self.maxOccurredAt = maxOccurredAt
        self.recordedAt = recordedAt
        self.root = root
    }

    package var lastSeq: UInt64 { firstSeq + UInt64(count) - 1 }

    package func encode(into out: inout [UInt8]) {
        let start = out.count
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        put(Self.magic)
        put(Self.payloadSize)
        out.append(contentsOf: Self.tag)
        put(UInt32(isBatchEnd ? 1 : 0) | UInt32(isCompacted ? 2 : 0))
        put(firstSeq)
        put(count)
        put(frameLength)
        put(rawLength)
        put(UInt32(0))
        put(minOccurredAt)
        put(maxOccurredAt)
        put(recordedAt)
        out.append(contentsOf: root.bytes)
        let checksum = out.withUnsafeBytes { Self.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + 8)...])) }
        out.append(contentsOf: checksum)
    }

    /// Why bytes where a chunk header should be are not one.
    enum DecodeFailure: Error, Equatable {
        /// Fewer bytes than a header: a write cut short, if they are the end of the file.
        case truncated
        /// The bytes do not start with the header magic.
        case notAHeader
        /// The magic is right but the fields or checksum are not.
        case damaged(String)
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<ChunkHeader, DecodeFailure> {
        if bytes.count >= 4 && read(UInt32.self, bytes, 0) != magic { return .failure(.notAHeader) }
        guard bytes.count >= encodedSize else { return .failure(.truncated) }
        guard read(UInt32.self, bytes, 4) == payloadSize, Array(bytes[8..<12]) == tag else {
            return .failure(.damaged("unknown chunk header version"))
        }
        let expected = checksum(UnsafeRawBufferPointer(rebasing: bytes[8..<96]))
        guard Array(bytes[96..<104]) == expected else {
            return .failure(.damaged("chunk header checksum mismatch"))
        }
        let header = ChunkHeader(
            isBatchEnd: read(UInt32.self, bytes, 12) & 1 == 1,
            isCompacted: read(UInt32.self, bytes, 12) & 2 == 2,
            firstSeq: read(UInt64.self, bytes, 16),
            count: read(UInt32.self, bytes, 24),
            frameLength: read(UInt32.self, bytes, 28),
            rawLength: read(UInt32.self, bytes, 32),
            minOccurredAt: read(Int64.self, bytes, 40),
            maxOccurredAt: read(Int64.self, bytes, 48),
            recordedAt: read(Int64.self, bytes, 56),
            root: TreeHash(bytes: bytes[64..<96])!
        )
        guard header.count > 0, header.firstSeq > 0 else {
            return .failure(.damaged("chunk header declares an empty chunk"))
        }
        return .success(header)
    }

    private static func read<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    private static func checksum(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { out in
            hs_sha256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, out.baseAddress!)
        }
        return Array(digest.prefix(8))
    }
}
