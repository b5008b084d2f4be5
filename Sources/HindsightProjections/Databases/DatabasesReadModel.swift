public import HindsightCore

/// Databases and their backups, as an auditor reviews them (`databases.list`, `backups.list`,
/// `backups.overdue`): each database's lifetime from its `database.provisioned` (project,
/// engine, plan, region) to its deprovisioning, its backup schedules, and every backup with how
/// it ended and its restores, kept by seq and time so that any past moment can be asked about.
///
/// A database provisioned again under an id already used starts a new lifetime with no
/// schedule of its own, as a replay takes it; its backups are those of the id, whichever
/// lifetime they ran in. A backup is keyed by its id: the first of `backup.started`,
/// `backup.completed` or `backup.failed` makes it, and only the first ending counts.
public final class DatabasesReadModel: ReadModel {
    public let name = "databases"
    public let version = 1
    public let types: Set<String>? = [
        "database.provisioned", "database.deprovisioned", "backup.schedule_set", "backup.started", "backup.completed",
        "backup.failed", "backup.restored",
    ]

    public init() {}

    public func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute(
            """
            CREATE TABLE inventory_database (database TEXT NOT NULL, from_seq INTEGER NOT NULL, from_time INTEGER NOT NULL,
                                             to_seq INTEGER, to_time INTEGER, project TEXT NOT NULL, org TEXT NOT NULL,
                                             engine TEXT NOT NULL, plan TEXT NOT NULL, region TEXT NOT NULL,
                                             deprovisioned_seq INTEGER, deprovisioned_time INTEGER,
                                             PRIMARY KEY (database, from_seq)) WITHOUT ROWID;
            CREATE INDEX inventory_database_by_project ON inventory_database (project, database);
            CREATE TABLE inventory_backup_schedule (database TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
                                                    every_hours INTEGER NOT NULL, retention_days INTEGER NOT NULL,
                                                    PRIMARY KEY (database, seq)) WITHOUT ROWID;
            CREATE TABLE inventory_backup (backup TEXT PRIMARY KEY, database TEXT NOT NULL, first_seq INTEGER NOT NULL,
                                           started_seq INTEGER, started_time INTEGER, ended_seq INTEGER, ended_time INTEGER,
                                           status TEXT, bytes INTEGER, sha256 TEXT, reason TEXT) WITHOUT ROWID;
            CREATE INDEX inventory_backup_by_database ON inventory_backup (database, first_seq);
            CREATE TABLE inventory_restore (backup TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL, target TEXT NOT NULL,
                                            PRIMARY KEY (backup, seq)) WITHOUT ROWID;
            """)
    }

    public func apply(_ events: [ProjectedEvent], in db: SQLiteDatabase) throws(LogError) {
        for event in events {
            let stored = event.stored
            let data = StoredLine.DataFields(stored.line)
            guard let database = data["database"] else { continue }
            let (seq, time) = (Int64(stored.seq), stored.occurredAtMs)
            switch stored.type {
            case "database.provisioned":
                try db.statement("UPDATE inventory_database SET to_seq = ?, to_time = ? WHERE database = ? AND to_seq IS NULL")
                    .bind(1, seq).bind(2, time).bind(3, database).run()
                try db.statement("INSERT INTO inventory_database VALUES (?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, NULL, NULL)")
                    .bind(1, database).bind(2, seq).bind(3, time).bind(4, data["project"] ?? "").bind(5, stored.org)
                    .bind(6, data["engine"] ?? "").bind(7, data["plan"] ?? "").bind(8, data["region"] ?? "").run()
            case "database.deprovisioned":
                try db.statement(
                    "UPDATE inventory_database SET deprovisioned_seq = ?, deprovisioned_time = ? WHERE database = ? AND to_seq IS NULL AND deprovisioned_seq IS NULL"
                ).bind(1, seq).bind(2, time).bind(3, database).run()
            case "backup.schedule_set":
                let known = try db.statement("SELECT 1 FROM inventory_database WHERE database = ?").bind(1, database)
                let exists = try known.step()
                known.finish()
                guard exists else { continue }
                try db.statement("INSERT INTO inventory_backup_schedule VALUES (?, ?, ?, ?, ?)").bind(1, database).bind(2, seq)
                    .bind(3, time).bind(4, data.integer("everyHours") ?? 0).bind(5, data.integer("retentionDays") ?? 0).run()
            case "backup.started":
                guard let backup = data["backup"] else { continue }
                try db.statement("INSERT OR IGNORE INTO inventory_backup VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL)")
                    .bind(1, backup).bind(2, database).bind(3, seq).bind(4, seq).bind(5, time).run()
            case "backup.completed", "backup.failed":
                guard let backup = data["backup"] else { continue }
                let completed = stored.type == "backup.completed"
                try db.statement("INSERT OR IGNORE INTO inventory_backup VALUES (?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
                    .bind(1, backup).bind(2, database).bind(3, seq).run()
                try db.statement(
                    """
                    UPDATE inventory_backup SET ended_seq = ?, ended_time = ?, status = ?, bytes = ?, sha256 = ?, reason = ?
                    WHERE backup = ? AND ended_seq IS NULL
                    """
                ).bind(1, seq).bind(2, time).bind(3, completed ? "completed" : "failed")
                    .bind(4, completed ? data.integer("bytes") : nil).bind(5, completed ? data["sha256"] : nil)
                    .bind(6, completed ? nil : data["reason"]).bind(7, backup).run()
            case "backup.restored":
                guard let backup = data["backup"] else { continue }
                let known = try db.statement("SELECT 1 FROM inventory_backup WHERE backup = ?").bind(1, backup)
                let exists = try known.step()
                known.finish()
                guard exists else { continue }
                try db.statement("INSERT OR REPLACE INTO inventory_restore VALUES (?, ?, ?, ?)").bind(1, backup).bind(2, seq)
                    .bind(3, time).bind(4, data["target"] ?? "").run()
            default:
                continue
            }
        }
    }

    // MARK: - Questions

    /// A database as it stands at a moment.
    public struct Database: Sendable {
        public let database: String
        public let project: String
        public let org: String
        public let engine: String
        public let plan: String
        public let region: String
        public let provisionedAt: Int64
        public let deprovisionedAt: Int64?
        /// The schedule in force, if one was set in this lifetime by the moment.
        public let everyHours: Int64?
        public let retentionDays: Int64?
        /// When the first schedule of this lifetime was set: where "never backed up" counts from.
        public let firstScheduledAt: Int64?
        public let lastStartedAt: Int64?
        public let lastCompletedAt: Int64?
        public let lastFailedAt: Int64?

        public var deprovisioned: Bool { deprovisionedAt != nil }
    }

    /// The databases (of `project`, if given) whose lifetime holds the moment, by id.
    public static func databases(project: String? = nil, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [Database] {
        let moment = when.bounds
        let (from, to, deprovisioned) = (moment.column("from"), moment.column("to"), moment.column("deprovisioned"))
        let (started, ended) = (moment.column("started"), moment.column("ended"))
        // The schedules and the backups' latest start, completion and failure by the moment, of
        // the databases asked about, each read in one pass: statements per database cost more
        // than the list itself.
        // A filter SQLite can seek on when a project is given (`?2 IS NULL OR …` would scan).
        let ofProject = project == nil ? "?2 IS NULL" : "database IN (SELECT database FROM inventory_database WHERE project = ?2)"
        let scheduled = try db.statement(
            """
            SELECT database, seq, time, every_hours, retention_days FROM inventory_backup_schedule
            WHERE \(moment.at) <= ?1 AND \(ofProject) ORDER BY database, seq
            """
        ).bind(1, moment.value).bind(2, project)
        var schedules: [String: [(seq: Int64, time: Int64, every: Int64, retention: Int64)]] = [:]
        while try scheduled.step() {
            schedules[scheduled.text(0) ?? "", default: []].append(
                (scheduled.int(1), scheduled.int(2), scheduled.int(3), scheduled.int(4)))
        }
        scheduled.finish()
        let backedUp = try db.statement(
            """
            SELECT database, max(CASE WHEN \(started) <= ?1 THEN started_time END),
                   max(CASE WHEN \(ended) <= ?1 AND status = 'completed' THEN ended_time END),
                   max(CASE WHEN \(ended) <= ?1 AND status = 'failed' THEN ended_time END)
            FROM inventory_backup WHERE \(ofProject) GROUP BY database
            """
        ).bind(1, moment.value).bind(2, project)
        var last: [String: (started: Int64?, completed: Int64?, failed: Int64?)] = [:]
        while try backedUp.step() {
            let optional = { (column: Int32) in backedUp.isNull(column) ? nil : backedUp.int(column) }
            last[backedUp.text(0) ?? ""] = (optional(1), optional(2), optional(3))
        }
        backedUp.finish()
        let rows = try db.statement(
            """
            SELECT database, project, org, engine, plan, region, from_time, from_seq, to_seq,
                   CASE WHEN \(deprovisioned) <= ?1 THEN deprovisioned_time END
            FROM inventory_database
            WHERE \(from) <= ?1 AND (\(to) IS NULL OR \(to) > ?1) AND \(project == nil ? "?2 IS NULL" : "project = ?2")
            ORDER BY database
            """
        ).bind(1, moment.value).bind(2, project)
        defer { rows.finish() }
        var databases: [Database] = []
        while try rows.step() {
            let database = rows.text(0) ?? ""
            let lifetime = (from: rows.int(7), to: rows.isNull(8) ? Int64.max : rows.int(8))
            // This lifetime's schedules by the moment, in log order.
            let own = schedules[database]?.filter { lifetime.from < $0.seq && $0.seq < lifetime.to } ?? []
            let backups = last[database]
            databases.append(
                Database(
                    database: database, project: rows.text(1) ?? "", org: rows.text(2) ?? "", engine: rows.text(3) ?? "",
                    plan: rows.text(4) ?? "", region: rows.text(5) ?? "", provisionedAt: rows.int(6),
                    deprovisionedAt: rows.isNull(9) ? nil : rows.int(9), everyHours: own.last?.every, retentionDays: own.last?.retention,
                    firstScheduledAt: own.first?.time, lastStartedAt: backups?.started ?? nil, lastCompletedAt: backups?.completed ?? nil,
                    lastFailedAt: backups?.failed ?? nil))
        }
        return databases
    }

    /// A backup as it stands at a moment.
    public struct Backup: Sendable {
        public let backup: String
        public let database: String
        /// `started`, `completed` or `failed`.
        public let status: String
        public let startedAt: Int64?
        public let completedAt: Int64?
        public let failedAt: Int64?
        public let bytes: Int64?
        public let sha256: String?
        public let reason: String?
        public let restores: [(at: Int64, seq: Int64, target: String)]
    }

    /// The backups of `database` known at the moment, in the order they began.
    public static func backups(of database: String, at when: AsOf, in db: SQLiteDatabase) throws(LogError) -> [Backup] {
        try backups(where: "database = ?3", at: when, in: db) { $0.bind(3, database) }
    }

    /// Every backup that began or ended in `from`…`to` (milliseconds, by `occurredAt`), as it
    /// stood at `to`, in the order they began.
    public static func backups(from: Int64, to: Int64, in db: SQLiteDatabase) throws(LogError) -> [Backup] {
        try backups(where: "(started_time BETWEEN ?3 AND ?4 OR ended_time BETWEEN ?3 AND ?4)", at: .time(to), in: db) {
            $0.bind(3, from).bind(4, to)
        }
    }

    /// The backups a condition on `inventory_backup` selects (its placeholders from ?3, bound
    /// by `bind`), known at the moment, in the order they began.
    private static func backups(
        where condition: String, at when: AsOf, in db: SQLiteDatabase, bind: (SQLiteDatabase.Statement) -> Void
    ) throws(LogError) -> [Backup] {
        let moment = when.bounds
        let (started, ended) = (moment.column("started"), moment.column("ended"))
        let rows = try db.statement(
            """
            SELECT backup, database, CASE WHEN \(started) <= ?2 THEN started_time END, CASE WHEN \(ended) <= ?2 THEN ended_time END,
                   status, bytes, sha256, reason
            FROM inventory_backup
            WHERE \(condition) AND (\(started) <= ?2 OR \(ended) <= ?2)
            ORDER BY first_seq, backup
            """
        ).bind(2, moment.value)
        bind(rows)
        defer { rows.finish() }
        let restored = try db.statement(
            "SELECT time, seq, target FROM inventory_restore WHERE backup = ?1 AND \(moment.at) <= ?2 ORDER BY seq")
        defer { restored.finish() }
        var backups: [Backup] = []
        while try rows.step() {
            let backup = rows.text(0) ?? ""
            let ended = rows.isNull(3) ? nil : rows.int(3)
            let status = ended == nil ? "started" : rows.text(4) ?? ""
            restored.reset().bind(1, backup).bind(2, moment.value)
            var restores: [(at: Int64, seq: Int64, target: String)] = []
            while try restored.step() { restores.append((restored.int(0), restored.int(1), restored.text(2) ?? "")) }
            backups.append(
                Backup(
                    backup: backup, database: rows.text(1) ?? "", status: status, startedAt: rows.isNull(2) ? nil : rows.int(2),
                    completedAt: status == "completed" ? ended : nil, failedAt: status == "failed" ? ended : nil,
                    bytes: status == "completed" && !rows.isNull(5) ? rows.int(5) : nil,
                    sha256: status == "completed" ? rows.text(6) : nil, reason: status == "failed" ? rows.text(7) : nil,
                    restores: restores))
        }
        return backups
    }

    /// A database that had a backup schedule in force at some moment of a period, and every
    /// stretch of it during which it was overdue.
    public struct ScheduledDatabase: Sendable {
        public let database: String
        public let project: String
        public let org: String
        public let engine: String
        public let region: String
        public let provisionedAt: Int64
        /// If it was deprovisioned by the period's end.
        public let deprovisionedAt: Int64?
        /// The schedule in force at the period's end (or when the lifetime ended within it).
        public let everyHours: Int64
        public let gaps: [Gap]
    }

    /// A stretch during which a scheduled database was overdue, as `backups.overdue` judges it
    /// at each moment: its last completed backup (or, never backed up, its first schedule) more
    /// than `everyHours` before.
    public struct Gap: Sendable {
        /// When the schedule was missed: the last completed backup (or the first schedule) plus
        /// the hours in force then; overdue from just after it. A gap that an event began (a
        /// schedule shortened past the last backup, a lifetime whose first schedule finds its
        /// last backup old) is overdue from that event on: this is the millisecond before it.
        public let overdueFrom: Int64
        /// When it stopped being overdue (a completed backup, a schedule of more hours, the
        /// deprovisioning); nil when it still was at the period's end.
        public let overdueUntil: Int64?
        /// The last completed backup before it; nil for a database never backed up.
        public let lastCompletedAt: Int64?
        public let everyHours: Int64
    }

    /// Every database lifetime with a schedule in force at some moment of `from`…`to`
    /// (milliseconds, by `occurredAt`: the events that occurred by `to`), with every gap that
    /// overlaps the period, by id.
    public static func scheduled(from: Int64, to: Int64, in db: SQLiteDatabase) throws(LogError) -> [ScheduledDatabase] {
        let hour: Int64 = 3_600_000
        let lifetimes = try db.statement(
            """
            SELECT database, project, org, engine, region, from_seq, from_time, to_seq, to_time,
                   CASE WHEN deprovisioned_time <= ?1 THEN deprovisioned_time END
            FROM inventory_database WHERE from_time <= ?1 ORDER BY database, from_seq
            """
        ).bind(1, to)
        defer { lifetimes.finish() }
        let schedules = try db.statement(
            "SELECT seq, time, every_hours FROM inventory_backup_schedule WHERE database = ? AND seq > ? AND seq < ? AND time <= ? ORDER BY seq"
        )
        defer { schedules.finish() }
        let completions = try db.statement(
            "SELECT ended_time FROM inventory_backup WHERE database = ? AND status = 'completed' AND ended_time <= ? ORDER BY ended_time")
        defer { completions.finish() }
        var found: [ScheduledDatabase] = []
        while try lifetimes.step() {
            let database = lifetimes.text(0) ?? ""
            let replaced = lifetimes.isNull(8) || lifetimes.int(8) > to ? nil : lifetimes.int(8)
            let deprovisioned = lifetimes.isNull(9) ? nil : lifetimes.int(9)
            // Nothing is overdue from the lifetime's end on; the period's end is its last moment.
            let end = min(replaced ?? .max, deprovisioned ?? .max)
            schedules.reset().bind(1, database).bind(2, lifetimes.int(5)).bind(3, lifetimes.isNull(7) ? Int64.max : lifetimes.int(7))
                .bind(4, to)
            var set: [(time: Int64, every: Int64)] = []
            while try schedules.step() { set.append((schedules.int(1), schedules.int(2))) }
            guard let first = set.first?.time, first < end, end > from else { continue }
            completions.reset().bind(1, database).bind(2, to)
            var completed: [Int64] = []
            while try completions.step() { completed.append(completions.int(0)) }
            // The moments where what decides overdue changes, from the first schedule on.
            let changes = Set(set.map(\.time) + completed + [first]).filter { $0 >= first && $0 < end && $0 <= to }.sorted()
            var gaps: [Gap] = []
            var open: (from: Int64, last: Int64?, every: Int64)?
            for (index, start) in changes.enumerated() {
                // A stretch over which the last completion and the schedule stay as they are at
                // its start; the last one ends with the lifetime, or takes in the period's end.
                let stop = index + 1 < changes.count ? changes[index + 1] : min(end, to)
                // The schedule is the last set by then in log order, as `databases` takes it.
                guard let every = set.last(where: { $0.time <= start })?.every else { continue }
                let last = completed.last { $0 <= start }
                let (window, long) = every.multipliedReportingOverflow(by: hour)
                let (deadline, far) = (last ?? first).addingReportingOverflow(window)
                // Overdue at a moment after the deadline (a schedule too long for 64 bits never is).
                let overdue = { (moment: Int64) in !long && !far && moment > deadline }
                if let gap = open, !overdue(start) {
                    gaps.append(Gap(overdueFrom: gap.from, overdueUntil: start, lastCompletedAt: gap.last, everyHours: gap.every))
                    open = nil
                }
                // Overdue after the deadline; already at this stretch's start (a shorter schedule,
                // a new lifetime's first), after the millisecond before it.
                if open == nil, !long, !far, deadline < stop { open = (deadline < start ? start - 1 : deadline, last, every) }
            }
            if let gap = open {
                gaps.append(
                    Gap(overdueFrom: gap.from, overdueUntil: end <= to ? end : nil, lastCompletedAt: gap.last, everyHours: gap.every))
            }
            let inPeriod = gaps.filter { $0.overdueFrom < to && ($0.overdueUntil ?? .max) > from }
            found.append(
                ScheduledDatabase(
                    database: database, project: lifetimes.text(1) ?? "", org: lifetimes.text(2) ?? "", engine: lifetimes.text(3) ?? "",
                    region: lifetimes.text(4) ?? "", provisionedAt: lifetimes.int(6), deprovisionedAt: deprovisioned,
                    everyHours: set.last(where: { $0.time <= min(end, to) })?.every ?? set[0].every, gaps: inPeriod))
        }
        return found
    }

}
