import Crypto
import Dispatch
import Foundation
import HindsightCore
import HindsightFiles
import HindsightLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What every evidence bundle shares, whatever it holds: its files are written in a
/// directory of its own beside the destination and renamed into place once whole and
/// durable; it keeps the SHA-256 of each; and it ends with `manifest.json` and
/// `manifest.sig`, the key's signature of the manifest (docs/export-format.md).
///
/// A bundle holds personal data as readers see it, so its directory is 0700 and its files
/// 0600. It creates its working directory and files exclusively and, when it gives up,
/// removes only those: nothing it did not create.
final class BundleWriter {
    private let destination: ExportDestination
    /// The working directory: `.NAME.partial-RANDOM` beside the destination.
    private let partialName: String
    private let partial: Int32
    /// The files created so far, which `discard` removes.
    private var created: [String] = []
    /// Set once the bundle is in place: nothing of it is removed after that.
    private var published = false
    /// SHA-256 (hex) of every file written so far but the manifest and its signature.
    private(set) var digests: [String: String] = [:]

    init(_ destination: ExportDestination) throws(LogError) {
        self.destination = destination
        // A random name no other bundle takes; a few tries are plenty.
        var made: String?
        for _ in 0..<8 where made == nil {
            let name = ".\(destination.name).partial-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            if mkdirat(destination.parent, name, 0o700) == 0 {
                made = name
            } else if errno != EEXIST {
                throw LogError.system("mkdir", path: destination.path, errno: errno)
            }
        }
        guard let made else {
            throw LogError(.io, "cannot find a free name for the bundle's working directory", location: destination.path)
        }
        partialName = made
        partial = openat(destination.parent, made, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard partial >= 0 else {
            let code = errno
            unlinkat(destination.parent, made, AT_REMOVEDIR)
            throw LogError.system("open", path: destination.path, errno: code)
        }
    }

    deinit { Glibc.close(partial) }

    /// Files handed out and not yet closed, closed by `discard`.
    private var open: [BundleFile] = []

    /// A file to write in pieces; `close` it to record its digest.
    func file(_ name: String) throws(LogError) -> BundleFile {
        let file = try BundleFile(name, in: partial, shownAs: destination.path + "/" + name)
        created.append(name)
        open.append(file)
        return file
    }

    /// Gives the bundle up after a failure: closes its files and removes what it wrote, unless
    /// it is in place already.
    func discard() {
        for file in open { file.abandon() }
        open.removeAll()
        guard !published else { return }
        for name in created { unlinkat(partial, name, 0) }
        unlinkat(destination.parent, partialName, AT_REMOVEDIR)
    }

    /// Writes the bundle with `body`, or leaves nothing behind if it throws.
    func writing<T>(_ body: () throws(LogError) -> T) throws(LogError) -> T {
        do {
            return try body()
        } catch {
            discard()
            throw error
        }
    }

    @discardableResult
    func close(_ file: BundleFile, _ name: String) throws(LogError) -> String {
        let digest = try finish(file)
        digests[name] = digest
        return digest
    }

    /// Closes a file handed out, which `discard` then leaves alone; returns its SHA-256.
    private func finish(_ file: BundleFile) throws(LogError) -> String {
        open.removeAll { $0 === file }
        return try file.close()
    }

    /// Writes a small file whole.
    @discardableResult
    func add(_ name: String, _ bytes: [UInt8]) throws(LogError) -> String {
        let file = try file(name)
        file.write(bytes)
        return try close(file, name)
    }

    /// Writes the manifest and the key's signature of it, and puts the bundle in place, unless
    /// something has taken its name meanwhile.
    func seal(_ manifest: some Encodable, format: String, key: SigningKey) throws(LogError) {
        let file = try file("manifest.json")
        file.write(Array(try Self.json(manifest)))
        let digest = try finish(file)
        let signature = try self.file("manifest.sig")
        signature.write(Array(try key.note(ManifestSignature.text(format: format, sha256: digest)).utf8))
        _ = try finish(signature)
        guard fsync(partial) == 0 else { throw LogError.system("fsync", path: destination.path, errno: errno) }
        guard
            try FileIO.renameNoReplace(
                from: partialName, in: destination.parent, to: destination.name, in: destination.parent, shownAs: destination.path)
        else {
            throw LogError(
                .pathRefused, "the export directory exists already; name a new one", location: destination.path, fieldPath: "/path")
        }
        published = true
        guard fsync(destination.parent) == 0 else {
            throw LogError.system(
                "fsync", path: destination.path + " (the bundle is in place, but its directory entry may not be durable)", errno: errno)
        }
    }

    static func json(_ value: some Encodable) throws(LogError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value) + Data("\n".utf8)
        } catch {
            throw LogError(.io, "cannot encode the export's JSON: \(error)")
        }
    }
}

/// The text `manifest.sig` signs: the bundle's format and the manifest's SHA-256.
enum ManifestSignature {
    static func text(format: String, sha256: String) -> String { "\(format) manifest.json\n\(sha256)\n" }
}

/// A file of a bundle being written: its bytes go to disk and into its SHA-256 as they come,
/// on a thread of its own, so that the export reads and renders the next events meanwhile.
final class BundleFile: @unchecked Sendable {
    private let fd: Int32
    private let path: String
    private var hash = SHA256()
    private let queue: DispatchQueue
    /// Writes handed over and not yet done, at most a few: a slow disk holds the export back
    /// instead of letting it pile the bundle up in memory.
    private let pending = DispatchSemaphore(value: 4)
    /// The first write that failed; later writes are skipped and `close` throws it.
    private var failure: LogError?

    /// Creates `name` (which must not exist) in the directory open as `directory`, readable by
    /// its owner only; `shownAs` is its path in messages.
    init(_ name: String, in directory: Int32, shownAs path: String) throws(LogError) {
        self.path = path
        queue = DispatchQueue(label: "hindsight.export.file")
        fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogError.system("open", path: path, errno: errno) }
    }

    func write(_ bytes: [UInt8]) {
        pending.wait()
        queue.async { [self] in
            defer { pending.signal() }
            guard failure == nil else { return }
            hash.update(data: bytes)
            do throws(LogError) {
                try FileIO.writeAll(fd, bytes, path: path)
            } catch {
                failure = error
            }
        }
    }

    /// Waits for the writes and closes the file, which is being given up.
    func abandon() {
        queue.sync {}
        Glibc.close(fd)
    }

    /// Waits for the writes, makes the file durable and closes it; returns its SHA-256 in hex.
    func close() throws(LogError) -> String {
        let (failure, digest) = queue.sync { (self.failure, hash.finalize()) }
        defer { Glibc.close(fd) }
        if let failure { throw failure }
        guard fsync(fd) == 0 else { throw LogError.system("fsync", path: path, errno: errno) }
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}
