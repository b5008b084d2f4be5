internal import CShim
public import HindsightCore

#if canImport(Glibc)
    public import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thin wrappers of the system calls the engine depends on, each turning a failure into a
/// `LogError` that names the call, the path and the OS error. Public for the engine's other
/// modules (the privacy vault keeps its keys with the same durability rules).
public enum FileIO {
    /// Opens `path`; the corresponding C function is `open`.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(LogError) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw LogError.system("open", path: path, errno: errno) }
        return fd
    }

    /// Writes all of `bytes` at the end of the file; the corresponding C function is `write`.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(LogError) {
        let failure: Int32? = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
        if let failure { throw LogError.system("write", path: path, errno: failure) }
    }

    /// Writes all the buffers, in order, at the end of the file with as few system calls as
    /// it takes; the corresponding C function is `writev`.
    package static func writeAll(_ fd: Int32, _ parts: [[UInt8]], path: String) throws(LogError) {
        var index = 0
        var offset = 0  // the first byte not yet written
        while index < parts.count {
            let group = parts[index..<min(parts.count, index + 512)]
            var vectors: [iovec] = []
            vectors.reserveCapacity(group.count)
            // The arrays outlive the call; their storage does not move while unmodified.
            for (position, part) in zip(group.indices, group) {
                part.withUnsafeBytes { raw in
                    let skip = position == index ? offset : 0
                    vectors.append(
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress.map { $0 + skip }), iov_len: raw.count - skip))
                }
            }
            var written = Glibc.writev(fd, vectors, Int32(vectors.count))
            if written < 0 {
                if errno == EINTR { continue }
                throw LogError.system("writev", path: path, errno: errno)
            }
            // Advance past what was written, which may end inside a buffer.
            while written > 0 {
                let remaining = parts[index].count - offset
                if written >= remaining {
                    written -= remaining
                    index += 1
                    offset = 0
                } else {
                    offset += written
                    written = 0
                }
            }
            while index < parts.count && parts[index].count == offset {
                index += 1
                offset = 0
            }
        }
    }

    /// Makes the file's data durable; the corresponding C function is `fsync`.
    public static func fsync(_ fd: Int32, path: String) throws(LogError) {
        guard Glibc.fsync(fd) == 0 else { throw LogError.system("fsync", path: path, errno: errno) }
    }

    /// Makes a directory's entries (new and renamed files) durable.
    public static func fsyncDirectory(_ path: String) throws(LogError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    /// Cuts a file to `length` bytes; the corresponding C function is `ftruncate`.
    package static func truncate(_ fd: Int32, to length: Int, path: String) throws(LogError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw LogError.system("ftruncate", path: path, errno: errno) }
    }

    package static func size(_ fd: Int32, path: String) throws(LogError) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw LogError.system("fstat", path: path, errno: errno) }
        return Int(info.st_size)
    }

    /// Throws unless `path` still names the file open as `fd`: a file removed, or replaced by
    /// another, is no longer where readers look.
    package static func checkStillLinked(_ fd: Int32, at path: String, what: String) throws(LogError) {
        var open = stat()
        var named = stat()
        guard fstat(fd, &open) == 0 else { throw LogError.system("fstat", path: path, errno: errno) }
        let found = stat(path, &named) == 0
        guard found, open.st_nlink > 0, open.st_dev == named.st_dev, open.st_ino == named.st_ino else {
            throw LogError(
                .io,
                "\(what) was removed or replaced while this writer had it open (was the data directory deleted or moved?); nothing more is acknowledged until the log is opened again",
                location: path)
        }
    }

    /// Which file a path or descriptor is, whatever names lead to it.
    public struct Identity: Equatable, Sendable {
        let device: UInt64
        let inode: UInt64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    /// The file at `path` (symbolic links followed), or nil when there is none.
    public static func identity(of path: String) -> Identity? {
        var info = stat()
        return stat(path, &info) == 0 ? Identity(info) : nil
    }

    /// Whether the directory open as `fd` is `ancestor` or lies anywhere beneath it, found by
    /// walking up through `..` to the root: no path text, so no symbolic link or `..` in a
    /// name can make a directory inside look outside.
    public static func directory(_ fd: Int32, liesWithin ancestor: Identity) throws(LogError) -> Bool {
        var current = Glibc.dup(fd)
        guard current >= 0 else { throw LogError.system("dup", path: "(a directory)", errno: errno) }
        defer { close(current) }
        var info = stat()
        while true {
            guard fstat(current, &info) == 0 else { throw LogError.system("fstat", path: "(a directory)", errno: errno) }
            let here = Identity(info)
            if here == ancestor { return true }
            let up = hs_open_parent(current)
            guard up >= 0 else { throw LogError.system("openat", path: "..", errno: errno) }
            var above = stat()
            let reachedRoot = fstat(up, &above) == 0 && Identity(above) == here
            close(current)
            current = up
            if reachedRoot { return false }
        }
    }

    /// Renames `from` to `to`, each relative to a directory held open, atomically and only if
    /// `to` does not exist; the corresponding C function is `renameat2` with
    /// `RENAME_NOREPLACE`. Returns false, renaming nothing, when `to` exists.
    public static func renameNoReplace(from: String, in fromDirectory: Int32, to: String, in toDirectory: Int32, shownAs: String)
        throws(LogError) -> Bool
    {
        guard hs_rename_noreplace(fromDirectory, from, toDirectory, to) == 0 else {
            if errno == EEXIST { return false }
            throw LogError.system("rename", path: shownAs, errno: errno)
        }
        return true
    }

    /// Makes a write past the process's file-size limit (`ulimit -f`) fail with `EFBIG`, an
    /// I/O error refused like a full disk, instead of the `SIGXFSZ` that would end the process.
    public static func treatFileSizeLimitAsError() {
        signal(SIGXFSZ, SIG_IGN)
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Creates a directory unless it exists; the corresponding C function is `mkdir`.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(LogError) {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw LogError.system("mkdir", path: path, errno: errno)
        }
    }

    /// The bytes of every file under `path`, in every subfolder.
    package static func totalSize(of path: String) throws(LogError) -> UInt64 {
        var total: UInt64 = 0
        for name in try list(path) {
            let child = path + "/" + name
            var info = stat()
            guard lstat(child, &info) == 0 else { throw LogError.system("lstat", path: child, errno: errno) }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                total += try totalSize(of: child)
            } else {
                total += UInt64(info.st_size)
            }
        }
        return total
    }

    /// The names in a directory, unsorted.
    public static func list(_ path: String) throws(LogError) -> [String] {
        guard let dir = opendir(path) else { throw LogError.system("opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Reads a whole file, leaving `spareCapacity` bytes of room after it.
    public static func readFile(_ path: String, spareCapacity: Int = 0) throws(LogError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        let count = try size(fd, path: path)
        var failure: Int32?
        // Read straight into the array's storage: no zero-filling of pages about to be overwritten.
        let bytes = [UInt8](unsafeUninitializedCapacity: count + spareCapacity) { buffer, initialized in
            var offset = 0
            while offset < count {
                let n = Glibc.read(fd, buffer.baseAddress! + offset, count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = n < 0 ? errno : EIO
                    break
                }
                offset += n
            }
            initialized = offset
        }
        if let failure { throw LogError.system("read", path: path, errno: failure) }
        return bytes
    }

    /// Replaces a file atomically and durably: the new contents are written beside it and
    /// fsynced, renamed over it, and the directory is fsynced. A crash leaves either the old
    /// file or the new one, and at worst a stray `*.partial` file that the next call replaces.
    public static func replaceDurably(_ path: String, with parts: [[UInt8]], mode: mode_t = 0o644) throws(LogError) {
        let temporary = path + ".partial"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        do throws(LogError) {
            try writeAll(fd, parts, path: temporary)
            try fsync(fd, path: temporary)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw LogError.system("rename", path: path, errno: errno) }
        try fsyncDirectory(parent(of: path))
    }

    /// The directory holding `path` (`.` for a bare name).
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Opens `name` in the directory held as `folder`; the corresponding C function is `openat`.
    package static func open(_ name: String, in folder: HeldDirectory, _ flags: Int32, mode: mode_t = 0o644) throws(LogError) -> Int32 {
        let fd = openat(folder.fd, name, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw LogError.system("open", path: folder.path + "/" + name, errno: errno) }
        return fd
    }

    /// Replaces a small file of a directory held open atomically: a temporary file
    /// (`NAME.tmp`), made durable, renamed over it. After a crash the file is whole, the old
    /// one or the new one; the rename itself is not fsynced, so it may be the old one.
    package static func replaceFile(_ name: String, in folder: HeldDirectory, with bytes: [UInt8]) throws(LogError) {
        let temporary = name + ".tmp"
        let shown = folder.path + "/" + temporary
        let fd = try open(temporary, in: folder, O_WRONLY | O_CREAT | O_TRUNC)
        do throws(LogError) {
            try writeAll(fd, bytes, path: shown)
            guard fdatasync(fd) == 0 else { throw LogError.system("fdatasync", path: shown, errno: errno) }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard renameat(folder.fd, temporary, folder.fd, name) == 0 else {
            throw LogError.system("rename", path: folder.path + "/" + name, errno: errno)
        }
    }
}

/// A file mapped read-only into memory: segments (and export bundles) are read in place,
/// without copies.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    private let base: UnsafeMutableRawPointer?
    public let count: Int

    public convenience init(path: String) throws(LogError) {
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        try self.init(descriptor: fd, path: path)
    }

    /// Maps the file open as `fd` (which stays the caller's to close): what else the caller
    /// reads through `fd` is the same file, whatever comes to stand at `path` meanwhile.
    public init(descriptor fd: Int32, path: String) throws(LogError) {
        self.path = path
        count = try FileIO.size(fd, path: path)
        if count == 0 {
            base = nil
            return
        }
        let address = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0)
        guard let address, address != MAP_FAILED else { throw LogError.system("mmap", path: path, errno: errno) }
        base = address
    }

    /// The mapped bytes; valid while this object lives.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    deinit {
        if let base { munmap(base, count) }
    }
}

/// A directory held open, so that files are made in it (`openat`, `renameat`) and not in
/// whatever comes to stand at its path.
package final class HeldDirectory: @unchecked Sendable {
    package let fd: Int32
    package let path: String

    package init(_ path: String) throws(LogError) {
        self.path = path
        fd = try FileIO.open(path, O_RDONLY | O_DIRECTORY)
    }

    deinit { close(fd) }
}
