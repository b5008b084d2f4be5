import Foundation
public import HindsightCore
import HindsightFiles
import HindsightLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where exports may be written, as the process that writes them was told when it started.
///
/// A bundle holds personal data and is written by a request that only reads the log, so
/// where it lands is the process's decision, not the request's: `serve` and `query` write
/// only beneath the directory named by `--exports`, the `export` commands wherever the
/// person at the command line names, and none of them ever inside the data directory,
/// whose files a stray bundle would break.
public enum ExportPolicy: Sendable {
    /// Exports are refused (no `--exports` was given).
    case off
    /// Only a new directory beneath this one, named relative to it or by an absolute path
    /// inside it, reached without a symbolic link.
    case beneath(ExportRoot)
    /// Any new directory outside the data directory: the path the command line was given.
    case asNamed
}

/// The directory `--exports` names, resolved and checked once when the process starts.
public struct ExportRoot: Sendable {
    /// The path as given, and with every symbolic link resolved: a request may name a
    /// destination inside it through either.
    public let path: String
    let resolved: String

    public init(_ path: String, dataDirectory: String) throws(LogError) {
        guard let resolved = realpath(path, nil) else {
            throw LogError(.io, "the exports directory cannot be used: \(String(cString: strerror(errno)))", location: path)
        }
        defer { free(resolved) }
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.resolved = String(cString: resolved)
        let fd = try FileIO.open(self.resolved, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        if let data = FileIO.identity(of: dataDirectory), try FileIO.directory(fd, liesWithin: data) {
            throw LogError(
                .pathRefused, "the exports directory lies inside the data directory \(dataDirectory); name one outside it", location: path)
        }
    }
}

/// A new directory a bundle is to be written as: its name inside a parent directory held
/// open, so that the bundle lands in the directory that was checked, whatever is renamed or
/// linked meanwhile.
public final class ExportDestination: @unchecked Sendable {
    /// The bundle's path, for messages and results.
    public let path: String
    let parent: Int32
    let name: String

    private init(path: String, parent: Int32, name: String) {
        self.path = path
        self.parent = parent
        self.name = name
    }

    deinit { close(parent) }

    /// The destination `path` names under `policy`, refused (nothing written) when the policy
    /// does not allow it, when it lies inside `dataDirectory`, or when it exists.
    public static func resolve(_ path: String, policy: ExportPolicy, dataDirectory: String) throws(LogError) -> ExportDestination {
        // The system calls would read the path only up to a NUL: it would name another place.
        guard !path.utf8.contains(0) else { throw refusal("a path may not contain a NUL character", path) }
        let destination: ExportDestination
        switch policy {
        case .off:
            throw refusal(
                "exports are not enabled: start serve (or query) with --exports DIR, the directory bundles are written beneath", path)
        case .asNamed:
            let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
            let name = String(trimmed[(trimmed.lastIndex(of: "/").map(trimmed.index(after:)) ?? trimmed.startIndex)...])
            try check(name: name, in: path)
            destination = ExportDestination(path: path, parent: try openDirectory(FileIO.parent(of: trimmed)), name: name)
        case .beneath(let root):
            destination = try beneath(root, path)
        }
        if let data = FileIO.identity(of: dataDirectory), try FileIO.directory(destination.parent, liesWithin: data) {
            throw refusal("an export must not be written inside the data directory", path)
        }
        var info = stat()
        if fstatat(destination.parent, destination.name, &info, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT {
            throw refusal("the export directory exists already; name a new one", path)
        }
        return destination
    }

    /// `path` inside `root`: relative to it, or absolute and beneath it; each directory on the
    /// way opened without following a symbolic link.
    private static func beneath(_ root: ExportRoot, _ path: String) throws(LogError) -> ExportDestination {
        var relative = Substring(path)
        if path.hasPrefix("/") {
            guard let inside = [root.path, root.resolved].lazy.compactMap({ prefix in Self.remainder(of: path, after: prefix) }).first
            else {
                throw refusal("an export is written beneath the exports directory \(root.path); this path lies outside it", path)
            }
            relative = inside
        }
        let parts = relative.split(separator: "/").filter { $0 != "." }
        guard let last = parts.last else { throw refusal("name a new directory beneath the exports directory", path) }
        if parts.contains("..") { throw refusal("a path beneath the exports directory may not contain `..`", path) }
        var fd = try openDirectory(root.resolved)
        for (index, part) in parts.dropLast().enumerated() {
            let next = openat(fd, String(part), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            var info = stat()
            let isLink = next < 0 && fstatat(fd, String(part), &info, AT_SYMLINK_NOFOLLOW) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
            close(fd)
            guard next >= 0 else {
                let through = parts[...index].joined(separator: "/")
                switch code {
                case _ where isLink: throw refusal("\(through) is a symbolic link; an export is never written through one", path)
                case ENOENT: throw refusal("the directory \(through) does not exist beneath the exports directory", path)
                default: throw refusal("\(through) cannot be opened as a directory: \(String(cString: strerror(code)))", path)
                }
            }
            fd = next
        }
        let name = String(last)
        do throws(LogError) {
            try check(name: name, in: path)
        } catch {
            close(fd)
            throw error
        }
        return ExportDestination(path: root.path + "/" + parts.joined(separator: "/"), parent: fd, name: name)
    }

    /// What follows `prefix` and a slash in `path`, or nil when `path` does not lie beneath it.
    private static func remainder(of path: String, after prefix: String) -> Substring? {
        let base = prefix.hasSuffix("/") ? prefix : prefix + "/"
        return path.hasPrefix(base) ? path.dropFirst(base.count) : nil
    }

    /// The longest name a bundle may have: its working directory's name adds 27 bytes, and a
    /// name has at most 255.
    static let longestName = 200

    private static func check(name: String, in path: String) throws(LogError) {
        guard !name.isEmpty, name != ".", name != ".." else { throw refusal("name a new directory for the export", path) }
        guard name.utf8.count <= longestName else { throw refusal("the export directory's name is longer than \(longestName) bytes", path) }
    }

    static func openDirectory(_ path: String) throws(LogError) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw LogError(
                .pathRefused, "the export's parent directory cannot be opened: \(String(cString: strerror(code)))", location: path,
                fieldPath: "/path")
        }
        return fd
    }

    private static func refusal(_ message: String, _ path: String) -> LogError {
        LogError(.pathRefused, message, location: path, fieldPath: "/path")
    }
}
