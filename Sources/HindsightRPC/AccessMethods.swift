import HindsightAccess
import HindsightLog
import HindsightProjections

/// The access read model's methods (QUERIES.md): `rbac.check` so far.
enum AccessMethods {
    static let all: [RPCMethod] = [check]

    static let check = RPCMethod(
        name: "rbac.check", params: "subject (usr_… or tok_…), permission (KIND:ACTION), resource (KIND/ID), at?",
        result: "allowed, grants: [{grant, role, scope}] that allow it (a team role shows as member:TEAM), position",
        summary: "Whether a user or token may do something to something, at a moment, and through which grants.", writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["subject", "permission", "resource", "at"])
        let subject = try p.required("subject", p.string("subject"))
        guard subject.hasPrefix("usr_") || subject.hasPrefix("tok_") else {
            throw RPCError.params("subject must be a user (usr_…) or a token (tok_…)", path: "/params/subject")
        }
        let text = try p.required("permission", p.string("permission"))
        guard let permission = Permission(text) else {
            throw RPCError.params("permission must be KIND:ACTION, such as project:deploy", path: "/params/permission")
        }
        let resource = try p.required("resource", p.string("resource"))
        guard let slash = resource.firstIndex(of: "/"), slash != resource.startIndex, resource.index(after: slash) != resource.endIndex else {
            throw RPCError.params("resource must be KIND/ID, such as project/prj_9", path: "/params/resource")
        }
        let models = try call.store.readModels()
        guard let db = models.database("access") else { throw RPCError(1009, "the access read model is not open", data: ["kind": "io_error"]) }
        let at = try p.at()
        let reader = try call.store.reader()
        let position: UInt64
        let when: AccessReadModel.When
        do throws(LogError) {
            position = try models.positions()["access"] ?? 0
            switch at {
            case .seq(let seq)?:
                let upTo = min(seq, position)
                when = .seq(upTo, occurredAt: try occurredAt(upTo, in: reader))
            case .time(let ms)?: when = .time(ms)
            case nil: when = .now
            }
        } catch {
            throw RPCError(error)
        }
        let reasons: Set<AccessReadModel.Reason>
        do throws(LogError) {
            reasons = try AccessReadModel.check(subject, permission, resource, at: when, in: db)
        } catch {
            throw RPCError(error)
        }
        let grants: [JSONValue] = reasons.sorted { $0.grant < $1.grant }.map { reason in
            ["grant": .string(reason.grant), "role": .string(reason.role), "scope": .string(reason.scope)]
        }
        let shown: UInt64 = if case .seq(let seq, _) = when { seq } else { position }
        return ["allowed": .bool(!reasons.isEmpty), "grants": .array(grants), "position": .integer(Int64(shown))]
    }

    /// The `occurredAt` of event `seq` (0 for seq 0, before every event).
    private static func occurredAt(_ seq: UInt64, in reader: LogReader) throws(LogError) -> Int64 {
        guard seq > 0 else { return Int64.min }
        var query = ReadQuery()
        query.from = seq
        query.to = seq
        var time = Int64.min
        do {
            try reader.read(query) { event in
                time = event.occurredAtMs
                return false
            }
        } catch let error as LogError {
            throw error
        } catch {
            throw LogError(.io, "cannot read the log: \(error)")
        }
        return time
    }
}
