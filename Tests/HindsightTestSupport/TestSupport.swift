// What the test targets share: scratch directories, running the CLI, writing files.
public import Foundation

/// A fresh data directory under the system's temporary folder, removed when the test ends.
public final class TemporaryDirectory {
    public let path: String

    public init() {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("hindsight-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public var segments: [String] {
        let folder = path + "/segments"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".lz4") }.sorted().map { folder + "/" + $0 }
    }
}

/// Runs a program to completion, reading its output and error streams concurrently.
@discardableResult
public func run(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    if let stdin {
        // A program that ends before reading all of its input (a crash) is a failure its exit
        // status reports, not a signal that ends the tests.
        signal(SIGPIPE, SIG_IGN)
        try? input.fileHandleForWriting.write(contentsOf: stdin)
    }
    try? input.fileHandleForWriting.close()
    group.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The built `hindsight` executable, beside the test bundle.
public var hindsightExecutable: String { builtExecutable("hindsight") }

/// The built workload generator (`hindsight-generate --events N --seed S`).
public var generateExecutable: String { builtExecutable("hindsight-generate") }

private func builtExecutable(_ name: String) -> String {
    let bundle = Bundle.main.bundleURL
    let candidates = [bundle.appendingPathComponent(name), bundle.deletingLastPathComponent().appendingPathComponent(name)]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }?.path ?? candidates[0].path
}

/// Writes (or replaces) a file, failing the test if it cannot.
public func writeFile(_ path: String, _ contents: some DataProtocol) {
    let written = FileManager.default.createFile(atPath: path, contents: Data(contents))
    precondition(written, "cannot write \(path)")
}

/// Every file of a data directory with its bytes, to show that a refusal changed nothing.
/// LOCK is left out: it only names the process that last held the writer's lock.
public func contents(of directory: String) throws -> [String: Data] {
    var files: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(atPath: directory)
    while let name = enumerator?.nextObject() as? String {
        var isDirectory: ObjCBool = false
        let path = directory + "/" + name
        if name != "LOCK", FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            files[name] = FileManager.default.contents(atPath: path)
        }
    }
    return files
}
