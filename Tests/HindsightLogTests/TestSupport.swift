import Foundation
@testable import HindsightLog
import HindsightWorkload

/// A fresh data directory under the system's temporary folder, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("hindsight-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var segments: [String] {
        let folder = path + "/segments"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".lz4") }.sorted().map { folder + "/" + $0 }
    }
}

/// Envelope lines for tests: `event(stream:)` makes one valid event (the data fits the
/// catalogue's build.started schema, so the CLI accepts it too).
enum Events {
    static func event(
        type: String = "build.started", stream: String = "build/b_1", id: String? = nil,
        occurredAt: String = "2026-03-01T09:30:00.000Z", org: String = "org_1",
        data: String = #"{"build":"b_1","project":"prj_1","runner":"runner-1"}"#
    ) -> String {
        let idField = id.map { #""id":"\#($0)","# } ?? ""
        return #"{\#(idField)"type":"\#(type)","stream":"\#(stream)","occurredAt":"\#(occurredAt)","actor":{"kind":"user","id":"usr_1"},"org":"\#(org)","data":\#(data)}"#
    }

    static func batch(_ lines: [String]) throws -> EnvelopeBatch {
        try EnvelopeParser.parse(ndjson: Array(lines.joined(separator: "\n").utf8), catalog: nil)
    }

    static func workload(_ count: Int, seed: UInt64 = 1) throws -> EnvelopeBatch {
        try EnvelopeParser.parse(ndjson: WorkloadGenerator.ndjson(count: count, seed: seed), catalog: nil)
    }

    /// A version-4-shaped UUID made from a number, so tests can name ids.
    static func uuid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        let padded = String(repeating: "0", count: 12 - hex.count) + hex
        return "00000000-0000-4000-8000-\(padded)"
    }
}

/// Every stored line of a log, in order, as text.
func storedLines(_ directory: String) throws -> [String] {
    var lines: [String] = []
    try LogReader(directory: directory).scanLines { _, line in
        lines.append(String(decoding: line, as: UTF8.self))
        return true
    }
    return lines
}

/// Runs a program to completion, reading its output and error streams concurrently.
@discardableResult
func run(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data(), errData = Data()
    DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    group.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The built `hindsight` executable, beside the test bundle.
var hindsightExecutable: String {
    let bundle = Bundle.main.bundleURL
    let candidates = [bundle.appendingPathComponent("hindsight"), bundle.deletingLastPathComponent().appendingPathComponent("hindsight")]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }?.path ?? candidates[0].path
}

/// Writes (or replaces) a file, failing the test if it cannot.
func writeFile(_ path: String, _ contents: some DataProtocol) {
    let written = FileManager.default.createFile(atPath: path, contents: Data(contents))
    precondition(written, "cannot write \(path)")
}
