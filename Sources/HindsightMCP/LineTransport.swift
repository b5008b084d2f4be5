import Foundation
import Logging
import MCP

/// Standard input and output as the server's transport, one JSON-RPC message a line. A thread
/// blocks reading standard input and hands each line on as it arrives: the SDK's own stdio
/// transport polls a non-blocking descriptor every 10 ms, which added up to 10 ms to every
/// tool call. When the input ends, the stream of messages ends only once every request read
/// has been answered, so that a client that sends its requests and closes its end still gets
/// every answer.
actor LineTransport: Transport {
    nonisolated let logger = Logger(label: "hindsight.mcp")
    private let messages: AsyncThrowingStream<Data, any Error>
    private let lines: AsyncThrowingStream<Data, any Error>.Continuation
    private let unanswered = Unanswered()

    /// Lines longer than this are dropped, as `serve` refuses them.
    static let maxLineBytes = 64 << 20

    init() {
        (messages, lines) = AsyncThrowingStream.makeStream()
    }

    func connect() async throws {
        // A client that has gone away is a write error, not a signal that ends the process.
        signal(SIGPIPE, SIG_IGN)
        let (lines, unanswered) = (self.lines, self.unanswered)
        Thread.detachNewThread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                // Only the bytes just read can hold the next newline.
                var scanned = pending.count
                pending += buffer[0..<count]
                var start = 0
                while let newline = pending[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                    if newline > start {
                        let line = Data(pending[start..<newline])
                        if Self.isRequest(line) { unanswered.add(1) }
                        lines.yield(line)
                    }
                    start = newline + 1
                    scanned = start
                }
                pending.removeFirst(start)
                if pending.count > Self.maxLineBytes { pending.removeAll() }
            }
            unanswered.waitForNone(seconds: 60)
            lines.finish()
        }
    }

    func disconnect() async {
        lines.finish()
    }

    func send(_ message: Data) async throws {
        try FileHandle.standardOutput.write(contentsOf: message + [UInt8(ascii: "\n")])
        if Self.isResponse(message) { unanswered.add(-1) }
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// A request: a message with an `id` and a `method` (a notification has no `id`).
    private static func isRequest(_ line: Data) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { return false }
        return object["id"] != nil && object["method"] != nil
    }

    /// A response: a message with an `id` and no `method`. The server sends no requests and
    /// only short notifications, so a long message is an answer (and is not parsed again).
    private static func isResponse(_ message: Data) -> Bool {
        guard message.count < 4096 else { return true }
        guard let object = try? JSONSerialization.jsonObject(with: message) as? [String: Any] else { return false }
        return object["id"] != nil && object["method"] == nil
    }

    /// How many requests read are still to be answered.
    private final class Unanswered: @unchecked Sendable {
        private var count = 0
        private let condition = NSCondition()

        func add(_ delta: Int) {
            condition.withLock {
                count += delta
                condition.broadcast()
            }
        }

        func waitForNone(seconds: Double) {
            let deadline = Date(timeIntervalSinceNow: seconds)
            condition.withLock {
                while count > 0, condition.wait(until: deadline) {}
            }
        }
    }
}
