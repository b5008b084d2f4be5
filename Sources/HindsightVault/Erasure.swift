import Foundation
public import HindsightCore
import HindsightFiles

#if canImport(Glibc)
    import Glibc
#endif

/// An erasure under way, kept in `keys/erasing` from before its `person.erased` events are
/// appended until the keys they doom are destroyed, so that a writer stopped in between
/// finishes it when the log is next opened: every erasure carried out is in the log, and
/// every erasure in the log is carried out.
///
///     after 1234             the log's size before the events were appended
///     KEY_ID PERSON          one line per key to destroy, with the person that dooms it
public struct ErasureIntent: Sendable, Equatable {
    /// The log's size when the intent was written: its events come after.
    public let after: UInt64
    /// Key id → the person whose `person.erased` dooms it.
    public let keys: [String: String]

    var text: [UInt8] {
        Array(("after \(after)\n" + keys.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()).utf8)
    }

    public init(after: UInt64, keys: [String: String]) {
        self.after = after
        self.keys = keys
    }

    init?(text: [UInt8]) {
        let lines = text.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        guard let first = lines.first, first.hasPrefix("after "), let after = UInt64(first.dropFirst(6)) else { return nil }
        var keys: [String: String] = [:]
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count == 2 else { return nil }
            keys[String(fields[0])] = String(fields[1])
        }
        self.init(after: after, keys: keys)
    }
}

extension PersonalDataVault {
    private var intentPath: String { directory + "/erasing" }

    /// Records, durably, that the intent's events are about to be appended.
    public func begin(_ intent: ErasureIntent) throws(LogError) {
        try FileIO.makeDirectory(directory, mode: 0o700)
        try FileIO.replaceDurably(intentPath, with: [intent.text], mode: 0o600)
    }

    /// Whether an erasure is under way or was left unfinished (one `stat`: cheap enough to
    /// ask after every append).
    public var hasUnfinishedErasure: Bool { FileIO.exists(intentPath) }

    /// The erasure a writer left unfinished, if any.
    public func unfinishedErasure() throws(LogError) -> ErasureIntent? {
        guard FileIO.exists(intentPath) else { return nil }
        guard let intent = ErasureIntent(text: try FileIO.readFile(intentPath)) else {
            throw LogError(.logCorrupt, "the record of an erasure under way cannot be read", location: intentPath)
        }
        return intent
    }

    /// Carries an erasure through as far as the log records it: destroys the keys of every
    /// person in `recorded` (those whose `person.erased` the log holds after the intent), then
    /// forgets the intent. With `settled` false (batches may be durable that readers do not
    /// show yet) an intent whose people are not all recorded is kept, to be finished later.
    /// Returns the number of keys destroyed.
    @discardableResult
    public func finish(_ intent: ErasureIntent, recorded: Set<String>, settled: Bool) throws(LogError) -> Int {
        var doomed = Set<String>()
        for (keyID, person) in intent.keys where recorded.contains(person) {
            if try holds(keyID) { doomed.insert(keyID) }
        }
        if !doomed.isEmpty { try destroy(doomed) }
        if settled || Set(intent.keys.values).isSubset(of: recorded) {
            guard unlink(intentPath) == 0 || errno == ENOENT else { throw LogError.system("unlink", path: intentPath, errno: errno) }
            try FileIO.fsyncDirectory(directory)
        }
        return doomed.count
    }

    package static func data(of canonical: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(canonical)) as? [String: Any])?["data"] as? [String: Any]
    }
}
