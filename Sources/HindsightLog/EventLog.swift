import Dispatch
import Foundation

/// What a batch expects of a stream's version before it appends (`expectedVersions`).
public enum ExpectedVersion: Sendable, Equatable {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream's last event must have this `streamVersion`.
    case exactly(UInt64)
}

/// Where an appended batch landed.
public struct AppendResult: Sendable, Equatable {
    public let firstSeq: UInt64
    public let lastSeq: UInt64
    public let count: Int
    /// True when every event's id had been stored before: nothing new was written and the
    /// positions are the original ones.
    public let isRetry: Bool
}

/// Settings of a writer; the defaults suit production.
public struct LogOptions: Sendable {
    /// A new segment starts once the current one has reached this size (at a batch boundary,
    /// so a large batch may overshoot it).
    public var segmentBytes = 64 << 20
    /// NDJSON bytes per chunk (one LZ4 frame). Larger chunks compress a little better; a
    /// batch smaller than this times the cores is cut into smaller chunks so that every
    /// core compresses a part.
    public var chunkBytes = 4 << 20
    /// The smallest chunk a batch is cut into for the sake of parallel compression.
    public static let minimumChunkBytes = 1 << 20
    /// LZ4 compression level of appended chunks (1 fast … 12 smallest). Compaction later
    /// recompresses sealed segments at `LZ4Frame.compactionLevel`.
    public var compressionLevel = LZ4Frame.defaultLevel

    public init() {}
}

/// The append-only, tamper-evident event log of one data directory, open for writing.
///
/// One writer per directory (an exclusive `flock` on `DIR/LOCK`). Appends from many threads
/// are serialised for writing and share fsyncs (group commit): `append` returns only once
/// the batch is durable.
public final class EventLog: @unchecked Sendable {
    public let directory: String
    let layout: LogLayout
    let options: LogOptions
    private let lockFD: Int32

    /// Guards everything below up to `syncLock`.
    private let writeLock = NSLock()
    private var state: WriterState
    /// The segment appends go to. Every other segment is fsynced when it stops being this one.
    private var segment: SegmentFile?
    private var segmentNumber: Int
    /// Set when an fsync failed (or a failed write could not be undone): the page cache may
    /// have dropped data, so nothing more is acknowledged until the log is reopened.
    private var poisoned: LogError?
    private var written: HeadRecord

    /// Held by a compaction, so that two never rewrite the same segment.
    let compactionLock = NSLock()

    /// Held by the appender that fsyncs for everyone waiting.
    private let syncLock = NSLock()
    private var durable: HeadRecord
    private var groupCommits = 0

    /// Opens (creating if needed) the log in `directory` for writing, recovering from a crash:
    /// an unfinished batch at the end is removed; anything else out of place is refused.
    public init(directory: String, options: LogOptions = LogOptions()) throws(LogError) {
        self.directory = directory
        self.options = options
        layout = LogLayout(root: directory)
        try FileIO.makeDirectory(directory)
        try FileIO.makeDirectory(layout.segmentsDirectory)
        lockFD = try Self.acquireLock(layout.lockPath)
        do throws(LogError) {
            let view = try LogView(layout: layout, boundedByHead: false)
            if let problem = view.problem {
                throw LogError(.logCorrupt, "\(problem.reason); run `hindsight verify` for details", location: "seq \(problem.seq)")
            }
            state = try WriterState(rebuiltFrom: view)
            segmentNumber = view.segmentNumbers.last ?? 0
            if segmentNumber > 0 {
                let path = layout.segmentPath(segmentNumber)
                let file = try SegmentFile(path: path, create: false)
                if let torn = view.tornTail {
                    try FileIO.truncate(file.fd, to: torn.offset, path: path)
                }
                // A crashed writer may have written a whole batch without its fsync.
                try FileIO.fsync(file.fd, path: path)
                file.size = try FileIO.size(file.fd, path: path)
                segment = file
            }
            written = HeadRecord(size: state.frontier.size, root: state.frontier.root)
            durable = written
            try layout.writeHead(durable)
        } catch {
            close(lockFD)
            throw error
        }
    }

    deinit { close(lockFD) }

    /// Events stored and acknowledged.
    public var size: UInt64 { syncLock.withLock { durable.size } }

    /// How many fsyncs acknowledged appends so far; fewer than the appends when they share.
    public var commits: Int { syncLock.withLock { groupCommits } }

    /// Appends a batch, all or nothing, once durable. A batch whose every event id is already
    /// stored is a retry: it returns the original positions and writes nothing.
    public func append(_ batch: EnvelopeBatch, expectedVersions: [String: ExpectedVersion] = [:]) throws(LogError) -> AppendResult {
        guard !batch.isEmpty else { throw LogError(.invalidEnvelope, "the batch holds no events") }
        precondition(!batch.hasUnsealedPersonalData, "personal data must be sealed (PersonalDataVault.admit) before it is stored")
        let result: AppendResult
        writeLock.lock()
        locked: do {
            defer { writeLock.unlock() }
            if let poisoned { throw poisoned }
            if let retry = try state.admit(batch) {
                result = retry
                break locked
            }
            do throws(LogError) {
                try state.check(expectedVersions)
            } catch {
                state.releaseIDs(of: batch)
                throw error
            }
            let file: SegmentFile
            let before: Int
            do throws(LogError) {
                file = try segmentForWriting()
                before = file.size
            } catch {
                state.releaseIDs(of: batch)
                throw error
            }
            let encoded: EncodedBatch
            do throws(LogError) {
                encoded = try state.encode(batch, options: options, recordedAt: Timestamp.now()) { parts throws(LogError) in
                    try FileIO.writeAll(file.fd, parts, path: file.path)
                }
            } catch {
                state.releaseIDs(of: batch)
                // Leave no partial batch behind; if even that fails, stop accepting appends.
                if (try? FileIO.truncate(file.fd, to: before, path: file.path)) == nil { poisoned = error }
                throw error
            }
            file.size = before + encoded.byteCount
            result = AppendResult(firstSeq: state.frontier.size + 1, lastSeq: encoded.frontier.size, count: batch.count, isRetry: false)
            state.apply(encoded)
            written = HeadRecord(size: state.frontier.size, root: state.frontier.root)
        }
        // A retry is acknowledged only once the original is durable too.
        try syncThrough(result.lastSeq)
        return result
    }

    /// Group commit: the first appender to arrive fsyncs everything written so far; those who
    /// arrive meanwhile find their batch already durable, or fsync the next group together.
    private func syncThrough(_ seq: UInt64) throws(LogError) {
        syncLock.lock()
        defer { syncLock.unlock() }
        if durable.size >= seq { return }
        let (target, file, failure) = writeLock.withLock { (written, segment, poisoned) }
        if let failure { throw failure }
        // Without a current segment, everything written is in segments fsynced already.
        if let file {
            do {
                try FileIO.fsync(file.fd, path: file.path)
            } catch {
                writeLock.withLock { poisoned = error }
                throw error
            }
        }
        durable = target
        groupCommits += 1
        // HEAD can be rebuilt from the segments; a failure to write it is not a lost event.
        try? layout.writeHead(target)
    }

    /// Ends the current segment, so that the next append starts a new one, waits until all
    /// it holds is acknowledged, and returns the number of the last segment that will never
    /// change again (0 if none).
    func sealSegment() throws(LogError) -> Int {
        writeLock.lock()
        let number = segmentNumber, size = written.size
        if let current = segment {
            // Under the lock, so no append can be acknowledged through a later segment first.
            do throws(LogError) {
                try FileIO.fsync(current.fd, path: current.path)
            } catch {
                poisoned = error
                writeLock.unlock()
                throw error
            }
        }
        segment = nil
        writeLock.unlock()
        // Record HEAD now: a batch not yet acknowledged would otherwise end up inside a
        // compacted chunk that readers, bounded by HEAD, could not show until HEAD caught up.
        try syncThrough(size)
        return number
    }

    /// The segment to append to, rolled over when full. Call with `writeLock` held.
    private func segmentForWriting() throws(LogError) -> SegmentFile {
        if let segment, segment.size < options.segmentBytes { return segment }
        if let segment {
            // Everything in the old segment must be durable before the new one holds anything.
            do throws(LogError) {
                try FileIO.fsync(segment.fd, path: segment.path)
            } catch {
                poisoned = error
                throw error
            }
        }
        let number = segmentNumber + 1
        let file = try SegmentFile(path: layout.segmentPath(number), create: true)
        try FileIO.fsyncDirectory(layout.segmentsDirectory)
        segment = file
        segmentNumber = number
        return file
    }

    private static func acquireLock(_ path: String) throws(LogError) -> Int32 {
        let fd = try FileIO.open(path, O_RDWR | O_CREAT)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = (try? FileIO.readFile(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            close(fd)
            if code == EWOULDBLOCK {
                let pid = holder.trimmingCharacters(in: .whitespacesAndNewlines)
                throw LogError(.writerLocked, "the data directory is already open for writing by another process\(pid.isEmpty ? "" : " (pid \(pid))"); only one writer may append at a time", location: path)
            }
            throw LogError.system("flock", path: path, errno: code)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }
}

/// An open segment file; closed when the last user lets go, so a group-commit fsync can
/// still use a segment that a concurrent append has just rolled away from.
final class SegmentFile: @unchecked Sendable {
    let fd: Int32
    let path: String
    /// Bytes in the file; changed only under the writer's lock.
    var size: Int

    init(path: String, create: Bool) throws(LogError) {
        self.path = path
        fd = try FileIO.open(path, O_WRONLY | O_APPEND | (create ? O_CREAT | O_EXCL : 0))
        size = create ? 0 : try FileIO.size(fd, path: path)
    }

    deinit { close(fd) }
}

extension ExpectedVersion {
    /// Parses the forms `expectedVersions` takes on the command line: a number, `none`, `any`.
    public init?(_ text: some StringProtocol) {
        switch text {
        case "any": self = .any
        case "none": self = .noStream
        default:
            guard let version = UInt64(text) else { return nil }
            self = .exactly(version)
        }
    }
}
