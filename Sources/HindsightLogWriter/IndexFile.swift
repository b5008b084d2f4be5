import Foundation
import HindsightCore
import HindsightFiles
import HindsightLog

/// One file of the index (`IndexLayout`) mapped for writing: its pages checked the first
/// time they are read, resealed and made durable by `sync`. Used only under the writer's lock.
final class IndexFile {
    var path: String
    private(set) var header: IndexFileHeader
    private let fd: Int32
    private var base: UnsafeMutableRawPointer
    private var mapped: Int
    private var checked = CheckedPages()
    private var dirty = CheckedPages()
    private var dirtyPages: [Int] = []

    /// Why an index file cannot be used: the writer rebuilds the index from the segments.
    struct Damaged: Error {}

    private init(path: String, header: IndexFileHeader, fd: Int32, base: UnsafeMutableRawPointer, mapped: Int) {
        self.path = path
        self.header = header
        self.fd = fd
        self.base = base
        self.mapped = mapped
    }

    deinit {
        munmap(base, mapped)
        close(fd)
    }

    /// Opens an existing file whose intact header says it is of `kind`; nil otherwise.
    static func open(_ path: String, _ kind: IndexFileKind) -> IndexFile? {
        guard let fd = try? FileIO.open(path, O_RDWR) else { return nil }
        guard let size = try? FileIO.size(fd, path: path), size >= IndexPage.size,
            let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), address != MAP_FAILED
        else {
            close(fd)
            return nil
        }
        guard let header = IndexFileHeader(page: address, kind: kind), header.fileSize <= size else {
            munmap(address, size)
            close(fd)
            return nil
        }
        let file = IndexFile(path: path, header: header, fd: fd, base: address, mapped: size)
        file.checked.insert(0)
        return file
    }

    /// Makes a new file of empty, sealed pages beside `path`, its space reserved, and renames it
    /// over whatever stood there: a reader still mapping the old file keeps reading it, where
    /// truncating it would take its pages away under them.
    static func create(_ path: String, _ header: IndexFileHeader) throws(LogError) -> IndexFile {
        let building = path + ".new"
        let fd = try FileIO.open(building, O_RDWR | O_CREAT | O_TRUNC)
        let address: UnsafeMutableRawPointer
        do throws(LogError) {
            address = try reserveAndMap(fd, bytes: header.fileSize, path: building)
        } catch {
            close(fd)
            unlink(building)
            throw error
        }
        let file = IndexFile(path: building, header: header, fd: fd, base: address, mapped: header.fileSize)
        header.write(to: address)
        for page in 1...max(1, header.dataPages) where page <= header.dataPages {
            IndexPage.seal(address + page * IndexPage.size)
            file.checked.insert(page)
        }
        file.checked.insert(0)
        guard rename(building, path) == 0 else { throw LogError.system("rename", path: path, errno: errno) }
        file.path = path
        return file
    }

    /// Gives the file `bytes` bytes, allocated on disk (so that a full disk is an error here,
    /// not a signal when a page of the mapping is first written), and maps them.
    private static func reserveAndMap(_ fd: Int32, bytes: Int, path: String) throws(LogError) -> UnsafeMutableRawPointer {
        let reserved = posix_fallocate(fd, 0, off_t(bytes))
        guard reserved == 0 else { throw LogError.system("fallocate", path: path, errno: reserved) }
        guard let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), address != MAP_FAILED else {
            throw LogError.system("mmap", path: path, errno: errno)
        }
        return address
    }

    /// The slot's words, after checking its page; for writing, `mark` it first.
    func slot(_ slot: Int) throws(Damaged) -> UnsafeMutableRawPointer {
        try check(1 + slot / header.slotsPerPage)
        return base + header.offset(ofSlot: slot)
    }

    /// Records that the slot's page changed, to be resealed by `sync`.
    func mark(_ slot: Int) {
        let page = 1 + slot / header.slotsPerPage
        if !dirty.contains(page) {
            dirty.insert(page)
            dirtyPages.append(page)
        }
    }

    func check(_ page: Int) throws(Damaged) {
        guard checked.check(page, in: base, count: mapped) else { throw Damaged() }
    }

    /// Probes for a hash-table entry (see `IndexProbe`).
    func find(_ w0: UInt64, _ w1: UInt64, matches: (UnsafeRawPointer) -> Bool) throws(Damaged) -> (slot: Int, found: Bool) {
        var damaged = false
        let result = IndexProbe.find(
            header, in: base, w0, w1, matches: matches,
            pageIsIntact: { page in
                do throws(Damaged) {
                    try check(page)
                    return true
                } catch {
                    damaged = true
                    return false
                }
            })
        guard let result, !damaged else { throw Damaged() }
        return result
    }

    /// Marks the file as being saved, durably, before any other page changes.
    func beginSave() throws(LogError) {
        guard !header.isSaving else { return }
        header.isSaving = true
        header.write(to: base)
        try flush(0..<IndexPage.size)
    }

    /// Counts entries added since the last save.
    func added(_ count: Int) {
        header.entries += count
    }

    /// Grows a file of one word per slot (`previous`) to hold `slots`, keeping its pages. The
    /// larger mapping is made before the old one is let go, so a failure leaves it as it was.
    func extend(toSlots slots: Int) throws(LogError) {
        guard slots > header.slots else { return }
        var grown = header
        grown.slots = slots
        let address = try Self.reserveAndMap(fd, bytes: grown.fileSize, path: path)
        munmap(base, mapped)
        let oldPages = header.dataPages
        header = grown
        base = address
        mapped = header.fileSize
        for page in (oldPages + 1)..<(header.dataPages + 1) {
            IndexPage.seal(address + page * IndexPage.size)
            checked.insert(page)
        }
    }

    /// Reseals the pages changed, records the position the file now covers in its header and
    /// makes the whole file durable.
    func sync(size: UInt64, root: TreeHash) throws(LogError) {
        for page in dirtyPages { IndexPage.seal(base + page * IndexPage.size) }
        dirty = CheckedPages()
        dirtyPages = []
        header.size = size
        header.root = root
        header.isSaving = false
        header.write(to: base)
        try flush(0..<header.fileSize)
        // Every page is clean and on disk now: let them go from this process's memory (a later
        // lookup maps its page again from the page cache), so that a long load's memory does
        // not grow with the table.
        madvise(base, mapped, MADV_DONTNEED)
    }

    private func flush(_ range: Range<Int>) throws(LogError) {
        guard msync(base + range.lowerBound, range.count, MS_SYNC) == 0 else {
            throw LogError.system("msync", path: path, errno: errno)
        }
    }
}
