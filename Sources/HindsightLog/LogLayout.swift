import Foundation
public import HindsightCore
import HindsightFiles

/// Where things live in a data directory (see docs/log-format.md):
///
/// ```
/// DIR/segments/0000000001.lz4   segments, numbered from 1 without gaps
/// DIR/HEAD                      the last acknowledged tree head: {"size":N,"root":"HEX"}
/// DIR/LOCK                      held (flock) by the one writer
/// ```
package struct LogLayout: Sendable {
    let root: String

    package init(root: String) {
        self.root = root
    }

    package var segmentsDirectory: String { root + "/segments" }
    var headPath: String { root + "/HEAD" }
    package var lockPath: String { root + "/LOCK" }

    package func segmentPath(_ number: Int) -> String {
        segmentsDirectory + "/" + Self.segmentName(number)
    }

    package static func segmentName(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits + ".lz4"
    }

    /// The number in a segment file name, or nil for any other file.
    static func segmentNumber(fromName name: String) -> Int? {
        guard name.hasSuffix(".lz4"), name.utf8.count == 14 else { return nil }
        return Int(name.prefix(10)).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Segment numbers present on disk, ascending. An absent segments folder is an empty log.
    func segmentNumbers() throws(LogError) -> [Int] {
        guard FileIO.exists(segmentsDirectory) else { return [] }
        return try FileIO.list(segmentsDirectory).compactMap(Self.segmentNumber(fromName:)).sorted()
    }

    func readHead() -> Result<HeadRecord, LogError>? {
        guard FileIO.exists(headPath) else { return nil }
        do {
            let bytes = try FileIO.readFile(headPath)
            guard let head = HeadRecord(json: bytes) else {
                return .failure(LogError(.logCorrupt, "HEAD is not a tree head record", location: headPath))
            }
            return .success(head)
        } catch {
            return .failure(error)
        }
    }
}

/// The last tree head the writer acknowledged. Readers show no more than this, and verify
/// uses it as a local anchor: a log shorter than HEAD has lost events.
package struct HeadRecord: Equatable, Sendable, Codable {
    package var size: UInt64
    package var root: TreeHash

    package var json: String { "{\"size\":\(size),\"root\":\"\(root.hex)\"}\n" }

    package init(size: UInt64, root: TreeHash) {
        self.size = size
        self.root = root
    }

    package init?(json bytes: [UInt8]) {
        guard let record = try? JSONDecoder().decode(HeadRecord.self, from: Data(bytes)) else { return nil }
        self = record
    }
}

extension TreeHash: Codable {
    /// Encoded as lowercase hex, as everywhere the log prints a hash.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let hash = TreeHash(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a 64-hex hash"))
        }
        self = hash
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
