import Crypto
import Dispatch
import Foundation
import HindsightCore
import HindsightFiles
import HindsightLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks an export bundle with nothing but the signing key's public half: the checkpoint's
/// signature, the events' seqs (every one of the range, for an unfiltered export), their
/// Merkle proof against the checkpoint, the rendering against the stored lines, every file's
/// SHA-256, the manifest's signature, and, given an older checkpoint, that the log extends
/// it unchanged. It stops at the first problem and names the file and line.
public enum ExportVerifier {
    /// What a bundle that verifies holds.
    public struct Report: Sendable {
        /// The manifest's format: an audit export or an answer bundle.
        public let format: String
        /// Events (an audit export) or rows (an answer bundle).
        public let count: Int
        /// The seqs an audit export covers, and whether it holds every one of them.
        public let range: ExportManifest.SeqRange?
        public let complete: Bool?
        /// The seq an answer bundle reflects.
        public let position: UInt64?
        public let treeSize: UInt64
        /// The size of the older checkpoint the log was shown to extend, if one was given.
        public let extends: UInt64?
    }

    /// The first thing wrong with a bundle: the file (and line) and what is wrong.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let file: String
        public let message: String
        public var description: String { "\(file): \(message)" }

        init(_ file: String, _ message: String) {
            self.file = file
            self.message = message
        }
    }

    public static func verify(_ directory: String, key: VerifierKey, olderCheckpoint: String? = nil) throws(Problem) -> Report {
        let manifestBytes = try read(directory, "manifest.json")
        struct Format: Decodable { let format: String }
        guard let format = try? JSONDecoder().decode(Format.self, from: Data(manifestBytes)).format else {
            throw Problem("manifest.json", "it is not an export manifest (no format)")
        }
        switch format {
        case ExportManifest.currentFormat: return try verifyAudit(directory, manifestBytes, key: key, olderCheckpoint: olderCheckpoint)
        case let review where ReviewBundle.formats.contains(review):
            return try verifyReview(directory, manifestBytes, key: key, olderCheckpoint: olderCheckpoint)
        default:
            throw Problem(
                "manifest.json",
                "its format is \(format); this verifier reads \(([ExportManifest.currentFormat] + ReviewBundle.formats.sorted()).joined(separator: ", "))"
            )
        }
    }

    private static func decode<Manifest: Decodable>(_ type: Manifest.Type, _ bytes: [UInt8]) throws(Problem) -> Manifest {
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw Problem("manifest.json", "it is not an export manifest: \(error)")
        }
    }

    /// Every named file is there.
    private static func checkPresent(_ directory: String, _ files: [String]) throws(Problem) {
        for file in files where !FileManager.default.fileExists(atPath: directory + "/" + file) {
            throw Problem(file, "it is missing from the bundle")
        }
    }

    /// The checkpoint is signed by the key and is the tree head the manifest names.
    private static func checkpoint(_ directory: String, _ file: String, key: VerifierKey, head: ExportManifest.TreeHead) throws(Problem)
        -> Checkpoint
    {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(note: String(decoding: try read(directory, file), as: UTF8.self), verifiedBy: key)
        } catch let problem as NoteProblem {
            throw Problem(file, problem.description)
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem(file, "\(error)")
        }
        guard checkpoint.size == head.size, checkpoint.root.hex == head.root else {
            throw Problem(
                file,
                "it is the tree head of \(checkpoint.size) events (root \(checkpoint.root.hex)); the manifest anchors the bundle to \(head.size) events (root \(head.root))"
            )
        }
        return checkpoint
    }

    /// Every file's SHA-256 is the one the manifest names (worked out on every core).
    private static func checkDigests(_ directory: String, _ expected: [(String, String)], mapped known: [String: MappedFile] = [:])
        throws(Problem)
    {
        var mapped: [MappedFile] = []
        for (file, _) in expected {
            if let file = known[file] { mapped.append(file) } else { mapped.append(try map(directory, file)) }
        }
        let files = mapped
        var digests = [String](repeating: "", count: files.count)
        digests.withUnsafeMutableBufferPointer { out in
            let shared = UnsafeSendable(out)
            DispatchQueue.concurrentPerform(iterations: files.count) { index in shared.value[index] = sha256(files[index].bytes) }
        }
        for ((file, wanted), actual) in zip(expected, digests) where actual != wanted {
            throw Problem(file, "its SHA-256 is \(actual); the manifest says \(wanted)")
        }
    }

    /// The manifest is the one the key signed.
    private static func checkSignature(_ directory: String, _ manifestBytes: [UInt8], format: String, key: VerifierKey) throws(Problem) {
        do {
            let signed = try key.verifiedText(of: String(decoding: try read(directory, "manifest.sig"), as: UTF8.self))
            guard signed == ManifestSignature.text(format: format, sha256: manifestBytes.withUnsafeBytes(sha256)) else {
                throw Problem("manifest.json", "it is not the manifest the key signed: it was changed after the export")
            }
        } catch let problem as NoteProblem {
            throw Problem("manifest.sig", problem.description)
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem("manifest.sig", "\(error)")
        }
    }

    /// An answer bundle (an access review, backup or token evidence): its files, checkpoint and
    /// manifest are the ones the key signed.
    private static func verifyReview(_ directory: String, _ manifestBytes: [UInt8], key: VerifierKey, olderCheckpoint: String?)
        throws(Problem) -> Report
    {
        let manifest = try decode(ReviewManifest.self, manifestBytes)
        try checkPresent(directory, [manifest.checkpoint, "manifest.sig"] + manifest.files.keys.sorted())
        let checkpoint = try checkpoint(directory, manifest.checkpoint, key: key, head: manifest.chainHead)
        guard manifest.position <= checkpoint.size else {
            throw Problem("manifest.json", "it reflects seq \(manifest.position), beyond the checkpoint's \(checkpoint.size) events")
        }
        for (file, rows) in manifest.rows.sorted(by: { $0.key < $1.key }) {
            // CSV rows as RFC 4180 reads them (a quoted field may hold a line break), less the
            // header; JSON lines one a line.
            let bytes = try read(directory, file)
            let counted: Int? = bytes.withUnsafeBytes { text in
                file.hasSuffix(".csv") ? Rendering.csvRowRanges(text).map { $0.count - 1 } : text.lineRanges().count
            }
            guard let counted else { throw Problem(file, "it is not CSV: a quoted field does not end") }
            guard counted == rows else { throw Problem(file, "it holds \(counted) rows; the manifest says \(rows)") }
        }
        try checkDigests(directory, manifest.files.sorted(by: { $0.key < $1.key }))
        guard olderCheckpoint == nil else {
            throw Problem(
                "older checkpoint", "an answer bundle carries no consistency proofs; check an audit export of the same log against it")
        }
        try checkSignature(directory, manifestBytes, format: manifest.format, key: key)
        return Report(
            format: manifest.format, count: manifest.rows.values.reduce(0, +), range: nil, complete: nil, position: manifest.position,
            treeSize: checkpoint.size, extends: nil)
    }

    /// An audit export, checked in the order docs/export-format.md gives.
    private static func verifyAudit(_ directory: String, _ manifestBytes: [UInt8], key: VerifierKey, olderCheckpoint: String?)
        throws(Problem) -> Report
    {
        let manifest = try decode(ExportManifest.self, manifestBytes)
        try checkPresent(
            directory,
            [manifest.file, manifest.rendering, manifest.proof, manifest.checkpoint, "manifest.sig"] + manifest.files.keys.sorted())

        // The tree head, signed.
        let checkpoint = try checkpoint(directory, manifest.checkpoint, key: key, head: manifest.chainHead)

        // The events, seq by seq.
        let linesFile = try map(directory, manifest.file)
        let lines = linesFile.bytes
        let ranges = lines.lineRanges()
        let seqs = try Self.seqs(lines, ranges, manifest)

        // Their proof against the checkpoint.
        let proof: ExportProof
        do {
            proof = try JSONDecoder().decode(ExportProof.self, from: Data(try read(directory, manifest.proof)))
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem(manifest.proof, "it is not an export proof: \(error)")
        }
        guard proof.treeSize == checkpoint.size else {
            throw Problem(
                manifest.proof, "it proves inclusion in a tree of \(proof.treeSize) events; the checkpoint's has \(checkpoint.size)")
        }
        try checkInclusion(lines, ranges, seqs, proof, checkpoint, manifest)

        // The rendering says the same.
        let rendering = try map(directory, manifest.rendering)
        try checkRendering(rendering.bytes, file: manifest.rendering, lines, ranges, seqs)

        // Every file is the one the manifest names.
        try checkDigests(
            directory, [(manifest.file, manifest.sha256)] + manifest.files.sorted(by: { $0.key < $1.key }),
            mapped: [manifest.file: linesFile, manifest.rendering: rendering])

        // The log extends an older checkpoint unchanged.
        var extends: UInt64?
        if let olderCheckpoint {
            extends = try checkExtension(of: olderCheckpoint, to: checkpoint, proof, key: key)
        }

        // The manifest itself is the one the key signed.
        try checkSignature(directory, manifestBytes, format: manifest.format, key: key)
        return Report(
            format: manifest.format, count: seqs.count, range: manifest.range, complete: manifest.complete, position: nil,
            treeSize: checkpoint.size, extends: extends)
    }

    private static func read(_ directory: String, _ file: String) throws(Problem) -> [UInt8] {
        do {
            return try FileIO.readFile(directory + "/" + file)
        } catch {
            throw Problem(
                file,
                FileManager.default.fileExists(atPath: directory + "/" + file)
                    ? "cannot be read: \(error.message)" : "it is missing from the bundle")
        }
    }

    /// A bundle file mapped into memory.
    private static func map(_ directory: String, _ file: String) throws(Problem) -> MappedFile {
        do {
            return try MappedFile(path: directory + "/" + file)
        } catch {
            throw Problem(
                file,
                FileManager.default.fileExists(atPath: directory + "/" + file)
                    ? "cannot be read: \(error.message)" : "it is missing from the bundle")
        }
    }

    private static func sha256(_ bytes: UnsafeRawBufferPointer) -> String {
        var hash = SHA256()
        hash.update(bufferPointer: bytes)
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The seq of every line, checked: ascending, within the range, every one of it for a
    /// complete export, matching the filter otherwise, as many as the manifest says.
    private static func seqs(_ lines: UnsafeRawBufferPointer, _ ranges: [Range<Int>], _ manifest: ExportManifest) throws(Problem)
        -> [UInt64]
    {
        let file = manifest.file
        let prefix = Array(#"{"seq":"#.utf8)
        var seqs: [UInt64] = []
        seqs.reserveCapacity(ranges.count)
        for (index, range) in ranges.enumerated() {
            guard range.count > prefix.count, memcmp(lines.baseAddress! + range.lowerBound, prefix, prefix.count) == 0 else {
                throw Problem(file, "line \(index + 1) is not a stored event (it does not begin with its seq)")
            }
            var seq: UInt64 = 0
            var position = range.lowerBound + prefix.count
            while position < range.upperBound, let digit = lines[position].wholeNumberDigit {
                seq = seq &* 10 &+ digit
                position += 1
            }
            seqs.append(seq)
        }
        for (index, seq) in seqs.enumerated() {
            let line = index + 1
            if index > 0, seq <= seqs[index - 1] {
                throw Problem(
                    file,
                    seq == seqs[index - 1]
                        ? "line \(line) repeats seq \(seq)"
                        : "line \(line) holds seq \(seq) after seq \(seqs[index - 1]): rows are out of order")
            }
            if manifest.complete, case let expected = manifest.range.firstSeq + UInt64(index), seq > expected {
                if let found = seqs.firstIndex(of: expected) {
                    throw Problem(
                        file,
                        "line \(line) holds seq \(seq) where seq \(expected) was expected: rows are out of order (seq \(expected) is on line \(found + 1))"
                    )
                }
                throw Problem(
                    file,
                    "line \(line) holds seq \(seq) where seq \(expected) was expected: \(seq - expected == 1 ? "event \(expected) is" : "events \(expected)…\(seq - 1) are") missing"
                )
            }
            guard seq >= manifest.range.firstSeq, seq <= manifest.range.lastSeq else {
                throw Problem(
                    file, "line \(line) holds seq \(seq), outside the export's range \(manifest.range.firstSeq)…\(manifest.range.lastSeq)")
            }
            if !manifest.complete {
                let event = Array(UnsafeRawBufferPointer(rebasing: lines[ranges[index]]))
                let fields = Rendering.Fields(event)
                let type = fields.ranges[3].map { String(decoding: event[$0], as: UTF8.self) }
                let org = fields.ranges[4].map { String(decoding: event[$0], as: UTF8.self) }
                if let wanted = manifest.query.org, org != wanted {
                    throw Problem(
                        file, "line \(line) (seq \(seq)) is an event of org \(org ?? "?"), outside the export's filter org \(wanted)")
                }
                if let types = manifest.query.types, !types.contains(type ?? "") {
                    throw Problem(file, "line \(line) (seq \(seq)) is a \(type ?? "?") event, outside the export's filter types")
                }
            }
        }
        if manifest.complete, let last = seqs.last, last < manifest.range.lastSeq {
            throw Problem(
                file,
                "it ends at seq \(last) but the range runs to \(manifest.range.lastSeq): events \(last + 1)…\(manifest.range.lastSeq) are missing"
            )
        }
        guard seqs.count == manifest.count else {
            throw Problem("manifest.json", "it says the bundle holds \(manifest.count) events; \(file) holds \(seqs.count)")
        }
        guard seqs.first == manifest.firstSeq, seqs.last == manifest.lastSeq else {
            throw Problem(
                "manifest.json",
                "its firstSeq and lastSeq are not those of \(file) (\(seqs.first.map(String.init) ?? "none")…\(seqs.last.map(String.init) ?? "none"))"
            )
        }
        return seqs
    }

    /// The lines' leaf hashes and the inclusion proof give the checkpoint's root.
    private static func checkInclusion(
        _ lines: UnsafeRawBufferPointer, _ ranges: [Range<Int>], _ seqs: [UInt64], _ proof: ExportProof, _ checkpoint: Checkpoint,
        _ manifest: ExportManifest
    ) throws(Problem) {
        var hashes: [TreeHash] = []
        for text in proof.inclusion {
            guard let hash = TreeHash(hex: text) else { throw Problem(manifest.proof, "an inclusion hash is not 64 hex digits") }
            hashes.append(hash)
        }
        guard !seqs.isEmpty else {
            guard hashes.isEmpty else { throw Problem(manifest.proof, "it proves events the bundle does not hold") }
            return
        }
        let leaves = [TreeHash](unsafeUninitializedCapacity: ranges.count) { out, count in
            let shared = UnsafeSendable((out, lines))
            let parts = 4 * ProcessInfo.processInfo.activeProcessorCount
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let (out, bytes) = shared.value
                let share = (ranges.count + parts - 1) / parts
                for index in min(ranges.count, part * share)..<min(ranges.count, (part + 1) * share) {
                    (out.baseAddress! + index).initialize(to: TreeHash.leaf(UnsafeRawBufferPointer(rebasing: bytes[ranges[index]])))
                }
            }
            count = ranges.count
        }
        guard let root = MerkleProof.root(fromLeaves: leaves, at: seqs.map { Int($0 - 1) }, treeSize: Int(checkpoint.size), proof: hashes)
        else {
            throw Problem(
                manifest.proof,
                "its \(hashes.count) inclusion hashes are not what a tree of \(checkpoint.size) events needs for these seqs: it was truncated or padded"
            )
        }
        guard root == checkpoint.root else {
            throw Problem(
                manifest.file, "its events do not hash to the checkpoint's root: an event was altered, or is not in the log at its seq")
        }
    }

    /// Each rendered record says what its stored line says (personal values aside).
    private static func checkRendering(
        _ text: UnsafeRawBufferPointer, file: String, _ lines: UnsafeRawBufferPointer, _ ranges: [Range<Int>], _ seqs: [UInt64]
    ) throws(Problem) {
        if file.hasSuffix(".csv") {
            guard var rows = Rendering.csvRowRanges(text) else { throw Problem(file, "it is not CSV: a quoted field does not end") }
            let header = rows.isEmpty ? nil : Rendering.csvFields(UnsafeRawBufferPointer(rebasing: text[rows[0]]))
            guard header?.map({ String(decoding: $0, as: UTF8.self) }) == Rendering.csvColumns else {
                throw Problem(file, "its header is not \(Rendering.csvColumns.joined(separator: ","))")
            }
            rows.removeFirst()
            guard rows.count == ranges.count else { throw Problem(file, "it has \(rows.count) rows for \(ranges.count) events") }
            // The first row that differs, and how, per part of the file.
            let parts = 4 * ProcessInfo.processInfo.activeProcessorCount
            var differing = [(row: Int, difference: String)?](repeating: nil, count: parts)
            let rowRanges = rows
            differing.withUnsafeMutableBufferPointer { out in
                let shared = UnsafeSendable((out, lines, text))
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    let (out, lines, text) = shared.value
                    let share = (ranges.count + parts - 1) / parts
                    for index in min(ranges.count, part * share)..<min(ranges.count, (part + 1) * share) {
                        let difference =
                            Rendering.csvFields(UnsafeRawBufferPointer(rebasing: text[rowRanges[index]])).map {
                                Rendering.csvDifference($0, stored: Array(UnsafeRawBufferPointer(rebasing: lines[ranges[index]])))
                            } ?? "a quote stands inside an unquoted field"
                        if let difference {
                            out[part] = (index, difference)
                            return
                        }
                    }
                }
            }
            if let first = differing.lazy.compactMap({ $0 }).first {
                throw Problem(file, "row \(first.row + 1) (seq \(seqs[first.row])): \(first.difference)")
            }
        } else {
            let rendered = text.lineRanges()
            guard rendered.count == ranges.count else { throw Problem(file, "it has \(rendered.count) lines for \(ranges.count) events") }
            // The first line that differs, per part of the file.
            let parts = 4 * ProcessInfo.processInfo.activeProcessorCount
            var differing = [Int?](repeating: nil, count: parts)
            differing.withUnsafeMutableBufferPointer { out in
                let shared = UnsafeSendable((out, lines, text))
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    let (out, lines, text) = shared.value
                    let share = (ranges.count + parts - 1) / parts
                    out[part] = (min(ranges.count, part * share)..<min(ranges.count, (part + 1) * share)).first {
                        !Rendering.sameExceptSealed(
                            stored: UnsafeRawBufferPointer(rebasing: lines[ranges[$0]]),
                            rendered: UnsafeRawBufferPointer(rebasing: text[rendered[$0]]))
                    }
                }
            }
            if let first = differing.lazy.compactMap({ $0 }).first {
                throw Problem(file, "line \(first + 1) (seq \(seqs[first])) is not the stored event as readers see it")
            }
        }
    }

    /// Checks that the log at `checkpoint` extends the older checkpoint; returns its size.
    private static func checkExtension(of note: String, to checkpoint: Checkpoint, _ proof: ExportProof, key: VerifierKey) throws(Problem)
        -> UInt64
    {
        let older: Checkpoint
        do {
            older = try Checkpoint(note: note, verifiedBy: key)
        } catch {
            throw Problem("older checkpoint", error.description)
        }
        guard older.size <= checkpoint.size else {
            throw Problem("older checkpoint", "it is of \(older.size) events, more than the bundle's \(checkpoint.size): give an older one")
        }
        let hashes: [[UInt8]]
        if older.size == checkpoint.size {
            hashes = []
        } else {
            guard let consistency = proof.consistency.first(where: { $0.oldSize == older.size }) else {
                throw Problem(
                    "proof.json",
                    "it holds no consistency proof from \(older.size) events (it has \(proof.consistency.map { String($0.oldSize) }.joined(separator: ", ")))"
                )
            }
            hashes = consistency.hashes.compactMap { TreeHash(hex: $0)?.bytes }
        }
        guard
            MerkleProof.verifyConsistency(
                oldSize: older.size, newSize: checkpoint.size, oldRoot: older.root.bytes, newRoot: checkpoint.root.bytes, proof: hashes)
        else {
            throw Problem(
                "proof.json",
                "the log at \(checkpoint.size) events does not extend the older checkpoint of \(older.size) events unchanged: history was rewritten"
            )
        }
        return older.size
    }
}

extension UInt8 {
    /// The value of an ASCII digit.
    fileprivate var wholeNumberDigit: UInt64? { self >= 0x30 && self <= 0x39 ? UInt64(self - 0x30) : nil }
}
