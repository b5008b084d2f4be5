import Foundation
import HindsightCore
import HindsightFiles

#if canImport(Glibc)
    import Glibc
#endif

/// The files of one read model's database, kept so that a rebuild never changes a file that
/// another process has open: every build is a new *generation* with names of its own, and
/// putting it in place is one atomic rename of a link.
///
/// ```
/// projections/audit.sqlite          a symbolic link to the generation in use
/// projections/audit.gen7.sqlite     generation 7 (and its -wal and -shm, named by SQLite)
/// projections/audit.gen7.lock       held shared (flock) by every process with it open
/// projections/audit.sqlite.lock     held while the model is built (`BuildLock`)
/// ```
///
/// A process opens the generation the link names, after taking its lock shared; a rebuild
/// links the new generation in and deletes an old one only once it can take the old one's
/// lock exclusively, so a reader in another process always has either the old model whole
/// or the new one whole. Generation numbers only grow, so a file name is never reused, and
/// SQLite's WAL of one generation never meets another's file. `sqlite3 projections/audit.sqlite`
/// follows the link.
struct ModelFiles {
    let directory: String
    let name: String

    /// The link that names the generation in use.
    var link: String { directory + "/" + name + ".sqlite" }
    func database(_ generation: Int) -> String { directory + "/\(name).gen\(generation).sqlite" }
    func lock(_ generation: Int) -> String { directory + "/\(name).gen\(generation).lock" }

    /// The generation in use: nil when the model has none yet (or only a database from before
    /// generations, a plain file, which is then built again).
    func current() -> Int? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(link, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return Self.generation(in: String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self), of: name)
    }

    /// The generation number in a file name of model `name` (`NAME.genN.sqlite` or `.lock`).
    static func generation(in file: String, of name: String) -> Int? {
        let prefix = name + ".gen"
        guard file.hasPrefix(prefix) else { return nil }
        let rest = file.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), [".sqlite", ".lock"].contains(String(rest[dot...])) else { return nil }
        return Int(rest[..<dot])
    }

    /// Opens the generation in use, holding its lock shared for as long as the database is
    /// open; nil when there is none. A generation retired between reading the link and
    /// taking its lock is passed over for the next.
    func open() throws(LogError) -> (database: SQLiteDatabase, generation: Int)? {
        for _ in 0..<16 {
            guard let generation = current() else { return nil }
            let fd = Glibc.open(lock(generation), O_RDWR | O_CLOEXEC)
            guard fd >= 0 else {
                guard errno == ENOENT else { throw LogError.system("open", path: lock(generation), errno: errno) }
                // Retired meanwhile (the link names another now), or deleted by hand (it does not).
                if current() == generation { return nil }
                continue
            }
            let held = GenerationLock(fd)
            guard flock(fd, LOCK_SH) == 0 else { throw LogError.system("flock", path: lock(generation), errno: errno) }
            guard FileIO.exists(database(generation)) else {
                if current() == generation { return nil }
                continue
            }
            let db = try SQLiteDatabase(path: database(generation), mustExist: true)
            db.keptOpenWith = held
            return (db, generation)
        }
        throw LogError(.io, "the read model \(name) was replaced again and again while this process opened it", location: link)
    }

    /// Puts a built database file in place as the next generation and retires the ones no
    /// process has open. Call holding the model's `BuildLock`.
    func publish(_ built: String) throws(LogError) -> (database: SQLiteDatabase, generation: Int) {
        // Into WAL mode while the file is still this process's alone: a process that opens a
        // published generation then finds its journal as it will stay, instead of changing it
        // itself, which takes a lock another opener may hold (a query beside serve failed with
        // "database is locked" on `PRAGMA journal_mode = WAL`, about once in forty rounds).
        _ = try SQLiteDatabase(path: built)
        let generation = max(try generations().max() ?? 0, current() ?? 0) + 1
        let lockFD = try FileIO.open(lock(generation), O_RDWR | O_CREAT | O_EXCL)
        close(lockFD)
        guard rename(built, database(generation)) == 0 else { throw LogError.system("rename", path: built, errno: errno) }
        let temporary = link + ".new"
        unlink(temporary)
        guard symlink("\(name).gen\(generation).sqlite", temporary) == 0 else {
            throw LogError.system("symlink", path: temporary, errno: errno)
        }
        guard rename(temporary, link) == 0 else { throw LogError.system("rename", path: link, errno: errno) }
        try FileIO.fsyncDirectory(directory)
        retireUnused()
        guard let opened = try open(), opened.generation == generation else {
            throw LogError(.io, "the read model \(name) was replaced while this process put it in place", location: link)
        }
        return opened
    }

    /// Deletes every generation but the one in use that no process has open, and the WAL of
    /// a database from before generations. Call holding the model's `BuildLock`.
    func retireUnused() {
        let inUse = current()
        for path in [link + "-wal", link + "-shm"] where inUse != nil { unlink(path) }
        for generation in (try? generations()) ?? [] where generation != inUse {
            // Held exclusively until its files are gone: a process that opened the lock file
            // before then finds the database gone once it has the lock, and reads the link again.
            let fd = Glibc.open(lock(generation), O_RDWR | O_CLOEXEC)
            if fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 {
                close(fd)
                continue
            }
            for suffix in ["", "-wal", "-shm"] { unlink(database(generation) + suffix) }
            unlink(lock(generation))
            if fd >= 0 { close(fd) }
        }
    }

    /// Every generation with a file on disk.
    private func generations() throws(LogError) -> Set<Int> {
        Set(try FileIO.list(directory).compactMap { Self.generation(in: $0, of: name) })
    }
}

/// A generation's lock, held shared while its database is open in this process.
final class GenerationLock: @unchecked Sendable {
    private let fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}
