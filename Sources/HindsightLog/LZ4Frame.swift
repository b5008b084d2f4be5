internal import CLZ4
import HindsightCore

/// Standard LZ4 frames, as `lz4 -dc` reads them: 4 MB linked blocks, every block and the
/// whole content checksummed (xxHash32), the content size in the header.
public enum LZ4Frame {
    /// The level appends compress at: LZ4's fast mode, so that compression does not decide
    /// how fast events are acknowledged (docs/decisions.md, note 5).
    public static let defaultLevel: Int32 = 1
    /// The level compaction recompresses sealed segments at: LZ4's optimal parser, the
    /// smallest output the format allows.
    public static let compactionLevel: Int32 = 12

    private static func preferences(contentSize: Int, level: Int32) -> LZ4F_preferences_t {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.blockSizeID = LZ4F_max4MB
        prefs.frameInfo.blockMode = LZ4F_blockLinked
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
