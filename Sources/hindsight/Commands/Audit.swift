import ArgumentParser
import HindsightCore
import HindsightQuery

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search the audit trail: events by who did them, where, of what type, about what and when, newest first (audit.search).",
        discussion: "Prints a page (--limit) and, when there is more, the --cursor that shows the next one.")

    @OptionGroup var options: DataOptions
    @Option(help: "Only events by this actor (its id: usr_…, tok_…, a system's name).") var actor: String?
    @Option(help: "Only events of this org.") var org: String?
    @Option(name: .customLong("type"), help: "Only events of this type (repeatable).") var types: [String] = []
    @Option(help: "Only events whose type begins so (build.).") var typePrefix: String?
    @Option(help: "Only events that name this entity (KIND/ID), as their stream or in their data.") var resource: String?
    @Option(help: "Only events that carry this correlationId: one change followed across the events it caused.")
    var correlationId: String?
    @Option(help: "Only events that occurred then or later: an RFC 3339 time or a date.") var from: String?
    @Option(help: "Only events that occurred then or earlier: an RFC 3339 time or a date (the whole day).") var to: String?
    @Option(help: "Events per page, 1 to 1000.") var limit = 50
    @Option(help: "The next page: the cursor the previous page printed.") var cursor: String?
    @Option(help: "A seq, an RFC 3339 time or a date: the trail as of then.") var at: String?
    @OptionGroup var output: JSONOption

    func run() throws {
        let start = try MomentOption.time(from, option: "from", dayEnds: false)
        let end = try MomentOption.time(to, option: "to")
        let moment = try MomentOption.position(at, option: "at")
        let page = try options.ask(
            Search.self,
            [
                "actor": textParameter(actor), "org": textParameter(org),
                "types": types.isEmpty ? nil : JSONValue.array(types.map { JSONValue.string($0) }),
                "typePrefix": textParameter(typePrefix),
                "resource": textParameter(resource), "correlationId": textParameter(correlationId), "from": start,
                "to": end, "limit": .integer(Int64(limit)), "cursor": textParameter(cursor),
                "at": moment,
            ])
        if output.json { return printAnswer(page) }
        guard !page.records.isEmpty else { return print("no event matches (as of seq \(page.position ?? 0))") }
        print(
            FigureTable(columns: ["seq", "occurred", "type", "actor", "org", "stream"]).render(
                page.records.map {
                    [String($0.seq), Timestamp.format($0.occurredAtMs), $0.type, $0.actorKind + " " + $0.actorID, $0.org, $0.stream]
                }), terminator: "")
        if let next = page.nextCursor { print("more: --cursor \(next)") }
    }
}
