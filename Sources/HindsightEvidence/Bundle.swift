import Crypto
import Dispatch
import Foundation
import HindsightLog

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every evidence bundle shares, whatever it holds: its files are written beside the
/// destination and renamed into place once whole and durable; it keeps the SHA-256 of each;
/// and it ends with `manifest.json` and `manifest.sig`, the key's signature of the manifest
/// (docs/export-format.md).
final class BundleWriter {
    private let directory: String
    private let partial: String
    /// SHA-256 (hex) of every file written so far but the manifest and its signature.
    private(set) var digests: [String: String] = [:]

    /// Refuses a destination that exists: a bundle is never written over another.
    static func checkAbsent(_ directory: String) throws(LogError) {
        guard !FileIO.exists(directory) else {
            throw LogError(.outOfRange, "the export directory exists already; name a new one", location: directory, fieldPath: "/path")
        }
    }

    init(_ directory: String) throws(LogError) {
        try Self.checkAbsent(directory)
        self.directory = directory
        partial = directory + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        try FileIO.makeDirectory(partial)
    }

    /// Files handed out and not yet closed, closed by `discard`.
    private var open: [BundleFile] = []

    /// A file to write in pieces; `close` it to record its digest.
    func file(_ name: String) throws(LogError) -> BundleFile {
        let file = try BundleFile(partial + "/" + name)
        open.append(file)
        return file
    }

    /// Gives the bundle up after a failure: closes its files and removes what was written.
    func discard() {
        for file in open { file.abandon() }
        open.removeAll()
        try? FileManager.default.removeItem(atPath: partial)
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
        open.removeAll { $0 === file }
        let digest = try file.close()
        digests[name] = digest
        return digest
    }

    /// Writes a small file whole.
    @discardableResult
    func add(_ name: String, _ bytes: [UInt8]) throws(LogError) -> String {
        let file = try file(name)
        file.write(bytes)
        return try close(file, name)
    }

    /// Writes the manifest and the key's signature of it, and puts the bundle in place.
    func seal(_ manifest: some Encodable, format: String, key: SigningKey) throws(LogError) {
        let file = try file("manifest.json")
        file.write(Array(try Self.json(manifest)))
        let digest = try file.close()
        let signature = try self.file("manifest.sig")
        signature.write(Array(try key.note(ManifestSignature.text(format: format, sha256: digest)).utf8))
        _ = try signature.close()
        try FileIO.fsyncDirectory(partial)
        guard rename(partial, directory) == 0 else { throw LogError.system("rename", path: partial, errno: errno) }
        let parent = (directory as NSString).deletingLastPathComponent
        try FileIO.fsyncDirectory(parent.isEmpty ? "." : parent)
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

    init(_ path: String) throws(LogError) {
        self.path = path
        queue = DispatchQueue(label: "hindsight.export.file")
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
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
