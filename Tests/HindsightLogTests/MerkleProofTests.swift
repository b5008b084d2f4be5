import Foundation
import HindsightCatalog
import HindsightTestSupport
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

/// One JSON test vector from transparency-dev/merkle (Fixtures/rfc6962).
private struct InclusionVector: Decodable {
    let leafIdx: UInt64
    let treeSize: UInt64
    let root: String
    let leafHash: String
    let proof: [String]?
    let desc: String
    let wantErr: Bool
}

private struct ConsistencyVector: Decodable {
    let size1: UInt64
    let size2: UInt64
    let root1: String
    let root2: String
    let proof: [String]?
    let desc: String
    let wantErr: Bool
}

private func vectors<T: Decodable>(_ folder: String) throws -> [(String, T)] {
    let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/rfc6962/\(folder)")
    let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
        .compactMap { $0 as? URL }.filter { $0.pathExtension == "json" }
    return try files.map { url in (url.path, try JSONDecoder().decode(T.self, from: Data(contentsOf: url))) }
}

private func bytes(_ base64: String) -> [UInt8] { Array(Data(base64Encoded: base64) ?? Data()) }

/// The leaves RFC 6962's reference tests use (the hex strings of Certificate Transparency).
private let referenceLeaves: [[UInt8]] = [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
].map { hex in stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! } }

@Suite("Merkle tree and proofs (RFC 6962 / RFC 9162)")
struct MerkleProofTests {
    @Test("every published inclusion vector verifies or is rejected as it says")
    func inclusionVectors() throws {
        let all: [(String, InclusionVector)] = try vectors("inclusion")
        #expect(all.count > 50)
        for (path, v) in all {
            let ok = MerkleProof.verifyInclusion(
                leafHash: bytes(v.leafHash), index: v.leafIdx, treeSize: v.treeSize,
                proof: (v.proof ?? []).map(bytes), root: bytes(v.root))
            #expect(ok == !v.wantErr, "\(path): \(v.desc)")
        }
    }

    @Test("every published consistency vector verifies or is rejected as it says")
    func consistencyVectors() throws {
        let all: [(String, ConsistencyVector)] = try vectors("consistency")
        #expect(all.count > 50)
        for (path, v) in all {
            let ok = MerkleProof.verifyConsistency(
                oldSize: v.size1, newSize: v.size2, oldRoot: bytes(v.root1), newRoot: bytes(v.root2),
                proof: (v.proof ?? []).map(bytes))
            #expect(ok == !v.wantErr, "\(path): \(v.desc)")
        }
    }

    @Test("the frontier's root equals the reference root of RFC 6962's eight-leaf tree")
    func referenceRoot() {
        var frontier = MerkleFrontier()
        for leaf in referenceLeaves { frontier.append(TreeHash.leaf(leaf)) }
        #expect(frontier.root.hex == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        #expect(MerkleFrontier().root.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("generated proofs verify for every leaf and every pair of sizes up to 70")
    func generatedProofsVerify() {
        let leaves = (0..<70).map { TreeHash.leaf(Array("leaf \($0)".utf8)) }
        var frontier = MerkleFrontier()
        for n in 1...leaves.count {
            frontier.append(leaves[n - 1])
            let tree = leaves[..<n]
            let root = MerkleProof.root(of: tree)
            #expect(frontier.root == root)
            for index in 0..<n {
                let path = MerkleProof.inclusion(index: index, leaves: tree)
                #expect(
                    MerkleProof.verifyInclusion(
                        leafHash: leaves[index].bytes, index: UInt64(index), treeSize: UInt64(n),
                        proof: path.map(\.bytes), root: root.bytes))
            }
            for m in 1...n {
                let path = MerkleProof.consistency(oldSize: m, leaves: tree)
                #expect(
                    MerkleProof.verifyConsistency(
                        oldSize: UInt64(m), newSize: UInt64(n), oldRoot: MerkleProof.root(of: leaves[..<m]).bytes,
                        newRoot: root.bytes, proof: path.map(\.bytes)))
            }
        }
    }

    @Test(
        "a multi-leaf proof gives back the root for every subset of leaves of small trees, and for ranges and random subsets of larger ones"
    )
    func multiLeafProofsGiveBackTheRoot() {
        let leaves = (0..<300).map { TreeHash.leaf(Array("leaf \($0)".utf8)) }
        var subsets: [(size: Int, indices: [Int])] = []
        for size in 1...9 {
            for mask in 1..<(1 << size) { subsets.append((size, (0..<size).filter { mask & (1 << $0) != 0 })) }
        }
        var random = SystemRandomNumberGenerator()
        for size in [10, 64, 65, 100, 255, 300] {
            subsets.append((size, Array(0..<size)))
            subsets.append((size, Array((size / 3)..<(2 * size / 3 + 1))))
            for _ in 0..<20 { subsets.append((size, (0..<size).filter { _ in Int.random(in: 0..<7, using: &random) == 0 })) }
        }
        for (size, indices) in subsets where !indices.isEmpty {
            let tree = leaves[..<size]
            let proof = MerkleProof.multiInclusion(indices: indices, leaves: tree)
            let hashes = indices.map { leaves[$0] }
            #expect(MerkleProof.root(fromLeaves: hashes, at: indices, treeSize: size, proof: proof) == MerkleProof.root(of: tree))
            // A proof cut short or padded, a leaf moved, or a leaf altered does not give the root.
            if !proof.isEmpty {
                #expect(MerkleProof.root(fromLeaves: hashes, at: indices, treeSize: size, proof: Array(proof.dropLast())) == nil)
            }
            #expect(MerkleProof.root(fromLeaves: hashes, at: indices, treeSize: size, proof: proof + [leaves[0]]) == nil)
            var altered = hashes
            altered[0] = TreeHash.leaf(Array("forged".utf8))
            #expect(MerkleProof.root(fromLeaves: altered, at: indices, treeSize: size, proof: proof) != MerkleProof.root(of: tree))
        }
        // A contiguous range needs no more than two audit paths of hashes.
        #expect(MerkleProof.multiInclusion(indices: Array(100..<200), leaves: leaves[...]).count <= 2 * 9)
    }

    @Test("every flipped bit, dropped, added or swapped element, and every halved or doubled size of a good proof is rejected")
    func corruptedProofsAreRejected() {
        let leaves = (0..<37).map { TreeHash.leaf(Array("event \($0)".utf8)) }
        let root = MerkleProof.root(of: leaves[...])
        for index in [0, 5, 17, 31, 36] {
            let good = MerkleProof.inclusion(index: index, leaves: leaves[...]).map(\.bytes)
            let leaf = leaves[index].bytes
            func accepts(
                _ proof: [[UInt8]], leaf: [UInt8] = leaf, index: UInt64 = UInt64(index), size: UInt64 = 37, root: [UInt8] = root.bytes
            ) -> Bool {
                MerkleProof.verifyInclusion(leafHash: leaf, index: index, treeSize: size, proof: proof, root: root)
            }
            #expect(accepts(good))
            for (element, bit) in product(good.indices, [0, 7, 100, 255]) {
                var bad = good
                bad[element][bit / 8] ^= 1 << (bit % 8)
                #expect(!accepts(bad), "bit \(bit) of element \(element)")
            }
            for element in good.indices {
                var dropped = good
                dropped.remove(at: element)
                #expect(!accepts(dropped))
                var added = good
                added.insert(leaf, at: element)
                #expect(!accepts(added))
            }
            if good.count > 1 { #expect(!accepts(good.reversed())) }
            #expect(!accepts(good + [root.bytes]))
            #expect(!accepts(good, index: UInt64(index) ^ 1))
            #expect(!accepts(good, size: 18))
            #expect(!accepts(good, size: 74))
            #expect(!accepts(good, leaf: leaves[(index + 1) % 37].bytes))
            #expect(!accepts(good, root: leaves[0].bytes))
        }
        for (m, n) in [(1, 37), (8, 37), (13, 37), (36, 37), (16, 32)] {
            let tree = leaves[..<n]
            let good = MerkleProof.consistency(oldSize: m, leaves: tree).map(\.bytes)
            let oldRoot = MerkleProof.root(of: leaves[..<m]).bytes
            let newRoot = MerkleProof.root(of: tree).bytes
            func accepts(
                _ proof: [[UInt8]], old: UInt64 = UInt64(m), new: UInt64 = UInt64(n), oldRoot: [UInt8] = oldRoot, newRoot: [UInt8] = newRoot
            ) -> Bool {
                MerkleProof.verifyConsistency(oldSize: old, newSize: new, oldRoot: oldRoot, newRoot: newRoot, proof: proof)
            }
            #expect(accepts(good))
            for element in good.indices {
                for bit in [0, 129, 255] {
                    var bad = good
                    bad[element][bit / 8] ^= 1 << (bit % 8)
                    #expect(!accepts(bad), "\(m)→\(n): bit \(bit) of element \(element)")
                }
                var dropped = good
                dropped.remove(at: element)
                #expect(!accepts(dropped))
            }
            #expect(!accepts(good + [oldRoot]))
            #expect(!accepts([oldRoot] + good))
            #expect(!accepts(good, old: UInt64(m + 1)))
            #expect(!accepts(good, new: UInt64(n * 2)))
            #expect(!accepts(good, new: UInt64(n / 2)))
            #expect(!accepts(good, oldRoot: newRoot, newRoot: oldRoot))
        }
    }
}

private func product<A, B>(_ a: some Sequence<A>, _ b: [B]) -> [(A, B)] {
    a.flatMap { x in b.map { (x, $0) } }
}
