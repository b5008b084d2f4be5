import Foundation
import HindsightCore
import HindsightTestSupport
import Testing

@testable import HindsightFiles

@Suite("System call wrappers")
struct FileIOTests {
    @Test("writing many buffers, some empty, in vectored groups keeps every byte in order")
    func vectoredWrite() throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/out"
        let parts: [[UInt8]] = (0..<1500).map { index in
            index % 7 == 0 ? [] : [UInt8](repeating: UInt8(index % 251), count: index % 300)
        }
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_APPEND)
        defer { close(fd) }
        try FileIO.writeAll(fd, parts, path: path)
        #expect(try FileIO.readFile(path) == parts.flatMap { $0 })
    }

    @Test("a failing call names the call, the path and the OS error")
    func errorsNameTheCall() {
        let error = #expect(throws: LogError.self) { try FileIO.open("/nonexistent/dir/file", O_RDONLY) }
        #expect(error?.code == .io)
        #expect(error?.location == "/nonexistent/dir/file")
        #expect(error?.message.contains("open failed") == true)
        #expect(error?.message.contains("errno 2") == true)
    }
}
