internal import CShim

/// A SHA-256 value in the log's Merkle tree: a leaf hash, a node hash or a root.
public struct TreeHash: Hashable, Sendable, CustomStringConvertible {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// The hash as 32 bytes.
    public var bytes: [UInt8] { withUnsafeBytes(of: words) { Array($0) } }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: bytes) }
    }

    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = Self.nibble(high), let l = Self.nibble(low) else { return nil }
            out.append(h << 4 | l)
        }
        self.init(bytes: out)
    }

    init() {}

    /// Lowercase hex, as the CLI and the format document print hashes.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public static func == (a: TreeHash, b: TreeHash) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }

    /// SHA-256(0x00 || data): RFC 6962's hash of a leaf.
    public static func leaf(_ data: UnsafeRawBufferPointer) -> TreeHash {
        var hash = TreeHash()
        withUnsafeMutableBytes(of: &hash.words) { out in
            hs_leaf_hash(
                data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count,
                out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return hash
    }

    public static func leaf(_ data: [UInt8]) -> TreeHash { data.withUnsafeBytes { leaf($0) } }

    /// SHA-256(0x01 || left || right): RFC 6962's hash of an interior node.
    public static func node(_ left: TreeHash, _ right: TreeHash) -> TreeHash {
        var hash = TreeHash()
        withUnsafeBytes(of: left.words) { l in
            withUnsafeBytes(of: right.words) { r in
                withUnsafeMutableBytes(of: &hash.words) { out in
                    hs_node_hash(
                        l.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        r.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return hash
    }

    /// SHA-256 of nothing: the root of the empty tree.
    public static let emptyRoot: TreeHash = {
        var hash = TreeHash()
        withUnsafeMutableBytes(of: &hash.words) { out in
            hs_sha256(nil, 0, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return hash
    }()

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
