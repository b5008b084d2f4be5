import Foundation
import HindsightTestSupport
import HindsightWorkload
import Testing

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

/// The writer keeps the tree's hashes as C2SP tlog-tiles, so that a proof reads O(log n)
/// hashes; a proof from the tiles is the proof from the leaves, and tiles that are missing or
/// damaged are never believed.
@Suite("Tiles of the tree")
struct TileTests {
    /// Appends `count` events in batches of 1 to 97 events, reopening the writer now and then
    /// so that the index (and the tiles) are saved at many sizes; the last batches are
    /// appended by a writer still open, past the tiles. Returns that writer.
    private func fill(_ path: String, count: Int, seed: UInt64) throws -> EventLog {
        var random = SplitMix64(seed: seed)
        var log: EventLog? = try EventLog(directory: path)
        var sent = 0
        while sent < count {
            let size = min(count - sent, Int.random(in: 1...97, using: &random))
            let lines = (0..<size).map { Events.event(stream: "build/b_\(($0 + sent) % 13)", id: Events.uuid(sent + $0 + 1)) }
            _ = try log!.append(try Events.batch(lines))
            sent += size
            if Int.random(in: 0..<6, using: &random) == 0, sent < count - 200 {
                log = nil
                log = try EventLog(directory: path)
            }
        }
        return log!
    }

    @Test func tilePathsAreWrittenAsC2SPTlogTilesSays() {
        #expect(TileLayout.indexPath(0) == "000")
        #expect(TileLayout.indexPath(67) == "067")
        #expect(TileLayout.indexPath(1000) == "x001/000")
        #expect(TileLayout.indexPath(1_234_067) == "x001/x234/067")
        #expect(TileLayout.path(in: "/d", level: 0, index: 1_234_067, width: 256) == "/d/tile/0/x001/x234/067")
        #expect(TileLayout.path(in: "/d", level: 2, index: 3, width: 17) == "/d/tile/2/003.p/17")
        #expect(TileLayout.width(level: 1, index: 0, size: 70_000) == 256)
        #expect(TileLayout.width(level: 1, index: 1, size: 70_000) == 17)
        #expect(TileLayout.width(level: 2, index: 0, size: 70_000) == 1)
    }

    @Test func proofsFromTilesAreTheProofsFromTheLeavesAtEveryTreeSize() throws {
        let dir = TemporaryDirectory()
        let log = try fill(dir.path, count: 2500, seed: 3)
        let reader = try LogReader(directory: dir.path)
        #expect(reader.size == 2500)
        let leaves = try reader.leafHashes(upTo: 2500)
        var random = SplitMix64(seed: 9)
        for size in 1...2500 {
            let seq = UInt64.random(in: 1...UInt64(size), using: &random)
            let inclusion = try #require(try reader.inclusionFromTiles(seq: seq, size: UInt64(size)), "size \(size)")
            #expect(inclusion.path == MerkleProof.inclusion(index: Int(seq - 1), leaves: leaves[..<size]), "size \(size) seq \(seq)")
            #expect(inclusion.root == MerkleProof.root(of: leaves[..<size]) && inclusion.leafHash == leaves[Int(seq - 1)])
            let old = UInt64.random(in: 1...UInt64(size), using: &random)
            let consistency = try #require(try reader.consistencyFromTiles(oldSize: old, size: UInt64(size)), "size \(size)")
            #expect(consistency.path == MerkleProof.consistency(oldSize: Int(old), leaves: leaves[..<size]), "size \(size) old \(old)")
            #expect(consistency.oldRoot == MerkleProof.root(of: leaves[..<Int(old)]))
        }
        _ = log
    }

    @Test func proofsFromTilesOfSeveralLevelsAreTheProofsFromTheLeaves() throws {
        let dir = TemporaryDirectory()
        do {
            let log = try EventLog(directory: dir.path)
            for start in stride(from: 0, to: 70_000, by: 10_000) {
                let lines = (start..<(start + 10_000)).map { Events.event(stream: "build/b_\($0 % 101)", id: Events.uuid($0 + 1)) }
                _ = try log.append(try Events.batch(lines))
            }
        }
        // Level 2 holds one hash: the root of the first 65,536 leaves.
        #expect(try FileManager.default.attributesOfItem(atPath: TileLayout(root: dir.path).levelPath(2))[.size] as? Int == 32)
        let reader = try LogReader(directory: dir.path)
        let leaves = try reader.leafHashes(upTo: 70_000)
        var random = SplitMix64(seed: 4)
        let sizes = [65_535, 65_536, 65_537, 70_000] + (0..<12).map { _ in Int.random(in: 1...70_000, using: &random) }
        for size in sizes {
            let seq = UInt64.random(in: 1...UInt64(size), using: &random)
            let inclusion = try #require(try reader.inclusionFromTiles(seq: seq, size: UInt64(size)), "size \(size)")
            #expect(inclusion.path == MerkleProof.inclusion(index: Int(seq - 1), leaves: leaves[..<size]), "size \(size) seq \(seq)")
            let old = UInt64.random(in: 1...UInt64(size), using: &random)
            let consistency = try #require(try reader.consistencyFromTiles(oldSize: old, size: UInt64(size)), "size \(size)")
            #expect(consistency.path == MerkleProof.consistency(oldSize: Int(old), leaves: leaves[..<size]), "size \(size) old \(old)")
        }
    }

    @Test func aDamagedTileIsNotBelievedAndAMissingOneIsRebuiltByTheWriter() throws {
        let dir = TemporaryDirectory()
        do { _ = try fill(dir.path, count: 2000, seed: 5) }
        let level0 = TileLayout(root: dir.path).levelPath(0)
        let good = try Data(contentsOf: URL(fileURLWithPath: level0))
        #expect(good.count == 2000 * 32)
        var bad = good
        bad[2 * 256 * 32 + 40] ^= 1
        try bad.write(to: URL(fileURLWithPath: level0))
        let reader = try LogReader(directory: dir.path)
        #expect(try reader.inclusionFromTiles(seq: 600, size: 2000) == nil)
        // `verify` names it, and the log itself is whole.
        let report = reader.verify()
        #expect(report.ok && report.notes.contains { $0.contains("tile 2 of level 0") }, "\(report.notes)")
        // The proof handed out is still right: from the leaves.
        let leaves = try reader.leafHashes(upTo: 2000)
        #expect(try reader.inclusionProof(seq: 600).path == MerkleProof.inclusion(index: 599, leaves: leaves[...]))

        // The right edge gone: the writer finds it at open and rebuilds the levels.
        try good.prefix(1900 * 32).write(to: URL(fileURLWithPath: level0))
        _ = try EventLog(directory: dir.path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: level0)) == good)
        #expect(try LogReader(directory: dir.path).inclusionFromTiles(seq: 1999, size: 2000) != nil)
        #expect(try LogReader(directory: dir.path).verify().notes.isEmpty)
    }
}
