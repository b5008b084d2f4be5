internal import CShim
public import HindsightCore

/// The right edge of an append-only Merkle tree: the roots of its perfect subtrees, largest
/// first. Enough to append leaves and compute the root without keeping every leaf.
public struct MerkleFrontier: Sendable, Equatable {
    /// Perfect subtree roots, largest first; their sizes are the set bits of `size`.
    private var peaks: [TreeHash] = []
    /// How many leaves the tree holds.
    public private(set) var size: UInt64 = 0

    public init() {}

    /// The frontier of a tree of `size` leaves from its peaks, largest first; nil when their
    /// number is not the number of set bits of `size`.
    package init?(peaks: [TreeHash], size: UInt64) {
        guard peaks.count == size.nonzeroBitCount else { return nil }
        self.peaks = peaks
        self.size = size
    }

    /// The frontier of a tree of `size` leaves from the hash of each of its perfect subtrees,
    /// largest first, as `peak` gives them (leaves `range`); nil when it gives none for one.
    package init?(size: UInt64, peak: (_ range: Range<UInt64>) -> TreeHash?) {
        var start: UInt64 = 0
        for height in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(height)) != 0 {
            guard let hash = peak(start..<(start + (1 << UInt64(height)))) else { return nil }
            peaks.append(hash)
            start += 1 << UInt64(height)
        }
        self.size = size
    }

    /// The perfect subtree roots, largest first.
    package var peakHashes: [TreeHash] { peaks }

    public mutating func append(_ leaf: TreeHash) {
        append(PerfectSubtree(root: leaf, height: 0))
    }

    /// Appends a perfect subtree of 2^height leaves that starts at the tree's current size,
    /// which must be a multiple of its width (as `PerfectSubtree.decompose` yields them).
    package mutating func append(_ subtree: PerfectSubtree) {
        precondition(size & (subtree.width - 1) == 0, "a subtree must start at a multiple of its width")
        var hash = subtree.root
        var carry = size >> subtree.height
        // Each trailing one bit is a peak of the same height to merge with.
        while carry & 1 == 1 {
            hash = TreeHash.node(peaks.removeLast(), hash)
            carry >>= 1
        }
        peaks.append(hash)
        size += subtree.width
    }

    /// The RFC 6962 root of the tree (MTH), folding the peaks from the right.
    public var root: TreeHash {
        guard var hash = peaks.last else { return .emptyRoot }
        for peak in peaks.dropLast().reversed() { hash = TreeHash.node(peak, hash) }
        return hash
    }
}

/// The root of 2^height consecutive leaves that start at a multiple of 2^height: the unit in
/// which a chunk's leaves, hashed on any core, join the log's tree.
package struct PerfectSubtree: Sendable {
    let root: TreeHash
    let height: Int

    var width: UInt64 { 1 << UInt64(height) }

    /// Splits the leaves at positions `start..<start + leaves.count` into the fewest aligned
    /// perfect subtrees, left to right, and hashes each.
    package static func decompose(_ leaves: [TreeHash], start: UInt64) -> [PerfectSubtree] {
        var unused: [UInt64: TreeHash] = [:]
        return decompose(leaves, start: start, tileRoots: &unused)
    }

    /// `decompose`, also giving the root of each whole tile of 256 leaves it hashes on the way
    /// (by the tile's number: the entry of level 1 of the tree's levels), which verification
    /// compares with the tiles kept without hashing them again.
    package static func decompose(_ leaves: [TreeHash], start: UInt64, tileRoots: inout [UInt64: TreeHash]) -> [PerfectSubtree] {
        var subtrees: [PerfectSubtree] = []
        var position = start
        var offset = 0
        while offset < leaves.count {
            var height = position == 0 ? 62 : position.trailingZeroBitCount
            while (1 << height) > leaves.count - offset { height -= 1 }
            var level = Array(leaves[offset..<(offset + (1 << height))])
            var rounds = 0
            while level.count > 1 {
                level = stride(from: 0, to: level.count, by: 2).map { TreeHash.node(level[$0], level[$0 + 1]) }
                rounds += 1
                if rounds == 8 {
                    for (index, root) in level.enumerated() { tileRoots[(position >> 8) + UInt64(index)] = root }
                }
            }
            subtrees.append(PerfectSubtree(root: level[0], height: height))
            position += 1 << UInt64(height)
            offset += 1 << height
        }
        return subtrees
    }
}

/// RFC 6962 / RFC 9162 proofs over a list of leaf hashes, and their verification.
public enum MerkleProof {
    /// MTH(D[range]) for a range of leaf hashes.
    public static func root(of leaves: ArraySlice<TreeHash>) -> TreeHash {
        switch leaves.count {
        case 0: return .emptyRoot
        case 1: return leaves.first!
        default:
            let k = largestPowerOfTwo(below: leaves.count)
            let mid = leaves.startIndex + k
            return TreeHash.node(root(of: leaves[..<mid]), root(of: leaves[mid...]))
        }
    }

    /// PATH(m, D[n]): the audit path of leaf `index` in the tree of `leaves`.
    public static func inclusion(index: Int, leaves: ArraySlice<TreeHash>) -> [TreeHash] {
        precondition(index >= 0 && index < leaves.count, "leaf index outside the tree")
        let base = leaves.startIndex
        return inclusion(index: UInt64(index), size: UInt64(leaves.count)) { range in
            root(of: leaves[(base + Int(range.lowerBound))..<(base + Int(range.upperBound))])
        }
    }

    /// PROOF(m, D[n]): the proof that the first `oldSize` leaves are a prefix of `leaves`.
    public static func consistency(oldSize: Int, leaves: ArraySlice<TreeHash>) -> [TreeHash] {
        precondition(oldSize > 0 && oldSize <= leaves.count, "old size outside the tree")
        let base = leaves.startIndex
        return consistency(oldSize: UInt64(oldSize), size: UInt64(leaves.count)) { range in
            root(of: leaves[(base + Int(range.lowerBound))..<(base + Int(range.upperBound))])
        }
    }

    /// PATH(m, D[n]) for a tree whose subtree hashes `rootOf` gives: MTH(D[range]) for the
    /// ranges RFC 6962's recursion asks for, each a perfect, aligned subtree or a right edge.
    /// Reads O(log n) hashes, however they are kept (leaves, tiles).
    package static func inclusion<E: Error>(
        index: UInt64, size: UInt64, rootOf: (Range<UInt64>) throws(E) -> TreeHash
    ) throws(E) -> [TreeHash] {
        var path: [TreeHash] = []
        var range: Range<UInt64> = 0..<size
        var m = index
        // Walk down from the root, collecting the sibling of each subtree holding the leaf;
        // RFC 6962 lists them from the leaf up.
        while range.count > 1 {
            let k = UInt64(largestPowerOfTwo(below: range.count))
            let mid = range.lowerBound + k
            if m < k {
                path.append(try rootOf(mid..<range.upperBound))
                range = range.lowerBound..<mid
            } else {
                path.append(try rootOf(range.lowerBound..<mid))
                range = mid..<range.upperBound
                m -= k
            }
        }
        return path.reversed()
    }

    /// PROOF(m, D[n]) for a tree whose subtree hashes `rootOf` gives (see `inclusion`).
    package static func consistency<E: Error>(
        oldSize: UInt64, size: UInt64, rootOf: (Range<UInt64>) throws(E) -> TreeHash
    ) throws(E) -> [TreeHash] {
        var proof: [TreeHash] = []
        var range: Range<UInt64> = 0..<size
        var m = oldSize
        var complete = true
        // SUBPROOF(m, D[range], complete), from the root down; listed from the bottom up.
        while true {
            if m == UInt64(range.count) {
                if !complete { proof.append(try rootOf(range)) }
                break
            }
            let k = UInt64(largestPowerOfTwo(below: range.count))
            let mid = range.lowerBound + k
            if m <= k {
                proof.append(try rootOf(mid..<range.upperBound))
                range = range.lowerBound..<mid
            } else {
                proof.append(try rootOf(range.lowerBound..<mid))
                range = mid..<range.upperBound
                m -= k
                complete = false
            }
        }
        return Self.bottomUp(proof, endsWithSubtree: !complete)
    }

    /// The proof's hashes gathered from the root down, put in RFC 6962's order: the subtree
    /// the recursion ended on (when it is listed), then each sibling from the bottom up.
    private static func bottomUp(_ gathered: [TreeHash], endsWithSubtree: Bool) -> [TreeHash] {
        guard endsWithSubtree, let last = gathered.last else { return gathered.reversed() }
        return [last] + gathered.dropLast().reversed()
    }

    /// Checks an inclusion proof as RFC 9162 section 2.1.3.2 says.
    public static func verifyInclusion(
        leafHash: [UInt8], index: UInt64, treeSize: UInt64, proof: [[UInt8]], root: [UInt8]
    ) -> Bool {
        guard index < treeSize, let leaf = TreeHash(bytes: leafHash), let expected = TreeHash(bytes: root) else {
            return false
        }
        var fn = index
        var sn = treeSize - 1
        var r = leaf
        for element in proof {
            guard sn != 0, let p = TreeHash(bytes: element) else { return false }
            if fn & 1 == 1 || fn == sn {
                r = TreeHash.node(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = TreeHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == expected
    }

    /// Checks a consistency proof as RFC 9162 section 2.1.4.2 says. A proof from the empty
    /// tree proves nothing and is refused.
    public static func verifyConsistency(
        oldSize: UInt64, newSize: UInt64, oldRoot: [UInt8], newRoot: [UInt8], proof: [[UInt8]]
    ) -> Bool {
        guard oldSize > 0, oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        guard !proof.isEmpty, let first = TreeHash(bytes: oldRoot), let second = TreeHash(bytes: newRoot) else {
            return false
        }
        var path: [TreeHash] = []
        for element in proof {
            guard let hash = TreeHash(bytes: element) else { return false }
            path.append(hash)
        }
        if oldSize & (oldSize - 1) == 0 { path.insert(first, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = TreeHash.node(c, fr)
                sr = TreeHash.node(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = TreeHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == first && sr == second && sn == 0
    }

    /// The proof that the leaves at `indices` (ascending, each once) are in the tree of
    /// `leaves`: the root of every subtree holding none of them, in the order a left-to-right
    /// walk of the tree (RFC 6962's shape) meets them. With the leaves' own hashes it gives
    /// back the root (`root(fromLeaves:at:treeSize:proof:)`); for a contiguous range it is no
    /// longer than two audit paths, for scattered leaves about one path per leaf at most.
    public static func multiInclusion(indices: [Int], leaves: ArraySlice<TreeHash>) -> [TreeHash] {
        var proof: [TreeHash] = []
        func walk(_ range: Range<Int>, _ selected: ArraySlice<Int>) {
            if selected.isEmpty {
                proof.append(root(of: leaves[(leaves.startIndex + range.lowerBound)..<(leaves.startIndex + range.upperBound)]))
                return
            }
            guard range.count > 1 else { return }
            let mid = range.lowerBound + largestPowerOfTwo(below: range.count)
            let split = firstIndex(in: selected, atLeast: mid)
            walk(range.lowerBound..<mid, selected[..<split])
            walk(mid..<range.upperBound, selected[split...])
        }
        walk(0..<leaves.count, indices[...])
        return proof
    }

    /// The root of a tree of `treeSize` leaves given the hashes of the leaves at `indices`
    /// (ascending, each once, in the tree) and their multi-leaf proof; nil when the indices
    /// are not so or the proof holds too few or too many hashes.
    public static func root(fromLeaves hashes: [TreeHash], at indices: [Int], treeSize: Int, proof: [TreeHash]) -> TreeHash? {
        guard hashes.count == indices.count, !indices.isEmpty, indices.first! >= 0, indices.last! < treeSize,
            zip(indices, indices.dropFirst()).allSatisfy({ $0 < $1 })
        else { return nil }
        var nextProof = 0
        var nextLeaf = 0
        func walk(_ range: Range<Int>, _ selected: ArraySlice<Int>) -> TreeHash? {
            if selected.isEmpty {
                guard nextProof < proof.count else { return nil }
                defer { nextProof += 1 }
                return proof[nextProof]
            }
            guard range.count > 1 else {
                defer { nextLeaf += 1 }
                return hashes[nextLeaf]
            }
            let mid = range.lowerBound + largestPowerOfTwo(below: range.count)
            let split = firstIndex(in: selected, atLeast: mid)
            guard let left = walk(range.lowerBound..<mid, selected[..<split]), let right = walk(mid..<range.upperBound, selected[split...])
            else {
                return nil
            }
            return TreeHash.node(left, right)
        }
        guard let root = walk(0..<treeSize, indices[...]), nextProof == proof.count else { return nil }
        return root
    }

    /// The position of the first element of `sorted` that is at least `value`.
    private static func firstIndex(in sorted: ArraySlice<Int>, atLeast value: Int) -> Int {
        var low = sorted.startIndex
        var high = sorted.endIndex
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }

    static func largestPowerOfTwo(below n: Int) -> Int {
        precondition(n > 1)
        return 1 << (Int.bitWidth - 1 - (n - 1).leadingZeroBitCount)
    }
}
