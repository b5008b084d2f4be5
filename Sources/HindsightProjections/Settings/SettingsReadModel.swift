public import HindsightCore

/// Project settings, as an auditor reviews them (`settings.env`, `settings.domains`,
/// `settings.builds`): each environment variable's settings (by project, key and target:
/// secret or not, the value's fingerprint, who set it and when, never a value), each domain
/// with its verification, kept by seq and time so that any past moment can be asked about,
/// and every change of a project's build settings.
///
/// A variable set again replaces the setting before it from that moment; a domain added
/// again starts over unverified. Removing what is not there changes nothing.
public final class SettingsReadModel: ReadModel {
    public let name = "settings"
    public let version = 2
    public let types: Set<String>? = [
        "env_var.set", "env_var.removed", "domain.added", "domain.verified", "domain.removed", "build_settings.changed",
    ]

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE inventory_env_var (project TEXT NOT NULL, key TEXT NOT NULL, target TEXT NOT NULL,
                                            from_seq INTEGER NOT NULL, from_time INTEGER NOT NULL, to_seq INTEGER, to_time INTEGER,
                                            secret INTEGER NOT NULL, fingerprint TEXT NOT NULL, set_by TEXT NOT NULL, set_by_kind TEXT NOT NULL,
                                            PRIMARY KEY (project, key, target, from_seq)) WITHOUT ROWID;
            CREATE TABLE inventory_domain (domain TEXT NOT NULL, from_seq INTEGER NOT NULL, from_time INTEGER NOT NULL,
                                           to_seq INTEGER, to_time INTEGER, project TEXT NOT NULL,
                                           PRIMARY KEY (domain, from_seq)) WITHOUT ROWID;
            CREATE INDEX inventory_domain_by_project ON inventory_domain (project, domain);
            CREATE TABLE inventory_domain_verification (domain TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
                                                        method TEXT NOT NULL, PRIMARY KEY (domain, seq)) WITHOUT ROWID;
            CREATE TABLE inventory_build_settings (project TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
                                                   changed_by TEXT NOT NULL, changed_by_kind TEXT NOT NULL, changes TEXT NOT NULL,
                                                   PRIMARY KEY (project, seq)) WITHOUT ROWID;
            """)
    }

    public func apply(_ events: [ProjectedEvent], in db: SQLiteDatabase) throws(LogError) {
        for event in events {
            let stored = event.stored
            let data = StoredLine.DataFields(stored.line)
            let (seq, time) = (Int64(stored.seq), stored.occurredAtMs)
            switch stored.type {
            case "env_var.set", "env_var.removed":
                guard let project = data["project"], let key = data["key"], let target = data["target"] else { continue }
                try db.statement(
                    "UPDATE inventory_env_var SET to_seq = ?, to_time = ? WHERE project = ? AND key = ? AND target = ? AND to_seq IS NULL"
                ).bind(1, seq).bind(2, time).bind(3, project).bind(4, key).bind(5, target).run()
                guard stored.type == "env_var.set" else { continue }
                try db.statement("INSERT INTO inventory_env_var VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)")
                    .bind(1, project).bind(2, key).bind(3, target).bind(4, seq).bind(5, time).bind(
                        6, Int64(data.bool("secret") == true ? 1 : 0)
                    )
                    .bind(7, data["valueFingerprint"] ?? "").bind(8, stored.actorID).bind(9, stored.actorKind).run()
            case "domain.added", "domain.removed":
                guard let domain = data["domain"] else { continue }
                try db.statement("UPDATE inventory_domain SET to_seq = ?, to_time = ? WHERE domain = ? AND to_seq IS NULL")
                    .bind(1, seq).bind(2, time).bind(3, domain).run()
                guard stored.type == "domain.added" else { continue }
                try db.statement("INSERT INTO inventory_domain VALUES (?, ?, ?, NULL, NULL, ?)").bind(1, domain).bind(2, seq).bind(3, time)
                    .bind(4, data["project"] ?? "").run()
            case "domain.verified":
                guard let domain = data["domain"] else { continue }
                let present = try db.statement("SELECT 1 FROM inventory_domain WHERE domain = ? AND to_seq IS NULL").bind(1, domain)
                let exists = try present.step()
                present.finish()
                guard exists else { continue }
                try db.statement("INSERT OR REPLACE INTO inventory_domain_verification VALUES (?, ?, ?, ?)").bind(1, domain).bind(2, seq)
                    .bind(3, time).bind(4, data["method"] ?? "").run()
            case "build_settings.changed":
                guard let project = data["project"], let changes = data.text("changes") else { continue }
                try db.statement("INSERT INTO inventory_build_settings VALUES (?, ?, ?, ?, ?, ?)").bind(1, project).bind(2, seq)
                    .bind(3, time).bind(4, stored.actorID).bind(5, stored.actorKind).bind(6, String(decoding: changes, as: UTF8.self)).run()
            default:
                continue
            }
        }
    }

    // MARK: - Questions

    /// An environment variable's setting at a moment.
    public struct Variable: Sendable {
        public let key: String
        public let target: String
        public let secret: Bool
        public let valueFingerprint: String
        public let setBy: String
        public let setByKind: String
        public let setAt: Int64
        public let setSeq: Int64
    }

    /// The variables of `project` (of `target`, if given) set at the moment, by key and target.
    public static func variables(of project: String, target: String?, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [Variable] {
        let (bySeq, moment) = (when.bounds.bySeq, when.bounds.value)
        let (from, to) = bySeq ? ("from_seq", "to_seq") : ("from_time", "to_time")
        let rows = try db.statement(
            """
            SELECT key, target, secret, fingerprint, set_by, set_by_kind, from_time, from_seq FROM inventory_env_var
            WHERE project = ?1 AND (?2 IS NULL OR target = ?2) AND \(from) <= ?3 AND (\(to) IS NULL OR \(to) > ?3)
            ORDER BY key, target
            """
        ).bind(1, project).bind(2, target).bind(3, moment)
        defer { rows.finish() }
        var variables: [Variable] = []
        while try rows.step() {
            variables.append(
                Variable(
                    key: rows.text(0) ?? "", target: rows.text(1) ?? "", secret: rows.int(2) != 0, valueFingerprint: rows.text(3) ?? "",
                    setBy: rows.text(4) ?? "", setByKind: rows.text(5) ?? "", setAt: rows.int(6), setSeq: rows.int(7)))
        }
        return variables
    }

    /// A domain at a moment.
    public struct Domain: Sendable {
        public let domain: String
        public let project: String
        public let addedAt: Int64
        /// The last verification of this addition by the moment, if any.
        public let method: String?
        public let verifiedAt: Int64?

        public var verified: Bool { verifiedAt != nil }
    }

    /// The domains (of `project`, if given) present at the moment, by name.
    public static func domains(project: String?, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [Domain] {
        let (bySeq, moment) = (when.bounds.bySeq, when.bounds.value)
        let (from, to, at) = bySeq ? ("from_seq", "to_seq", "seq") : ("from_time", "to_time", "time")
        // The verifications by the moment, read in one pass.
        let verified = try db.statement(
            """
            SELECT domain, seq, time, method FROM inventory_domain_verification
            WHERE \(at) <= ?1 AND \(project == nil ? "?2 IS NULL" : "domain IN (SELECT domain FROM inventory_domain WHERE project = ?2)")
            """
        ).bind(1, moment).bind(2, project)
        var verifications: [String: [(seq: Int64, time: Int64, method: String)]] = [:]
        while try verified.step() {
            verifications[verified.text(0) ?? "", default: []].append((verified.int(1), verified.int(2), verified.text(3) ?? ""))
        }
        verified.finish()
        let rows = try db.statement(
            """
            SELECT domain, project, from_time, from_seq, to_seq FROM inventory_domain
            WHERE \(project == nil ? "?2 IS NULL" : "project = ?2") AND \(from) <= ?1 AND (\(to) IS NULL OR \(to) > ?1)
            ORDER BY domain
            """
        ).bind(1, moment).bind(2, project)
        defer { rows.finish() }
        var domains: [Domain] = []
        while try rows.step() {
            let domain = rows.text(0) ?? ""
            let (added, ended) = (rows.int(3), rows.isNull(4) ? Int64.max : rows.int(4))
            // The last verification of this addition by the moment, in log order.
            let last = verifications[domain]?.filter { added < $0.seq && $0.seq < ended }.max { $0.seq < $1.seq }
            domains.append(
                Domain(domain: domain, project: rows.text(1) ?? "", addedAt: rows.int(2), method: last?.method, verifiedAt: last?.time))
        }
        return domains
    }

    /// A change of a project's build settings.
    public struct BuildSettingsChange: Sendable {
        public let seq: Int64
        public let changedAt: Int64
        public let changedBy: String
        public let changedByKind: String
        /// The changed fields as JSON, as the event gave them: `{field: {from, to}}`.
        public let changes: String
    }

    /// The changes of `project`'s build settings by the moment (and within `from`…`to`, by
    /// occurredAt, if given), oldest first.
    public static func buildSettingsChanges(
        of project: String, from: Int64? = nil, to: Int64? = nil, at when: AsOf, in db: SQLiteDatabase
    ) throws(LogError) -> [BuildSettingsChange] {
        let moment = when.bounds
        let rows = try db.statement(
            """
            SELECT seq, time, changed_by, changed_by_kind, changes FROM inventory_build_settings
            WHERE project = ?1 AND \(moment.at) <= ?2 AND time >= ?3 AND time <= ?4 ORDER BY seq
            """
        ).bind(1, project).bind(2, moment.value).bind(3, from ?? .min).bind(4, to ?? .max)
        defer { rows.finish() }
        var changes: [BuildSettingsChange] = []
        while try rows.step() {
            changes.append(
                BuildSettingsChange(
                    seq: rows.int(0), changedAt: rows.int(1), changedBy: rows.text(2) ?? "", changedByKind: rows.text(3) ?? "",
                    changes: rows.text(4) ?? "{}"))
        }
        return changes
    }
}
