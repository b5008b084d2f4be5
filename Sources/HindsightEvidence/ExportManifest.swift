/// `manifest.json` of an export bundle: what was asked, what the bundle holds, and the tree
/// head it is anchored to. `manifest.sig` signs its SHA-256 (docs/export-format.md).
public struct ExportManifest: Codable, Sendable, Equatable {
    public static let currentFormat = "hindsight-audit-export/1"

    /// `hindsight-audit-export/1`.
    public var format: String
    /// The request as given: method and parameters, so that an auditor can run it again.
    public var query: Query
    /// The seqs the export covers, from `from` and `to`.
    public var range: SeqRange
    /// Whether every event of `range` is in the bundle (no `org` or `types` filter), which
    /// the verifier then checks seq by seq.
    public var complete: Bool
    public var count: Int
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    /// The log's tree head the bundle is anchored to: the signed checkpoint's.
    public var chainHead: TreeHead
    /// The stored lines, as they are hashed, and their SHA-256.
    public var file: String
    public var sha256: String
    /// The readable rendering of the same events.
    public var rendering: String
    public var checkpoint: String
    public var proof: String
    /// SHA-256 of every file of the bundle but the manifest and its signature.
    public var files: [String: String]
    public var createdAt: String

    public struct Query: Codable, Sendable, Equatable {
        public var method: String
        public var from: String?
        public var to: String?
        public var org: String?
        public var types: [String]?
        public var format: String
    }

    public struct SeqRange: Codable, Sendable, Equatable {
        public var firstSeq: UInt64
        public var lastSeq: UInt64
    }

    public struct TreeHead: Codable, Sendable, Equatable {
        public var size: UInt64
        /// Hex.
        public var root: String
    }
}

/// `proof.json`: the multi-leaf inclusion proof of the exported events in the tree of
/// `treeSize` leaves, and consistency proofs from each earlier checkpoint the log kept.
struct ExportProof: Codable, Sendable {
    var treeSize: UInt64
    /// Hex hashes, in the order a left-to-right walk of the tree needs them.
    var inclusion: [String]
    var consistency: [Consistency]

    struct Consistency: Codable, Sendable {
        var oldSize: UInt64
        /// Hex hashes (RFC 9162 section 2.1.4).
        var hashes: [String]
    }
}
