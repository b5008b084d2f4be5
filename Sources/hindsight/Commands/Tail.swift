import ArgumentParser
import Foundation
import HindsightCatalog
import HindsightCore
import HindsightLog
import HindsightReadSide

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events as they are appended, by any process, until interrupted: NDJSON as readers see them.",
        discussion: """
            Starts after the last event (or at --from SEQ, printing what is there first), and prints each event as soon as \
            its batch is acknowledged, in seq order, none missed or repeated: a tail restarted with --from the next seq \
            goes on where the last one stopped.
            """)

    @OptionGroup var options: DataOptions
    @Option(help: "The first seq to print (default: the next one appended).") var from: UInt64?
    @Option(help: "Only this stream (KIND/ID).") var stream: String?
    @Option(name: .customLong("type"), help: "Only this event type (repeatable).") var types: [String] = []
    @Option(help: "Only this org.") var org: String?
    @Flag(help: "Show each event as the newest version of its type.") var upcast = false

    /// How often the log's HEAD is looked at for new events (seconds).
    static let poll = 0.02

    func validate() throws {
        for type in types where Catalog.standard.versions(of: type).isEmpty {
            throw ValidationError("\(type) is not a type in the event catalogue (EventSchemas/)")
        }
        if from == 0 { throw ValidationError("--from must be a seq, from 1") }
    }

    func run() throws {
        try reporting {
            let source = try EventSource(directory: options.directory)
            var next = try from ?? source.reader().size + 1
            var seen: Data?
            while true {
                // A new reader only once HEAD has changed: an append acknowledges by writing its
                // new tree head there (size and root: unlike the file's inode and time, never
                // the same for two sizes).
                let head = FileManager.default.contents(atPath: options.directory + "/HEAD")
                if head != seen {
                    seen = head
                    let reader = try source.reader()
                    if reader.size >= next {
                        var query = ReadQuery()
                        (query.from, query.to) = (next, reader.size)
                        query.stream = stream
                        query.types = types.isEmpty ? nil : Set(types)
                        query.org = org
                        let output = BufferedOutput()
                        try reader.read(query) { event in
                            output.write(source.present(event, upcast: upcast).line)
                            return true
                        }
                        output.flush()
                        next = reader.size + 1
                    }
                }
                Thread.sleep(forTimeInterval: Self.poll)
            }
        }
    }
}
