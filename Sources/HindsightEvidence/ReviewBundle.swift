import Foundation
public import HindsightCore
public import HindsightLog

/// A read model's answer as evidence: its files (tables of rows) with a signed checkpoint of
/// the log it was taken from and a signed manifest, so that whoever receives it can check that
/// it is the one Hindsight wrote, and from which history. The access review and the backup and
/// token evidence are bundles of this kind (docs/export-format.md); both verifiers check them
/// the same way, whatever their files hold.
public enum ReviewBundle {
    /// Every format of this kind, which the verifiers read.
    public static let formats: Set<String> = [AccessReviewExport.format, BackupEvidence.format, TokenEvidence.format]

    /// One file of the answer and its rows.
    public struct File: Sendable {
        public let name: String
        public let bytes: [UInt8]
        public let rows: Int

        public init(name: String, bytes: [UInt8], rows: Int) {
            self.name = name
            self.bytes = bytes
            self.rows = rows
        }
    }

    /// Writes the files as the bundle `destination`, with a checkpoint of the log
    /// as `reader` has it (signed and kept in `checkpoints`) and the signed manifest.
    /// `position` is the seq the answer reflects; `query` names the method and its parameters.
    public static func write(
        _ files: [File], format: String, query: [String: String], position: UInt64, reader: LogReader, key: SigningKey,
        checkpoints: CheckpointStore, to destination: ExportDestination
    ) throws(LogError) -> ReviewManifest {
        guard reader.size > 0 else { throw LogError(.outOfRange, "the log is empty: there is nothing to review") }
        let checkpoint = try checkpoints.write(size: reader.size, root: reader.root, key: key)
        let bundle = try BundleWriter(destination)
        return try bundle.writing { () throws(LogError) -> ReviewManifest in
            for file in files { try bundle.add(file.name, file.bytes) }
            try bundle.add("checkpoint", Array(checkpoint.utf8))
            let manifest = ReviewManifest(
                format: format, query: query, position: position,
                chainHead: .init(size: reader.size, root: reader.root.hex), checkpoint: "checkpoint",
                rows: Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.rows) }), files: bundle.digests,
                createdAt: Timestamp.format(Timestamp.now()))
            try bundle.seal(manifest, format: manifest.format, key: key)
            return manifest
        }
    }
}

/// `manifest.json` of an answer bundle.
public struct ReviewManifest: Codable, Sendable, Equatable {
    public var format: String
    /// The method and the parameters the answer was asked with, as text.
    public var query: [String: String]
    /// The seq the answer reflects.
    public var position: UInt64
    /// The log's tree head when the answer was taken: the signed checkpoint's.
    public var chainHead: ExportManifest.TreeHead
    public var checkpoint: String
    /// Rows of each file.
    public var rows: [String: Int]
    /// SHA-256 of every file but the manifest and its signature.
    public var files: [String: String]
    public var createdAt: String
}
