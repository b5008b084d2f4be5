import Foundation
import HindsightCore
import HindsightFiles

/// The writer's stream index as a reader uses it: a stream's events up to the seq the index
/// covers, found from the stream's last seq back through `previous`, without scanning the
/// log. Used only when its state is this log's (`LogView.confirms`) and its files were saved
/// with that state; each page is checked when first read, and the events found are checked
/// again by the reader (their stream and versions), so a damaged index is never believed.
final class StreamIndex: @unchecked Sendable {
    let state: IndexState
    private let streams: MappedFile
    private let streamsHeader: IndexFileHeader
    private let previous: MappedFile
    private let previousHeader: IndexFileHeader
    private let lock = NSLock()
    private var checkedStreams = CheckedPages()
    private var checkedPrevious = CheckedPages()

    /// The index of the log in `view`, or nil when there is none this log can use.
    init?(view: LogView) {
        let layout = IndexLayout(root: view.layout.root)
        guard let state = layout.readState(), state.size <= view.size,
            let streams = try? MappedFile(path: layout.path(.streams)), let previous = try? MappedFile(path: layout.path(.previous)),
            let streamsHeader = Self.header(of: streams, .streams, state), let previousHeader = Self.header(of: previous, .previous, state),
            view.confirms(state)
        else { return nil }
        self.state = state
        self.streams = streams
        self.streamsHeader = streamsHeader
        self.previous = previous
        self.previousHeader = previousHeader
    }

    private static func header(of file: MappedFile, _ kind: IndexFileKind, _ state: IndexState) -> IndexFileHeader? {
        guard file.count >= IndexPage.size, let base = file.bytes.baseAddress, let header = IndexFileHeader(page: base, kind: kind),
            !header.isSaving, header.size == state.size, header.root == state.root, file.count >= header.fileSize
        else { return nil }
        return header
    }

    /// The stream's events up to `state.size`, as (seq, version) in seq order; nil when the
    /// index cannot say (a damaged page, a chain that does not end where the version says).
    func events(of stream: String) -> [(seq: UInt64, version: UInt64)]? {
        lock.withLock {
            let digest = StreamDigest(stream)
            guard let base = streams.bytes.baseAddress,
                let (slot, present) = IndexProbe.find(
                    streamsHeader, in: base, digest.w0, digest.w1, matches: { _ in true },
                    pageIsIntact: { page in checkedStreams.check(page, in: base, count: streams.count) })
            else { return nil }
            guard present else { return [] }
            let entry = base + streamsHeader.offset(ofSlot: slot)
            let version = entry.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            var seq = entry.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            guard version <= seq, seq <= state.size, let previousBase = previous.bytes.baseAddress else { return nil }
            var found: [(seq: UInt64, version: UInt64)] = []
            found.reserveCapacity(Int(version))
            for expected in stride(from: version, to: 0, by: -1) {
                let slot = Int(seq - 1)
                guard checkedPrevious.check(1 + slot / previousHeader.slotsPerPage, in: previousBase, count: previous.count) else {
                    return nil
                }
                found.append((seq, expected))
                let before = previousBase.loadUnaligned(fromByteOffset: previousHeader.offset(ofSlot: slot), as: UInt64.self)
                // Each step goes back, and the first event of the stream has none before it.
                guard before < seq, (before == 0) == (expected == 1) else { return nil }
                seq = before
            }
            return found.reversed()
        }
    }
}
