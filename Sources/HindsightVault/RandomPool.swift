import HindsightCore
import HindsightFiles

#if canImport(Glibc)
    import Glibc
#endif

/// Random bytes from the operating system's generator (`/dev/urandom`), read 4 KiB at a
/// time. Sealing needs 12 bytes per value (the nonce) and 40 more per new person (key and key
/// id): one read per page instead of a system call per eight bytes (swift-crypto's
/// `SymmetricKey(size:)` on Linux) keeps it off the append path's profile. Bytes are handed
/// out once and never reused.
struct RandomPool {
    private static let page = 4096
    private var buffer: [UInt8] = []
    private var next = 0

    mutating func take(_ count: Int) throws(LogError) -> [UInt8] {
        precondition(count <= Self.page, "ask for at most a page of random bytes")
        if next + count > buffer.count {
            buffer = try Self.readPage()
            next = 0
        }
        defer { next += count }
        return Array(buffer[next..<(next + count)])
    }

    private static func readPage() throws(LogError) -> [UInt8] {
        let path = "/dev/urandom"
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        var page = [UInt8](repeating: 0, count: Self.page)
        var filled = 0
        while filled < page.count {
            let n = page.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw LogError(.io, "cannot read random bytes (errno \(errno))", location: path) }
            filled += n
        }
        return page
    }
}
