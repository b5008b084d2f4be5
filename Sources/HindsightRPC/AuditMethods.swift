import Foundation
import HindsightCatalog
public import HindsightCore
import HindsightLog
import HindsightProjections

/// The audit read model's methods (QUERIES.md): `audit.search`, `teams.activity`, and the
/// state of the read models.
enum AuditMethods {
    static let all: [RPCMethod] = [search, teamActivity, status, rebuild]

    static let search = RPCMethod(
        name: "audit.search",
        params: "actor?, org?, types?, typePrefix?, resource? (KIND/ID), from?, to? (RFC 3339 occurredAt), limit? (50, at most 1000), cursor?, at?",
        result: "records (events, newest first), nextCursor (null on the last page), position",
        summary: "Events by who did them, where, of what type, about what and when, newest first.", writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["actor", "org", "types", "typePrefix", "resource", "from", "to", "limit", "cursor", "at"])
        var search = AuditReadModel.Search()
        search.actor = try p.string("actor")
        search.org = try p.string("org")
        search.types = try p.eventTypes("types", in: call.store.catalog)
        if let prefix = try p.string("typePrefix") {
            guard call.store.catalog.types.contains(where: { $0.hasPrefix(prefix) }) else {
                throw RPCError.params("no type in the event catalogue begins with \(prefix)", path: "/params/typePrefix")
            }
            search.narrow(toTypesWithPrefix: prefix, among: call.store.catalog.types)
        }
        search.resource = try p.string("resource")
        (search.from, search.to) = try p.period()
        search.limit = Int(try p.integer("limit", in: 1...1000) ?? 50)
        return try answer(search, cursor: try p.cursor(), at: try p.at(), call: call)
    }

    static let teamActivity = RPCMethod(
        name: "teams.activity", params: "team, limit? (50, at most 1000), cursor?, at?",
        result: "records (the team's events, newest first), nextCursor, position",
        summary: "Everything that names the team, newest first.", writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["team", "limit", "cursor", "at"])
        var search = AuditReadModel.Search()
        search.resource = "team/" + (try p.required("team", p.string("team")))
        search.limit = Int(try p.integer("limit", in: 1...1000) ?? 50)
        return try answer(search, cursor: try p.cursor(), at: try p.at(), call: call)
    }

    static let status = RPCMethod(
        name: "projections.status", params: "", result: "readModels: [{name, position, lag}], position (the log's)",
        summary: "How far each read model has folded the log.", writes: false
    ) { call throws(RPCError) in
        try call.params.only([])
        let models = try call.store.readModels(caughtUp: false)
        let size = try call.store.reader().size
        let positions: [String: UInt64]
        do throws(LogError) {
            positions = try models.positions()
        } catch {
            throw RPCError(error)
        }
        let rebuilding = models.modelsBeingRebuilt
        let entries: [JSONValue] = positions.keys.sorted().map { name in
            ["name": .string(name), "position": .integer(Int64(positions[name]!)), "lag": .integer(Int64(size - min(size, positions[name]!))),
             "rebuilding": .bool(rebuilding.contains(name))]
        }
        return ["readModels": .array(entries), "position": .integer(Int64(size))]
    }

    static let rebuild = RPCMethod(
        name: "projections.rebuild", params: "name",
        result: "name, from (the seq of the snapshot it starts from; 0: the log's start), rebuilding (true while serve builds it in the background), position",
        summary: "Builds a read model again from the log beside the one in use, which keeps answering, and swaps it in.", writes: false
    ) { call throws(RPCError) in
        try call.params.only(["name"])
        let name = try call.params.required("name", call.params.string("name"))
        let models = try call.store.readModels()
        guard models.models.contains(where: { $0.name == name }) else {
            throw RPCError.params("there is no read model \(name); there are \(models.models.map(\.name).joined(separator: ", "))", path: "/params/name")
        }
        let store = call.store
        // In serve, the rebuild runs beside the requests, which the old model goes on answering.
        let inBackground = store.engine != nil
        let position: UInt64, from: UInt64
        do throws(LogError) {
            from = try models.rebuild(name, inBackground: inBackground) { () throws(LogError) in try LogReader(directory: store.directory) }
            position = try models.positions()[name] ?? 0
        } catch {
            throw RPCError(error)
        }
        return ["name": .string(name), "from": .integer(Int64(from)), "rebuilding": .bool(inBackground), "position": .integer(Int64(position))]
    }

    /// Runs a search against the caught-up audit model: a page of records revealed as readers
    /// see them, and the cursor of the next page (the seq below which it starts, so pages stay
    /// stable while events arrive).
    private static func answer(_ search: AuditReadModel.Search, cursor: UInt64?, at: Params.Position?, call: RPCCall) throws(RPCError) -> [String: JSONValue] {
        var search = search
        search.before = cursor
        let models = try call.store.readModels()
        let source = try call.store.source()
        guard let db = models.database("audit") else { throw RPCError(1009, "the audit read model is not open", data: ["kind": "io_error"]) }
        let position: UInt64
        do throws(LogError) {
            position = try models.positions()["audit"] ?? 0
        } catch {
            throw RPCError(error)
        }
        switch at {
        case .seq(let seq)?: search.upTo = min(seq, position)
        case .time(let ms)?: search.to = min(search.to ?? ms, ms)
        case nil: break
        }
        do throws(LogError) {
            let page = try AuditReadModel.search(search, in: db)
            var records: [JSONValue] = []
            for (_, line) in page.lines {
                let event = try StoredEvent(storedLine: line)
                records.append(.raw(Array(source.present(event, upcast: true).line)))
            }
            let next: JSONValue = page.more ? .string(String(page.lines.last!.seq)) : .null
            return ["records": .array(records), "nextCursor": next, "position": .integer(Int64(search.upTo ?? position))]
        } catch {
            throw RPCError(error)
        }
    }
}
