import HindsightAccess
import HindsightEvidence
public import HindsightCore
import HindsightLog
import HindsightProjections

/// The access read model's methods (QUERIES.md): `rbac.check`, `rbac.whoCan`, `rbac.whatCan`,
/// `rbac.changes` and `export.accessReview`.
enum AccessMethods {
    static let all: [RPCMethod] = [check, whoCan, whatCan, changes, accessReview]

    static let check = RPCMethod(
        name: "rbac.check", params: "subject (usr_… or tok_…), permission (KIND:ACTION), resource (KIND/ID), at?",
        result: "allowed, grants: [{grant, role, scope}] that allow it (a team role shows as member:TEAM); when denied, wouldHave: [{grant, role, scope, why, since}] that would have allowed it but expired, were revoked, or lie outside the token's scopes; position",
        summary: "Whether a user or token may do something to something, at a moment, and through which grants.", writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["subject", "permission", "resource", "at"])
        let subject = try p.required("subject", p.string("subject"))
        guard subject.hasPrefix("usr_") || subject.hasPrefix("tok_") else {
            throw RPCError.params("subject must be a user (usr_…) or a token (tok_…)", path: "/params/subject")
        }
        let question = try Question(call)
        let reasons: Set<AccessReadModel.Reason>
        var misses: Set<AccessReadModel.Miss> = []
        do throws(LogError) {
            reasons = try AccessReadModel.check(subject, question.permission, question.resource, at: question.when, in: question.db)
            if reasons.isEmpty {
                misses = try AccessReadModel.explainDenial(subject, question.permission, question.resource, at: question.when, in: question.db)
            }
        } catch {
            throw RPCError(error)
        }
        var result: [String: JSONValue] = [
            "allowed": .bool(!reasons.isEmpty), "grants": .array(reasons.sorted { $0.grant < $1.grant }.map(described)),
            "position": .integer(Int64(question.position)),
        ]
        if reasons.isEmpty {
            result["wouldHave"] = .array(misses.sorted { ($0.grant, $0.why) < ($1.grant, $1.why) }.map { miss in
                ["grant": .string(miss.grant), "role": .string(miss.role), "scope": .string(miss.scope), "why": .string(miss.why),
                 "since": miss.since.map { .string(Timestamp.format($0)) } ?? .null]
            })
        }
        return result
    }

    static let whoCan = RPCMethod(
        name: "rbac.whoCan", params: "permission (KIND:ACTION), resource (KIND/ID), at?",
        result: "subjects: [{subject, grant, role, scope}], one per subject and grant (or team role) that allows it, position",
        summary: "Every user and token that may do something to something, at a moment, and through which grants.", writes: false
    ) { call throws(RPCError) in
        try call.params.only(["permission", "resource", "at"])
        let question = try Question(call)
        let holders: [String: Set<AccessReadModel.Reason>]
        do throws(LogError) {
            holders = try AccessReadModel.whoCan(question.permission, question.resource, at: question.when, in: question.db)
        } catch {
            throw RPCError(error)
        }
        var subjects: [JSONValue] = []
        for subject in holders.keys.sorted() {
            for reason in holders[subject]!.sorted(by: { $0.grant < $1.grant }) {
                subjects.append(["subject": .string(subject), "grant": .string(reason.grant), "role": .string(reason.role), "scope": .string(reason.scope)])
            }
        }
        return ["subjects": .array(subjects), "position": .integer(Int64(question.position))]
    }

    static let whatCan = RPCMethod(
        name: "rbac.whatCan", params: "subject (usr_… or tok_…), at?",
        result: "grants: [{grant, role, scope, permissions, expiresAt}] in force (a token's narrowed to its scopes), position",
        summary: "Everything a user or token may do, grant by grant, at a moment.", writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["subject", "at"])
        let subject = try p.required("subject", p.string("subject"))
        guard subject.hasPrefix("usr_") || subject.hasPrefix("tok_") else {
            throw RPCError.params("subject must be a user (usr_…) or a token (tok_…)", path: "/params/subject")
        }
        let moment = try Moment(call)
        let holdings: [AccessReadModel.Holding]
        do throws(LogError) {
            holdings = try AccessReadModel.whatCan(subject, at: moment.when, in: moment.db)
        } catch {
            throw RPCError(error)
        }
        let grants: [JSONValue] = holdings.map { holding in
            ["grant": .string(holding.grant), "role": .string(holding.role), "scope": .string(holding.scope),
             "permissions": .array(holding.permissions.map { .string($0.description) }),
             "expiresAt": holding.expiresAt.map { .string(Timestamp.format($0)) } ?? .null]
        }
        return ["grants": .array(grants), "position": .integer(Int64(moment.position))]
    }

    static let changes = RPCMethod(
        name: "rbac.changes", params: "from, to (RFC 3339), scope? (KIND/ID: grants and memberships on it or beneath it, as the tree stands now)",
        result: "changes: [{change, what, seq (null for an expiry), at, …}] in time order: granted, revoked, expired, joined, role changed, left, defined, redefined, deleted, created; position",
        summary: "Every gain and loss of access in a period, expiries included, with the event that caused it.", writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["from", "to", "scope"])
        let (from, to) = try p.requiredPeriod()
        let scope = try p.string("scope")
        let models = try call.store.readModels()
        guard let db = models.database("access") else { throw RPCError(1009, "the access read model is not open", data: ["kind": "io_error"]) }
        let found: [AccessReadModel.Change]
        let position: UInt64
        do throws(LogError) {
            found = try AccessReadModel.changes(from: from, to: to, scope: scope, in: db)
            position = try models.positions()["access"] ?? 0
        } catch {
            throw RPCError(error)
        }
        let entries: [JSONValue] = found.map { change in
            var entry: [String: JSONValue] = [
                "change": .string(change.change), "what": .string(change.subject), "at": .string(Timestamp.format(change.at)),
                "seq": change.seq.map { .integer(Int64($0)) } ?? .null,
            ]
            for (key, value) in change.detail { entry[key] = .string(value) }
            return .object(entry)
        }
        return ["changes": .array(entries), "position": .integer(Int64(position))]
    }

    static let accessReview = RPCMethod(
        name: "export.accessReview",
        params: "org, at?, since? (RFC 3339: also the changes since then), format (csv | jsonl), path (a new directory beneath the exports directory serve was started with, or relative to it)",
        result: "files: [{file, rows}] (access-review.FORMAT, and changes.FORMAT with since), chainHead, path, position: a bundle with a signed checkpoint and manifest (docs/export-format.md)",
        summary: "Who holds which role on what in an org at a moment, with grant, granted at and by, expiry and how it is held.",
        writes: false
    ) { call throws(RPCError) in
        let p = call.params
        try p.only(["org", "at", "since", "format", "path"])
        let org = try p.required("org", p.string("org"))
        let format = try p.required("format", p.string("format"))
        guard format == "csv" || format == "jsonl" else { throw RPCError.params("format must be csv or jsonl", path: "/params/format") }
        let destination = try call.store.exportDestination(try p.required("path", p.string("path")))
        let since = try p.time("since")
        let moment = try Moment(call)
        // The changes run from `since` to the review's moment (before any event, for seq 0).
        let until: Int64 = switch moment.when {
        case .seq(_, let occurredAt): occurredAt
        case .time(let ms): ms
        case .now: Timestamp.now()
        }
        if let since, since > until {
            throw RPCError.params("since must not be after the moment of the review (at, or now)", path: "/params/since")
        }
        let rows: [AccessReadModel.ReviewRow]
        var changes: [AccessReadModel.Change] = []
        do throws(LogError) {
            rows = try AccessReadModel.accessReview(org: org.hasPrefix("org/") ? String(org.dropFirst(4)) : org, at: moment.when, in: moment.db)
            if let since {
                changes = try AccessReadModel.changes(from: since, to: until, scope: org.hasPrefix("org/") ? org : "org/" + org, in: moment.db)
            }
        } catch {
            throw RPCError(error)
        }
        let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "" }
        let review = Table(
            columns: ["subject", "role", "scope", "grant", "grantedAt", "grantedBy", "expiresAt", "heldAs"],
            rows: rows.map { [$0.subject, $0.role, $0.scope, $0.grant, time($0.grantedAt), $0.grantedBy ?? "", time($0.expiresAt), $0.heldAs] })
        var files = [AccessReviewExport.File(name: "access-review." + format, bytes: review.encoded(as: format), rows: rows.count)]
        if since != nil {
            let table = Table(
                columns: ["at", "seq", "change", "what", "subject", "role", "scope"],
                rows: changes.map { change in
                    [time(change.at), change.seq.map(String.init) ?? "", change.change, change.subject,
                     change.detail["subject"] ?? change.detail["user"] ?? change.detail["owner"] ?? "", change.detail["role"] ?? "",
                     change.detail["scope"] ?? ""]
                })
            files.append(AccessReviewExport.File(name: "changes." + format, bytes: table.encoded(as: format), rows: changes.count))
        }
        let reader = try call.store.reader()
        let manifest: AccessReviewManifest
        do throws(LogError) {
            manifest = try AccessReviewExport.write(
                files, query: .init(method: "export.accessReview", org: org, at: p.values["at"].flatMap(Self.momentText), since: since.map(Timestamp.format), format: format),
                position: moment.position, reader: reader, key: try SigningKey(path: call.store.signingKey),
                checkpoints: CheckpointStore(dataDirectory: call.store.directory), to: destination)
        } catch {
            throw RPCError(error)
        }
        return [
            "files": .array(files.map { ["file": .string($0.name), "rows": .integer(Int64($0.rows))] }),
            "chainHead": ["size": .integer(Int64(manifest.chainHead.size)), "root": .string(manifest.chainHead.root)],
            "path": .string(destination.path), "position": .integer(Int64(moment.position)),
        ]
    }

    /// `at` as the manifest records it: a seq or a time, as given.
    private static func momentText(_ value: JSONValue) -> String? {
        switch value {
        case .integer(let seq): String(seq)
        case .string(let text): text
        default: nil
        }
    }

    /// Rows of text under named columns, written as CSV (RFC 4180: a header line, fields
    /// quoted when they hold a comma, a quote or a line break) or as JSON lines (one object
    /// per row, an empty field left out).
    private struct Table {
        let columns: [String]
        let rows: [[String]]

        func encoded(as format: String) -> [UInt8] {
            var out = ""
            if format == "csv" {
                let field = { (text: String) in
                    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                        ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
                }
                out += columns.joined(separator: ",") + "\r\n"
                for row in rows { out += row.map(field).joined(separator: ",") + "\r\n" }
            } else {
                for row in rows {
                    var object: [String: JSONValue] = [:]
                    for (column, value) in zip(columns, row) where !value.isEmpty { object[column] = .string(value) }
                    out += String(decoding: JSONValue.object(object).text, as: UTF8.self) + "\n"
                }
            }
            return Array(out.utf8)
        }
    }

    private static func described(_ reason: AccessReadModel.Reason) -> JSONValue {
        ["grant": .string(reason.grant), "role": .string(reason.role), "scope": .string(reason.scope)]
    }

    /// The moment an access question is about, with the caught-up access model to answer it
    /// and the position the answer reflects.
    private struct Moment {
        let when: AccessReadModel.When
        let db: SQLiteDatabase
        let position: UInt64

        init(_ call: RPCCall) throws(RPCError) {
            let at = try call.params.at()
            let models = try call.store.readModels()
            guard let db = models.database("access") else { throw RPCError(1009, "the access read model is not open", data: ["kind": "io_error"]) }
            let reader = try call.store.reader()
            do throws(LogError) {
                let reached = try models.positions()["access"] ?? 0
                switch at {
                case .seq(let seq)?:
                    let upTo = min(seq, reached)
                    when = .seq(upTo, occurredAt: try reader.occurredAt(upTo))
                    position = upTo
                case .time(let ms)?:
                    when = .time(ms)
                    position = reached
                case nil:
                    when = .now
                    position = reached
                }
            } catch {
                throw RPCError(error)
            }
            self.db = db
        }
    }

    /// What a question about a permission on a resource takes, at a moment.
    private struct Question {
        let permission: Permission
        let resource: String
        let moment: Moment
        var when: AccessReadModel.When { moment.when }
        var db: SQLiteDatabase { moment.db }
        var position: UInt64 { moment.position }

        init(_ call: RPCCall) throws(RPCError) {
            let p = call.params
            let text = try p.required("permission", p.string("permission"))
            guard let permission = Permission(text) else {
                throw RPCError.params("permission must be KIND:ACTION, such as project:deploy", path: "/params/permission")
            }
            let resource = try p.required("resource", p.string("resource"))
            guard let slash = resource.firstIndex(of: "/"), slash != resource.startIndex, resource.index(after: slash) != resource.endIndex else {
                throw RPCError.params("resource must be KIND/ID, such as project/prj_9", path: "/params/resource")
            }
            self.permission = permission
            self.resource = resource
            moment = try Moment(call)
        }
    }
}
