#if canImport(Glibc)
    import Glibc
#endif

/// Runs a server over two file descriptors, one JSON text per line each way (NDJSON framing,
/// QUERIES.md). A line too long to be a request is answered with an error and skipped; a
/// last line without its newline is still answered; when the reader of the output goes away,
/// the loop ends quietly.
public enum LineServer {
    /// Lines longer than this are refused without being read into memory.
    public static let maxLineBytes = 64 << 20

    /// Serves until the input ends (returns true) or the output is closed (returns false).
    public static func run(_ server: RPCServer, input: Int32 = 0, output: Int32 = 1) -> Bool {
        signal(SIGPIPE, SIG_IGN)  // a closed output is a write error to handle, not a signal that kills
        var pending: [UInt8] = []
        var skipping = false  // inside a line that is too long
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if !skipping && !pending.isEmpty { return answer(pending, server, output) }
                return true
            }
            var start = 0
            for index in 0..<n where chunk[index] == UInt8(ascii: "\n") {
                if skipping {
                    skipping = false
                } else {
                    pending += chunk[start..<index]
                    if !answer(pending, server, output) { return false }
                }
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            if !skipping { pending += chunk[start..<n] }
            if pending.count > maxLineBytes {
                pending.removeAll()
                skipping = true
                let error = RPCServer.error(
                    RPCError(RPCError.invalidRequest, "invalid request: a line longer than \(maxLineBytes >> 20) MiB"), id: .null)
                if !write(error, to: output) { return false }
            }
        }
    }

    private static func answer(_ line: [UInt8], _ server: RPCServer, _ output: Int32) -> Bool {
        let text = line.last == UInt8(ascii: "\r") ? Array(line.dropLast()) : line
        if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return true }  // blank lines are not requests
        if let response = server.respond(to: text), !write(response, to: output) { return false }
        return server.notifications { write($0, to: output) }
    }

    private static func write(_ response: [UInt8], to output: Int32) -> Bool {
        let line = response + [UInt8(ascii: "\n")]
        var offset = 0
        while offset < line.count {
            let n = line.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }
}
