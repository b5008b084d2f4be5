import Foundation
public import HindsightCore
import HindsightFiles
import HindsightLog

/// A signed tree head of the log in the C2SP checkpoint format: a signed note whose text is
/// the origin (the signing key's name), the tree size in decimal and the base64 root hash,
/// one per line, then a blank line and a signature line `— NAME BASE64(KEYHASH | SIGNATURE)`.
public struct Checkpoint: Sendable, Equatable {
    public let origin: String
    public let size: UInt64
    public let root: TreeHash

    public init(origin: String, size: UInt64, root: TreeHash) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// The note's text, which the signature covers.
    var text: String { "\(origin)\n\(size)\n\(Data(root.bytes).base64EncodedString())\n" }

    /// The checkpoint signed by `key`, whose name is its origin.
    public static func signed(size: UInt64, root: TreeHash, by key: SigningKey) throws(LogError) -> String {
        try key.note(Checkpoint(origin: key.name, size: size, root: root).text)
    }

    /// Reads a signed checkpoint and checks its signature by `key`; the error names what is
    /// wrong.
    public init(note: String, verifiedBy key: VerifierKey) throws(NoteProblem) {
        let lines = try key.verifiedText(of: note).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        guard lines.count >= 3, let size = UInt64(lines[1]), String(size) == lines[1],
            let rootBytes = Data(base64Encoded: lines[2]), let root = TreeHash(bytes: rootBytes)
        else { throw NoteProblem("its text is not ORIGIN, SIZE and a base64 SHA-256 root, one per line") }
        origin = lines[0]
        self.size = size
        self.root = root
    }
}

/// The checkpoints a data directory keeps, `DIR/checkpoints/SIZE.checkpoint`, one per tree
/// size: each export names the one it is anchored to, and a later bundle proves its log
/// extends each earlier one.
public struct CheckpointStore: Sendable {
    let directory: String

    public init(dataDirectory: String) {
        directory = dataDirectory + "/checkpoints"
    }

    public func path(ofSize size: UInt64) -> String { directory + "/" + String(format: "%020llu", size) + ".checkpoint" }

    /// Signs the tree head at `size` and keeps it (durably, replacing one of the same size).
    @discardableResult
    public func write(size: UInt64, root: TreeHash, key: SigningKey) throws(LogError) -> String {
        let note = try Checkpoint.signed(size: size, root: root, by: key)
        try FileIO.makeDirectory(directory)
        try FileIO.replaceDurably(path(ofSize: size), with: [Array(note.utf8)])
        return note
    }

    /// The sizes of the checkpoints kept, ascending.
    public func sizes() -> [UInt64] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".checkpoint") }
            .compactMap { UInt64($0.dropLast(".checkpoint".count)) }
            .sorted()
    }

    public func note(ofSize size: UInt64) throws(LogError) -> String {
        String(decoding: try FileIO.readFile(path(ofSize: size)), as: UTF8.self)
    }
}
