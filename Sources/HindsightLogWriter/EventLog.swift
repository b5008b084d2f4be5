import Dispatch
import Foundation
public import HindsightCore
import HindsightFiles
import HindsightLog

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
    /// Save the writer's index once this many events were appended since its last save. By
    /// default: after a million events or half the log, whichever is more, and after a second
    /// for fewer than 65,536 (so that readers scan little past it); and when the writer closes.
    public var indexSaveEvents: Int?

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
    /// The data directory and its segments folder, held open: the writer creates segments and
    /// replaces HEAD in the directories it opened, never in others that take their names.
    private let root: HeldDirectory
    private let segmentsFolder: HeldDirectory

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
    /// Set when batches were made durable but HEAD could not name them: they are not
    /// acknowledged, and the writer takes no new batch until HEAD is written again.
    private var stalled: LogError?
    private var groupCommits = 0

    /// Opens (creating if needed) the log in `directory` for writing, recovering from a crash:
    /// an unfinished batch at the end is removed; anything else out of place is refused.
    public init(directory: String, options: LogOptions = LogOptions()) throws(LogError) {
        self.directory = directory
        self.options = options
        layout = LogLayout(root: directory)
        FileIO.treatFileSizeLimitAsError()
        try FileIO.makeDirectory(directory)
        try FileIO.makeDirectory(layout.segmentsDirectory)
        root = try HeldDirectory(directory)
        segmentsFolder = try HeldDirectory(layout.segmentsDirectory)
        lockFD = try Self.acquireLock(layout.lockPath)
        do throws(LogError) {
            let view = try LogView(layout: layout, boundedByHead: false)
            if let problem = view.problem {
                throw LogError(.logCorrupt, "\(problem.reason); run `hindsight verify` for details", location: "seq \(problem.seq)")
            }
            // Only what HEAD never acknowledged may be repaired: a log shorter than HEAD lost
            // acknowledged events, and writing on would give their seqs to other events.
            try Self.checkAnchor(view)
            segmentNumber = view.segmentNumbers.last ?? 0
            if segmentNumber > 0 {
                let path = layout.segmentPath(segmentNumber)
                let file = try SegmentFile(segmentNumber, in: segmentsFolder, create: false)
                if let torn = view.tornTail {
                    try FileIO.truncate(file.fd, to: torn.offset, path: path)
                }
                // A crashed writer may have written a whole batch without its fsync.
                try FileIO.fsync(file.fd, path: path)
                file.size = try FileIO.size(file.fd, path: path)
                segment = file
            }
            // Every committed chunk is durable now, so the index may take them all in.
            state = try WriterState(opening: view, directory: directory, saveEvery: options.indexSaveEvents)
            written = HeadRecord(size: state.frontier.size, root: state.frontier.root)
            durable = written
            try writeHead(durable)
        } catch {
            close(lockFD)
            throw error
        }
    }

    /// Saves the index of what this writer appended, when all of it is durable, so that the
    /// next writer opens without replaying it.
    deinit {
        if poisoned == nil, stalled == nil, durable == written { try? state.index.save(state.frontier) }
        close(lockFD)
    }

    /// Refuses a log whose segments do not hold everything HEAD acknowledged, or whose tree
    /// head there differs from HEAD's. Batches written whole after HEAD (a writer stopped
    /// between its fsync and HEAD) are kept: they were never acknowledged, but nothing of
    /// them is missing.
    private static func checkAnchor(_ view: LogView) throws(LogError) {
        switch view.head {
        case nil:
            return
        case .failure(let error)?:
            throw LogError(
                .logCorrupt, "\(error.message); the writer will not guess what was acknowledged: run `hindsight verify` for details",
                location: error.location)
        case .success(let head)?:
            let held = view.committed.last?.header.lastSeq ?? 0
            if head.size > held {
                throw LogError(
                    .logCorrupt,
                    "HEAD records \(head.size) events but the segments hold \(held): events \(held + 1)…\(head.size) were acknowledged and are missing; restore the data directory from a backup (run `hindsight verify` for details)",
                    location: "seq \(held + 1)")
            }
            guard head.size > 0 else { return }
            guard let end = view.committed.first(where: { $0.header.lastSeq == head.size }) else {
                throw LogError(
                    .logCorrupt, "HEAD names size \(head.size), which is not the end of a batch; run `hindsight verify` for details",
                    location: "seq \(head.size)")
            }
            if end.header.root != head.root {
                throw LogError(
                    .logCorrupt, "the tree head at \(head.size) differs from the one HEAD recorded; run `hindsight verify` for details",
                    location: "seq \(end.header.firstSeq)")
            }
        }
    }

    /// Events stored and acknowledged.
    public var size: UInt64 { syncLock.withLock { durable.size } }

    /// True when every batch written is acknowledged: none is durable, or may become
    /// visible, without a reader seeing it now.
    public var isSettled: Bool {
        let (target, failure) = writeLock.withLock { (written, poisoned) }
        return failure == nil && syncLock.withLock { durable == target }
    }

    /// How many fsyncs acknowledged appends so far; fewer than the appends when they share.
    public var commits: Int { syncLock.withLock { groupCommits } }

    /// Appends a batch, all or nothing, once durable. A batch whose every event id is already
    /// stored is a retry: it returns the original positions and writes nothing.
    public func append(_ batch: EnvelopeBatch, expectedVersions: [String: ExpectedVersion] = [:]) throws(LogError) -> AppendResult {
        guard !batch.isEmpty else { throw LogError(.invalidEnvelope, "the batch holds no events") }
        precondition(
            !batch.hasUnsealedPersonalData, "personal data must be sealed (the engine seals them with its vault) before it is stored")
        // A writer whose HEAD fell behind catches it up before it writes anything more.
        if syncLock.withLock({ stalled != nil }) { try syncThrough(writeLock.withLock { written.size }) }
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
        saveIndexIfDue()
        return result
    }

    /// Saves the index when a save is due and everything written is durable (the index never
    /// holds an event a crash could take back). Under steady appends some batch is nearly
    /// always written and not yet durable, so it makes what is written durable first, and
    /// saves if nothing was written meanwhile (a few tries). The index is derived from the
    /// segments: a save that fails leaves the files marked as being saved, and the index is
    /// rebuilt when the log is next opened.
    private func saveIndexIfDue() {
        guard writeLock.withLock({ poisoned == nil && state.index.isSaveDue }) else { return }
        for _ in 0..<3 {
            let target = writeLock.withLock { written.size }
            do { try syncThrough(target) } catch { return }
            let durableNow = syncLock.withLock { durable }
            let saved: Bool = writeLock.withLock {
                guard poisoned == nil, written == durableNow else { return false }
                if state.index.isSaveDue { try? state.index.save(state.frontier) }
                return true
            }
            if saved { return }
        }
    }

    /// Group commit: the first appender to arrive fsyncs everything written so far; those who
    /// arrive meanwhile find their batch already durable, or fsync the next group together.
    ///
    /// A batch is acknowledged only once it is durable and HEAD names it, so that every
    /// reader sees it, and only while the files written are still the data directory's.
    private func syncThrough(_ seq: UInt64) throws(LogError) {
        syncLock.lock()
        defer { syncLock.unlock() }
        if durable.size >= seq { return }
        let (target, file, failure) = writeLock.withLock { (written, segment, poisoned) }
        if let failure { throw failure }
        do throws(LogError) {
            // Without a current segment, everything written is in segments fsynced already.
            if let file { try FileIO.fsync(file.fd, path: file.path) }
            try checkStillInPlace(file)
        } catch {
            writeLock.withLock { poisoned = error }
            throw error
        }
        do throws(LogError) {
            try writeHead(target)
        } catch {
            let stall = LogError(
                error.code,
                "events \(durable.size + 1)…\(target.size) are durable but HEAD could not be written (\(error.message)), so they are not acknowledged; the writer takes no new batch until HEAD can be written, and a batch sent again with its event ids is then acknowledged once",
                location: error.location)
            stalled = stall
            throw stall
        }
        stalled = nil
        durable = target
        groupCommits += 1
    }

    /// Refuses to acknowledge anything once the directory this writer opened was removed or
    /// replaced (its LOCK or its current segment is no longer the file on that path): what
    /// was written went to files no reader will find.
    private func checkStillInPlace(_ file: SegmentFile?) throws(LogError) {
        try FileIO.checkStillLinked(root.fd, at: directory, what: "the data directory")
        try FileIO.checkStillLinked(lockFD, at: layout.lockPath, what: "the data directory's LOCK")
        if let file { try FileIO.checkStillLinked(file.fd, at: file.path, what: "the current segment") }
    }

    /// Ends the current segment, so that the next append starts a new one, waits until all
    /// it holds is acknowledged, and returns the number of the last segment that will never
    /// change again (0 if none).
    func sealSegment() throws(LogError) -> Int {
        writeLock.lock()
        let number = segmentNumber
        let size = written.size
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
        // A new segment goes only into the directory this writer opened.
        do throws(LogError) {
            try checkStillInPlace(nil)
        } catch {
            poisoned = error
            throw error
        }
        let number = segmentNumber + 1
        let file = try SegmentFile(number, in: segmentsFolder, create: true)
        try FileIO.fsync(segmentsFolder.fd, path: segmentsFolder.path)
        segment = file
        segmentNumber = number
        return file
    }

    /// Replaces HEAD in the data directory this writer opened (see `FileIO.replaceFile`).
    private func writeHead(_ head: HeadRecord) throws(LogError) {
        try FileIO.replaceFile("HEAD", in: root, with: Array(head.json.utf8))
    }

    /// Takes the writer's lock. A lock that is taken is tried again for a quarter of a second:
    /// a process that forks (to run a program) lends its children every descriptor until they
    /// exec, so a writer closed a moment ago may still hold its lock in such a child.
    private static func acquireLock(_ path: String) throws(LogError) -> Int32 {
        let fd = try FileIO.open(path, O_RDWR | O_CREAT)
        var locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        for _ in 0..<25 where !locked && errno == EWOULDBLOCK {
            usleep(10_000)
            locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        }
        if !locked {
            let code = errno
            let holder = (try? FileIO.readFile(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            close(fd)
            if code == EWOULDBLOCK {
                let pid = holder.trimmingCharacters(in: .whitespacesAndNewlines)
                throw LogError(
                    .writerLocked,
                    "the data directory is already open for writing by another process\(pid.isEmpty ? "" : " (pid \(pid))"); only one writer may append at a time",
                    location: path)
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

    /// Opens segment `number` in `folder` (creating it, with `create`).
    init(_ number: Int, in folder: HeldDirectory, create: Bool) throws(LogError) {
        let name = LogLayout.segmentName(number)
        path = folder.path + "/" + name
        fd = try FileIO.open(name, in: folder, O_WRONLY | O_APPEND | (create ? O_CREAT | O_EXCL : 0))
        size = create ? 0 : try FileIO.size(fd, path: path)
    }

    deinit { close(fd) }
}
