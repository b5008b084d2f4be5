internal import CShim
import Foundation
package import HindsightCore
import HindsightFiles

/// Where the writer keeps its index of the log (see docs/log-format.md):
///
/// ```
/// DIR/index/state      the seq the index covers, its tree head and Merkle frontier (JSON)
/// DIR/index/ids        event id → seq (a hash table of pages)
/// DIR/index/streams    stream → its version and last seq (a hash table of pages)
/// DIR/index/previous   seq → the previous seq of the same stream (pages of seqs)
/// ```
///
/// Everything in it is derived from the segments, which stay the only truth: a file that
/// disagrees with them, or whose page checksums fail, is never used, and the writer rebuilds
/// it from them.
package struct IndexLayout: Sendable {
    package let directory: String

    package init(root: String) {
        directory = root + "/index"
    }

    package var statePath: String { directory + "/state" }

    /// The state the index was last saved at; nil when there is none, or it does not read.
    package func readState() -> IndexState? {
        (try? FileIO.readFile(statePath)).flatMap(IndexState.init(json:))
    }
    package func path(_ kind: IndexFileKind) -> String { directory + "/" + kind.fileName }
}

/// The index's files of pages, each with the number its header carries.
package enum IndexFileKind: UInt32, Sendable, CaseIterable {
    case ids = 1
    case streams = 2
    case previous = 3

    package var fileName: String {
        switch self {
        case .ids: "ids"
        case .streams: "streams"
        case .previous: "previous"
        }
    }

    /// The 64-bit words of one entry: an id's 128 bits and its kind with its seq; a stream's
    /// 128-bit name hash, its version and its last seq; one previous seq.
    package var wordsPerSlot: Int {
        switch self {
        case .ids: 3
        case .streams: 4
        case .previous: 1
        }
    }
}

/// The unit of every index file: 4,096 bytes, the last 8 a checksum of the rest (a fast
/// 64-bit one, `hs_page_checksum`), checked the first time a process reads the page, so that
/// a damaged page is found where it is used without reading whole files.
package enum IndexPage {
    package static let size = 4096
    /// 64-bit words before the checksum.
    package static let words = 511

    package static func checksum(_ page: UnsafeRawPointer) -> UInt64 {
        hs_page_checksum(page.assumingMemoryBound(to: UInt8.self), words)
    }

    package static func isIntact(_ page: UnsafeRawPointer) -> Bool {
        page.loadUnaligned(fromByteOffset: words * 8, as: UInt64.self) == checksum(page)
    }

    package static func seal(_ page: UnsafeMutableRawPointer) {
        page.storeBytes(of: checksum(page), toByteOffset: words * 8, as: UInt64.self)
    }
}

/// The first page of an index file: what it holds and the log position it covers, which
/// must be the state's for the file to be used.
package struct IndexFileHeader: Equatable, Sendable {
    static let magic: UInt64 = 0x3158_4449_4353_48  // "HSCIDX1" little-endian

    package var kind: IndexFileKind
    /// Entry slots (hash tables) or entries (previous).
    package var slots: Int
    /// Slots in use.
    package var entries: Int
    /// Chosen at random when the table is made: where a key's probe starts.
    package var multiplier: UInt64
    /// The log size and tree head the file covers.
    package var size: UInt64
    package var root: TreeHash
    /// Set, and made durable, before a save changes any other page, and cleared once the save
    /// is durable: a file found with it set may hold part of a save, and is rebuilt.
    package var isSaving = false

    package init(kind: IndexFileKind, slots: Int, entries: Int, multiplier: UInt64, size: UInt64, root: TreeHash) {
        self.kind = kind
        self.slots = slots
        self.entries = entries
        self.multiplier = multiplier | 1
        self.size = size
        self.root = root
    }

    package var slotsPerPage: Int { IndexPage.words / kind.wordsPerSlot }
    package var dataPages: Int { (slots + slotsPerPage - 1) / slotsPerPage }
    package var fileSize: Int { (1 + dataPages) * IndexPage.size }

    /// The byte offset in the file of a slot's first word.
    package func offset(ofSlot slot: Int) -> Int {
        (1 + slot / slotsPerPage) * IndexPage.size + (slot % slotsPerPage) * kind.wordsPerSlot * 8
    }

    /// The slot a key's probe starts from.
    package func home(_ w0: UInt64, _ w1: UInt64) -> Int {
        Int(truncatingIfNeeded: ((w0 ^ w1.byteSwapped) &* multiplier).multipliedFullWidth(by: UInt64(slots)).high)
    }

    package func write(to page: UnsafeMutableRawPointer) {
        page.initializeMemory(as: UInt8.self, repeating: 0, count: IndexPage.size)
        let fields: [UInt64] = [
            Self.magic, UInt64(kind.rawValue), UInt64(slots), UInt64(entries), multiplier, size, isSaving ? 1 : 0,
        ]
        for (index, value) in fields.enumerated() { page.storeBytes(of: value.littleEndian, toByteOffset: index * 8, as: UInt64.self) }
        for (index, byte) in root.bytes.enumerated() { page.storeBytes(of: byte, toByteOffset: 56 + index, as: UInt8.self) }
        IndexPage.seal(page)
    }

    /// The header on `page`, or nil when it is not an intact header of a `kind` file.
    package init?(page: UnsafeRawPointer, kind: IndexFileKind) {
        guard IndexPage.isIntact(page) else { return nil }
        func word(_ index: Int) -> UInt64 { UInt64(littleEndian: page.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) }
        guard word(0) == Self.magic, word(1) == UInt64(kind.rawValue), word(2) > 0, word(2) < 1 << 48, word(3) <= word(2),
            word(6) <= 1, let root = TreeHash(bytes: UnsafeRawBufferPointer(start: page + 56, count: 32))
        else { return nil }
        self.init(kind: kind, slots: Int(word(2)), entries: Int(word(3)), multiplier: word(4) | 1, size: word(5), root: root)
        isSaving = word(6) == 1
    }
}

/// `DIR/index/state`: the last log position the index files were saved at. Written last,
/// after the files are durable, so that it never names a position they do not hold.
package struct IndexState: Equatable, Sendable, Codable {
    package var size: UInt64
    package var root: TreeHash
    /// The Merkle frontier at `size`: the roots of its perfect subtrees, largest first.
    package var peaks: [TreeHash]

    package init(size: UInt64, root: TreeHash, peaks: [TreeHash]) {
        self.size = size
        self.root = root
        self.peaks = peaks
    }

    package init?(json bytes: [UInt8]) {
        guard let state = try? JSONDecoder().decode(IndexState.self, from: Data(bytes)) else { return nil }
        self = state
    }

    package var json: [UInt8] {
        let peaks = peaks.map { "\"\($0.hex)\"" }.joined(separator: ",")
        return Array("{\"size\":\(size),\"root\":\"\(root.hex)\",\"peaks\":[\(peaks)]}\n".utf8)
    }

    /// The frontier the peaks describe, when they do describe a tree of `size` with `root`.
    package var frontier: MerkleFrontier? {
        guard let frontier = MerkleFrontier(peaks: peaks, size: size), frontier.root == root else { return nil }
        return frontier
    }
}

/// A stream name's key in the index: 128 bits of its SHA-256, so that two names never share
/// an entry.
package struct StreamDigest: Equatable, Sendable {
    package let w0: UInt64
    package let w1: UInt64

    package init(_ name: String) {
        var name = name
        (w0, w1) = name.withUTF8 { bytes in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { digest in
                hs_sha256(bytes.baseAddress, bytes.count, digest.baseAddress!)
                let raw = UnsafeRawBufferPointer(digest)
                return (raw.loadUnaligned(as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
        }
    }
}

/// Linear probing over the slots of a hash-table file in memory, for the writer and for
/// readers alike. Every page is checked (`pageIsIntact`) before its slots are read.
package enum IndexProbe {
    /// The slot holding the entry whose first words are `w0`, `w1` and that `matches`
    /// accepts, or the empty slot where it would go (an empty slot has a zero third word);
    /// nil when a page on the way is damaged.
    package static func find(
        _ header: IndexFileHeader, in base: UnsafeRawPointer, _ w0: UInt64, _ w1: UInt64,
        matches: (UnsafeRawPointer) -> Bool, pageIsIntact: (Int) -> Bool
    ) -> (slot: Int, found: Bool)? {
        var slot = header.home(w0, w1)
        var checkedPage = -1
        for _ in 0..<header.slots {
            let page = 1 + slot / header.slotsPerPage
            if page != checkedPage {
                guard pageIsIntact(page) else { return nil }
                checkedPage = page
            }
            let entry = base + header.offset(ofSlot: slot)
            if entry.loadUnaligned(fromByteOffset: 16, as: UInt64.self) == 0 { return (slot, false) }
            if entry.loadUnaligned(as: UInt64.self) == w0, entry.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == w1,
                matches(entry)
            {
                return (slot, true)
            }
            slot = slot + 1 == header.slots ? 0 : slot + 1
        }
        return nil
    }
}

/// Which pages of a file this process has checked, so each is checked once.
package struct CheckedPages: Sendable {
    private var bits: [UInt64] = []

    package init() {}

    package func contains(_ page: Int) -> Bool {
        page / 64 < bits.count && bits[page / 64] & (1 << UInt64(page % 64)) != 0
    }

    package mutating func insert(_ page: Int) {
        if page / 64 >= bits.count { bits.append(contentsOf: repeatElement(0, count: page / 64 - bits.count + 1)) }
        bits[page / 64] |= 1 << UInt64(page % 64)
    }

    /// Whether page `page` of a file of `count` bytes mapped at `base` is intact: checked the
    /// first time it is asked, remembered after.
    package mutating func check(_ page: Int, in base: UnsafeRawPointer, count: Int) -> Bool {
        if contains(page) { return true }
        guard (page + 1) * IndexPage.size <= count, IndexPage.isIntact(base + page * IndexPage.size) else { return false }
        insert(page)
        return true
    }
}
