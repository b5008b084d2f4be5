import Foundation
public import HindsightCore
public import HindsightLog
public import HindsightProjections

/// An access review as a bundle: the review's files with a signed checkpoint of the log it
/// was taken from and a signed manifest, so that the reviewer who signs it off can check
/// that it is the one Hindsight wrote, and from which history (docs/export-format.md).
public enum AccessReviewExport {
    /// One file of the review and its rows.
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

    /// The review's files: who holds which role on what in `org` at `when` (`access-review`),
    /// and with `since`, every change of access from then to `until` (`changes`), from the
    /// access read model `db`.
    public static func files(
        org: String, at when: AsOf, since: Int64?, until: Int64, format: ExportFormat, in db: SQLiteDatabase
    ) throws(LogError) -> [File] {
        let id = org.hasPrefix("org/") ? String(org.dropFirst(4)) : org
        let rows = try AccessReadModel.accessReview(org: id, at: when, in: db)
        let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "" }
        let review = Table(
            columns: ["subject", "role", "scope", "grant", "grantedAt", "grantedBy", "expiresAt", "heldAs"],
            rows: rows.map {
                [$0.subject, $0.role, $0.scope, $0.grant, time($0.grantedAt), $0.grantedBy ?? "", time($0.expiresAt), $0.heldAs]
            })
        var files = [File(name: "access-review." + format.rawValue, bytes: review.encoded(as: format), rows: rows.count)]
        if let since {
            let changes = try AccessReadModel.changes(from: since, to: until, scope: "org/" + id, in: db)
            let table = Table(
                columns: ["at", "seq", "change", "what", "subject", "role", "scope", "by", "byKind", "reason"],
                rows: changes.map { change in
                    [
                        time(change.at), change.seq.map(String.init) ?? "", change.change, change.subject,
                        change.detail["subject"] ?? change.detail["user"] ?? change.detail["owner"] ?? "", change.detail["role"] ?? "",
                        change.detail["scope"] ?? "", change.detail["by"] ?? "", change.detail["byKind"] ?? "",
                        change.detail["reason"] ?? "",
                    ]
                })
            files.append(File(name: "changes." + format.rawValue, bytes: table.encoded(as: format), rows: changes.count))
        }
        return files
    }

    /// Writes the files as the bundle `destination`, with a checkpoint of the log
    /// as `reader` has it (signed and kept in `checkpoints`) and the signed manifest.
    /// `position` is the seq the review reflects.
    public static func write(
        _ files: [File], query: AccessReviewManifest.Query, position: UInt64, reader: LogReader, key: SigningKey,
        checkpoints: CheckpointStore, to destination: ExportDestination
    ) throws(LogError) -> AccessReviewManifest {
        guard reader.size > 0 else { throw LogError(.outOfRange, "the log is empty: there is nothing to review") }
        let checkpoint = try checkpoints.write(size: reader.size, root: reader.root, key: key)
        let bundle = try BundleWriter(destination)
        return try bundle.writing { () throws(LogError) -> AccessReviewManifest in
            for file in files { try bundle.add(file.name, file.bytes) }
            try bundle.add("checkpoint", Array(checkpoint.utf8))
            let manifest = AccessReviewManifest(
                format: AccessReviewManifest.currentFormat, query: query, position: position,
                chainHead: .init(size: reader.size, root: reader.root.hex), checkpoint: "checkpoint",
                rows: Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.rows) }), files: bundle.digests,
                createdAt: Timestamp.format(Timestamp.now()))
            try bundle.seal(manifest, format: manifest.format, key: key)
            return manifest
        }
    }
}

/// `manifest.json` of an access review bundle.
public struct AccessReviewManifest: Codable, Sendable, Equatable {
    public static let currentFormat = "hindsight-access-review/1"

    public var format: String
    public var query: Query
    /// The seq the review reflects.
    public var position: UInt64
    /// The log's tree head when the review was taken: the signed checkpoint's.
    public var chainHead: ExportManifest.TreeHead
    public var checkpoint: String
    /// Rows of each review file.
    public var rows: [String: Int]
    /// SHA-256 of every file but the manifest and its signature.
    public var files: [String: String]
    public var createdAt: String

    public struct Query: Codable, Sendable, Equatable {
        public var method: String
        public var org: String
        public var at: String?
        public var since: String?
        public var format: String

        public init(method: String, org: String, at: String?, since: String?, format: String) {
            self.method = method
            self.org = org
            self.at = at
            self.since = since
            self.format = format
        }
    }
}
