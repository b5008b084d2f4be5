import Foundation
import HindsightCore

/// A long operation's progress on standard error when it is a terminal: done of the whole, the
/// rate, and the time left, on one line redrawn at most five times a second and cleared when
/// the operation ends. Silent when standard error is not a terminal (a pipe, a file, CI), and
/// never on standard output, which carries the command's answer.
final class ProgressMeter: @unchecked Sendable {
    enum Unit {
        case events, bytes
    }

    private let label: String
    private let unit: Unit
    private let started = DispatchTime.now().uptimeNanoseconds
    private var shownAt: UInt64 = 0
    private var shown = false
    private let lock = NSLock()

    init(_ label: String, unit: Unit = .events) {
        self.label = label
        self.unit = unit
    }

    /// What the operation calls; nil (nothing to call) when standard error is not a terminal.
    var report: ProgressReport? {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        return { [self] done, total in show(done, of: total) }
    }

    /// Runs the operation with `report`, and clears the line when it ends, before the command
    /// prints its answer or its error.
    func measuring<T, E: Error>(_ operation: (ProgressReport?) throws(E) -> T) throws(E) -> T {
        defer { finish() }
        return try operation(report)
    }

    /// Clears the line, if one was drawn (before the command prints, and when it ends).
    func finish() {
        lock.withLock {
            if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            shown = false
        }
    }

    private func show(_ done: UInt64, of total: UInt64) {
        let now = DispatchTime.now().uptimeNanoseconds
        lock.withLock {
            guard now - shownAt >= 200_000_000 || done >= total else { return }
            shownAt = now
            shown = true
            let seconds = Double(now - started) / 1e9
            let rate = seconds > 0 ? Double(done) / seconds : 0
            var line = "\(label): \(amount(done)) of \(amount(total))"
            if total > 0 { line += String(format: " (%.0f%%)", Double(done) / Double(total) * 100) }
            if rate > 0 {
                line += ", \(amount(UInt64(rate)))/s"
                if done < total { line += ", " + Self.clock((Double(total - done) / rate).rounded(.up)) + " left" }
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
        }
    }

    private func amount(_ value: UInt64) -> String {
        switch unit {
        case .events: "\(value) events"
        case .bytes: String(format: "%.1f MB", Double(value) / 1e6)
        }
    }

    /// Seconds as m:ss, or h:mm:ss.
    private static func clock(_ seconds: Double) -> String {
        let whole = Int(min(seconds, 359_999))
        let (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }
}
