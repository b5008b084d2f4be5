import Crypto
import Foundation
import HindsightCore
import HindsightFiles
import HindsightLog

#if canImport(Glibc)
    import Glibc
#endif

/// What a snapshot says of itself (`DIR/snapshots/NAME/POSITION.json`, beside the database
/// copy `POSITION.sqlite`): which read model, at which position of which log, and digests of
/// its content and of the file, so that a rebuild can start from it and an auditor can
/// check it against a fresh fold of the log (`hindsight verify --projections`).
public struct SnapshotManifest: Codable, Sendable, Equatable {
    public struct TreeHead: Codable, Sendable, Equatable {
        /// Events in the log when the snapshot's position was reached: the position itself.
        public let size: UInt64
        /// The log's Merkle root over those events, hex.
        public let root: String
    }

    public let readModel: String
    /// The version of the read model's tables.
    public let version: Int
    /// The last seq folded into the snapshot.
    public let position: UInt64
    public let treeHead: TreeHead
    /// `sha256:` of the read model's canonical content dump (`ContentDump`), personal data as
    /// stored: erasing someone later does not change it.
    public let contentDigest: String
    /// The database file, beside this manifest, and its SHA-256 (hex).
    public let file: String
    public let fileSHA256: String
    public let createdAt: String
}

/// The snapshots of every read model of a data directory.
struct SnapshotStore {
    let directory: String

    init(dataDirectory: String) { directory = dataDirectory + "/snapshots" }

    private func folder(_ model: String) -> String { directory + "/" + model }

    /// Saves a consistent copy of `db` (which must be at `position`) and its manifest; the
    /// manifest is written last, so a snapshot without one was cut short and is ignored.
    func take(_ model: any ReadModel, _ db: SQLiteDatabase, position: UInt64, root: TreeHash) throws(LogError) -> SnapshotManifest {
        try FileIO.makeDirectory(directory)
        try FileIO.makeDirectory(folder(model.name))
        let name = String(format: "%020llu", position)
        let file = folder(model.name) + "/" + name + ".sqlite"
        let partial = file + ".partial"
        // One process takes a snapshot of a model at a position at a time: the partial file
        // it removes is one an interrupted taker left, never one being written.
        let taking = try BuildLock(folder(model.name) + "/snapshot", wait: true)!
        defer { taking.release() }
        unlink(partial)
        try db.statement("VACUUM INTO ?").bind(1, partial).run()
        let copy = try SQLiteDatabase(path: partial, readOnly: true)
        let digest = try ContentDump.digest(copy)
        let manifest = SnapshotManifest(
            readModel: model.name, version: model.version, position: position,
            treeHead: .init(size: position, root: root.hex), contentDigest: digest,
            file: name + ".sqlite", fileSHA256: try Self.sha256(ofFile: partial), createdAt: Timestamp.format(Timestamp.now()))
        let fd = try FileIO.open(partial, O_RDONLY)
        defer { close(fd) }
        try FileIO.fsync(fd, path: partial)
        guard rename(partial, file) == 0 else { throw LogError.system("rename", path: partial, errno: errno) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json: [UInt8] = ((try? encoder.encode(manifest)).map { Array($0) } ?? []) + [0x0A]
        try FileIO.replaceDurably(folder(model.name) + "/" + name + ".json", with: [json])
        return manifest
    }

    /// Every complete snapshot of a read model, oldest first.
    func manifests(of model: String) -> [SnapshotManifest] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder(model))) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            guard let data = FileManager.default.contents(atPath: folder(model) + "/" + name) else { return nil }
            return try? JSONDecoder().decode(SnapshotManifest.self, from: data)
        }
    }

    func path(of manifest: SnapshotManifest) -> String { folder(manifest.readModel) + "/" + manifest.file }

    /// Why a snapshot cannot stand for this log, or nil when it can: its file must be intact
    /// and its tree head that of `reader`'s log at its position.
    func problem(with manifest: SnapshotManifest, reader: LogReader) -> String? {
        guard manifest.position <= reader.size else {
            return "it is at seq \(manifest.position), beyond the log's \(reader.size) events"
        }
        guard let root = try? reader.root(atSize: manifest.position), root.hex == manifest.treeHead.root else {
            return "its tree head is not the log's at seq \(manifest.position): it was taken of another history"
        }
        guard (try? Self.sha256(ofFile: path(of: manifest))) == manifest.fileSHA256 else {
            return "its database file is missing or differs from the one it was taken as (SHA-256)"
        }
        return nil
    }

    /// The newest snapshot of the model's present version at or below `position` that
    /// stands for `reader`'s log.
    func newest(for model: any ReadModel, atOrBelow position: UInt64, reader: LogReader) -> SnapshotManifest? {
        manifests(of: model.name).reversed().first { manifest in
            manifest.version == model.version && manifest.position <= position && problem(with: manifest, reader: reader) == nil
        }
    }

    static func sha256(ofFile path: String) throws(LogError) -> String {
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LogError.system("read", path: path, errno: errno)
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
