import ArgumentParser
import Foundation
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightEvidence
import HindsightFiles
import HindsightLog
import HindsightLogWriter
import HindsightProjections
import HindsightRPC
import HindsightReadSide

struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print stored events as NDJSON, in seq order.")

    @OptionGroup var options: DataOptions
    @Option(help: "The first seq.") var from: UInt64 = 1
    @Option(help: "The last seq.") var to: UInt64?
    @Option(help: "Only this stream (KIND/ID).") var stream: String?
    @Option(name: .customLong("type"), help: "Only this event type (repeatable).") var types: [String] = []
    @Option(help: "Only this org.") var org: String?
    @Option(help: "Only events that occurred at or after this RFC 3339 time.") var since: String?
    @Option(help: "Only events that occurred at or before this RFC 3339 time.") var until: String?
    @Option(help: "At most this many events.") var limit: Int?
    @Flag(help: "Show each event as the newest version of its type, as read models see it (stored events are never rewritten).")
    var upcast = false
    @Flag(help: "Print the lines exactly as stored and hashed: personal data as its ciphertext.") var stored = false

    func validate() throws {
        for type in types where Catalog.standard.versions(of: type).isEmpty {
            throw ValidationError("\(type) is not a type in the event catalogue (EventSchemas/)")
        }
        if let to, from > to { throw ValidationError("--from must not be after --to") }
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
        if stored && upcast {
            throw ValidationError("--stored prints lines exactly as hashed, which --upcast would rewrite: give one of them")
        }
    }

    func run() throws {
        try reporting {
            var query = ReadQuery()
            query.from = from
            query.to = to ?? .max
            query.stream = stream
            query.types = types.isEmpty ? nil : Set(types)
            query.org = org
            query.limit = limit ?? .max
            for (text, keyPath) in [(since, \ReadQuery.occurredFrom), (until, \ReadQuery.occurredTo)] {
                guard let text else { continue }
                guard let ms = Timestamp.parse(rfc3339: text) else {
                    throw ValidationError(
                        "\(text) is not an RFC 3339 time such as 2026-03-01T09:30:00Z (a fraction of a second and an offset such as +02:00 may be given)"
                    )
                }
                query[keyPath: keyPath] = ms
            }
            if let since = query.occurredFrom, let until = query.occurredTo, since > until {
                throw ValidationError("--since must not be after --until")
            }
            let source = try EventSource(directory: options.directory)
            let reader = try source.reader()
            let output = BufferedOutput()
            try reader.read(query) { event in
                output.write(stored ? event.line : source.present(event, upcast: upcast).line)
                return true
            }
            output.flush()
        }
    }
}

/// Standard output in large writes.
final class BufferedOutput {
    private var buffer: [UInt8] = []

    func write(_ bytes: some Collection<UInt8>, newline: Bool = true) {
        buffer.append(contentsOf: bytes)
        if newline { buffer.append(UInt8(ascii: "\n")) }
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
