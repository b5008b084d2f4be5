internal import CLZ4
internal import CShim
import HindsightCore

/// Standard LZ4 frames, as `lz4 -dc` reads them: independent blocks of 256 KB, every block
/// and the whole content checksummed (xxHash32), the content size in the header.
///
/// Independent blocks let one event's line be read by decoding the one block that holds it
/// (`Blocks`), where linked blocks would need every block before it: a search's page of
/// lines costs a few 256 KB blocks, not whole chunks of up to 16 MB. They cost about 1% of
/// size at level 1 and 3.5% at level 12 (docs/decisions.md, note 23). Frames written with
/// linked or larger blocks (by earlier versions) still read whole.
public enum LZ4Frame {
    /// The level appends compress at: LZ4's fast mode, so that compression does not decide
    /// how fast events are acknowledged (docs/decisions.md, note 5).
    public static let defaultLevel: Int32 = 1
    /// The level compaction recompresses sealed segments at: LZ4's optimal parser, the
    /// smallest output the format allows.
    public static let compactionLevel: Int32 = 12

    private static func preferences(contentSize: Int, level: Int32) -> LZ4F_preferences_t {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.blockSizeID = LZ4F_max256KB
        prefs.frameInfo.blockMode = LZ4F_blockIndependent
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled
        prefs.frameInfo.contentSize = UInt64(contentSize)
        prefs.compressionLevel = level
        return prefs
    }

    /// Compresses `source` into one complete frame.
    package static func compress(_ source: UnsafeRawBufferPointer, level: Int32 = defaultLevel) -> [UInt8] {
        var prefs = preferences(contentSize: source.count, level: level)
        let bound = LZ4F_compressFrameBound(source.count, &prefs)
        return [UInt8](unsafeUninitializedCapacity: bound) { out, count in
            count = LZ4F_compressFrame(out.baseAddress, bound, source.baseAddress, source.count, &prefs)
            // Compression into a buffer of compressFrameBound bytes cannot fail.
            precondition(LZ4F_isError(count) == 0, "LZ4F_compressFrame: \(String(cString: LZ4F_getErrorName(count)))")
        }
    }

    /// Decompresses one complete frame, checking every block checksum before the block is
    /// decoded and the content checksum at the end; fails with a reason when the frame is
    /// damaged in any way. The result holds `padding` spaces after the content, so that
    /// the JSON parser may read past the last line.
    static func decompress(_ frame: UnsafeRawBufferPointer, expectedSize: Int, padding: Int = 0) -> Result<[UInt8], FrameDamage> {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            return .failure(FrameDamage(reason: "cannot allocate an LZ4 decompression context"))
        }
        defer { LZ4F_freeDecompressionContext(context) }
        // Uninitialised but for the padding: the decoder writes every content byte or fails.
        var output = [UInt8](unsafeUninitializedCapacity: expectedSize + padding) { buffer, count in
            buffer.baseAddress!.advanced(by: expectedSize).initialize(repeating: 0x20, count: padding)
            count = expectedSize + padding
        }
        var produced = 0
        var consumed = 0
        var options = LZ4F_decompressOptions_t()
        options.stableDst = 1
        while true {
            var dstSize = expectedSize - produced
            var srcSize = frame.count - consumed
            let hint = output.withUnsafeMutableBytes { out in
                LZ4F_decompress(
                    context, out.baseAddress.map { $0 + produced }, &dstSize,
                    frame.baseAddress.map { $0 + consumed }, &srcSize, &options)
            }
            produced += dstSize
            consumed += srcSize
            if LZ4F_isError(hint) != 0 {
                return .failure(FrameDamage(reason: "LZ4 frame damaged: \(describe(hint))"))
            }
            if hint == 0 { break }
            if srcSize == 0 && dstSize == 0 {
                return .failure(FrameDamage(reason: "LZ4 frame is truncated or larger than its declared size"))
            }
        }
        guard produced == expectedSize, consumed == frame.count else {
            return .failure(
                FrameDamage(
                    reason:
                        "LZ4 frame holds \(produced) bytes in \(consumed) where the chunk header declares \(expectedSize) in \(frame.count)"
                ))
        }
        return .success(output)
    }

    /// Where the blocks of a frame lie, read from its header and the blocks' size fields
    /// without decoding anything, so that a block of a frame whose blocks are independent can
    /// be decoded by itself.
    struct Blocks {
        /// The frame header's length: the first thing a decoder is fed.
        let headerLength: Int
        /// Content bytes in every block but the last.
        let blockSize: Int
        /// Whether each block decodes without the ones before it.
        let independent: Bool
        let blockChecksums: Bool

        /// Reads a frame's header; nil when it is not an LZ4 frame header or its checksum
        /// byte does not match.
        init?(_ frame: UnsafeRawBufferPointer) {
            guard frame.count >= 7, frame.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: 0x184D_2204) else { return nil }
            let flags = frame[4]
            let descriptor = frame[5]
            guard flags >> 6 == 1, (4...7).contains(descriptor >> 4 & 7) else { return nil }
            headerLength = 4 + 2 + (flags & 0x08 != 0 ? 8 : 0) + (flags & 0x01 != 0 ? 4 : 0) + 1
            guard frame.count >= headerLength,
                UInt8(truncatingIfNeeded: hs_xxh32(frame.baseAddress!.assumingMemoryBound(to: UInt8.self) + 4, headerLength - 5, 0) >> 8)
                    == frame[headerLength - 1]
            else { return nil }
            blockSize = 1 << (8 + 2 * Int(descriptor >> 4 & 7))
            independent = flags & 0x20 != 0
            blockChecksums = flags & 0x10 != 0
        }

        /// The bytes of block `index` (its size field, data and checksum) in `frame`, found
        /// by stepping over the size fields of the blocks before it; nil past the last block
        /// or when a size field points outside the frame.
        func block(_ index: Int, in frame: UnsafeRawBufferPointer) -> Range<Int>? {
            var offset = headerLength
            for step in 0...index {
                guard offset + 4 <= frame.count else { return nil }
                let length = Int(UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) & 0x7FFF_FFFF)
                guard length > 0 else { return nil }  // the end mark
                let end = offset + 4 + length + (blockChecksums ? 4 : 0)
                guard end <= frame.count else { return nil }
                if step == index { return offset..<end }
                offset = end
            }
            return nil
        }
    }

    /// Decodes the first `target` bytes (or all, if fewer) of one block of a frame whose
    /// blocks are independent, after checking the block's checksum: a line near the start of a
    /// 256 KB block costs the bytes before it, not the block.
    static func decode(block: Range<Int>, of frame: UnsafeRawBufferPointer, _ blocks: Blocks, upTo target: Int) -> Result<
        [UInt8], FrameDamage
    > {
        let field = UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: block.lowerBound, as: UInt32.self))
        let data = UnsafeRawBufferPointer(rebasing: frame[(block.lowerBound + 4)..<(block.lowerBound + 4 + Int(field & 0x7FFF_FFFF))])
        if blocks.blockChecksums {
            let stored = UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: block.upperBound - 4, as: UInt32.self))
            let computed = hs_xxh32(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, 0)
            guard stored == computed else { return .failure(FrameDamage(reason: "LZ4 frame damaged: block checksum mismatch")) }
        }
        let wanted = min(target, blocks.blockSize)
        if field & 0x8000_0000 != 0 {  // stored uncompressed
            guard data.count <= blocks.blockSize else {
                return .failure(FrameDamage(reason: "LZ4 block larger than the frame's block size"))
            }
            return .success(Array(data.prefix(wanted)))
        }
        var decoded: Int32 = 0
        let output = [UInt8](unsafeUninitializedCapacity: blocks.blockSize) { out, count in
            decoded = LZ4_decompress_safe_partial(
                data.baseAddress?.assumingMemoryBound(to: CChar.self),
                UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self),
                Int32(data.count), Int32(wanted), Int32(blocks.blockSize))
            count = max(0, Int(decoded))
        }
        guard decoded >= 0 else { return .failure(FrameDamage(reason: "LZ4 frame damaged: a block does not decode")) }
        return .success(output)
    }

    /// LZ4's error names, in words for the checksum failures an auditor will meet.
    private static func describe(_ code: Int) -> String {
        let name = String(cString: LZ4F_getErrorName(code))
        switch name {
        case "ERROR_blockChecksum_invalid": return "block checksum mismatch"
        case "ERROR_contentChecksum_invalid": return "content checksum mismatch"
        case "ERROR_headerChecksum_invalid": return "frame header checksum mismatch"
        default: return name
        }
    }

    struct FrameDamage: Error {
        let reason: String
    }
}
