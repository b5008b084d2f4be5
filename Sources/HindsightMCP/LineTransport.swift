import Foundation
import Logging
import MCP

/// Standard input and output as the server's transport, one JSON-RPC message a line. A thread
/// blocks reading standard input and hands each line on as it arrives: the SDK's own stdio
/// transport polls a non-blocking descriptor every 10 ms, which added up to 10 ms to every
/// tool call.
actor LineTransport: Transport {
    nonisolated let logger = Logger(label: "hindsight.mcp")
    private let messages: AsyncThrowingStream<Data, any Error>
    private let lines: AsyncThrowingStream<Data, any Error>.Continuation

    init() {
        (messages, lines) = AsyncThrowingStream.makeStream()
    }

    func connect() async throws {
        // A client that has gone away is a write error, not a signal that ends the process.
        signal(SIGPIPE, SIG_IGN)
        let lines = self.lines
        Thread.detachNewThread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                pending += buffer[0..<count]
                var start = 0
                while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    if newline > start { lines.yield(Data(pending[start..<newline])) }
                    start = newline + 1
                }
                pending.removeFirst(start)
            }
            lines.finish()
        }
    }

    func disconnect() async {
        lines.finish()
    }

    func send(_ message: Data) async throws {
        try FileHandle.standardOutput.write(contentsOf: message + [UInt8(ascii: "\n")])
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { messages }
}
