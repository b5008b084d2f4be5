public import HindsightCore
public import HindsightProjections

/// Evidence that databases were backed up as scheduled over a period (`export.backups`), as a
/// bundle (`ReviewBundle`): every database with a schedule in force during the period, every
/// backup attempt in it, and every gap where a schedule was missed, each as `backups.overdue`
/// would have judged it at every moment of the period.
public enum BackupEvidence {
    public static let format = "hindsight-backup-evidence/1"

    /// `databases`, `backups` and `gaps`, from the databases read model `db`, for the events
    /// that occurred in `from`…`to` (milliseconds).
    public static func files(from: Int64, to: Int64, format: ExportFormat, in db: SQLiteDatabase) throws(LogError) -> [ReviewBundle.File] {
        let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "" }
        let scheduled = try DatabasesReadModel.scheduled(from: from, to: to, in: db)
        let attempts = try DatabasesReadModel.backups(from: from, to: to, in: db)
        let byDatabase = Dictionary(grouping: attempts, by: \.database)
        let databases = Table(
            columns: [
                "database", "project", "org", "engine", "region", "everyHours", "provisionedAt", "deprovisionedAt", "completed", "failed",
                "gaps",
            ],
            rows: scheduled.map { database in
                let attempts = byDatabase[database.database] ?? []
                return [
                    database.database, database.project, database.org, database.engine, database.region, String(database.everyHours),
                    time(database.provisionedAt), time(database.deprovisionedAt),
                    String(attempts.filter { $0.completedAt.map { (from...to).contains($0) } == true }.count),
                    String(attempts.filter { $0.failedAt.map { (from...to).contains($0) } == true }.count), String(database.gaps.count),
                ]
            })
        let backups = Table(
            columns: ["backup", "database", "status", "startedAt", "completedAt", "failedAt", "bytes", "sha256", "reason"],
            rows: attempts.map {
                [
                    $0.backup, $0.database, $0.status, time($0.startedAt), time($0.completedAt), time($0.failedAt),
                    $0.bytes.map(String.init) ?? "", $0.sha256 ?? "", $0.reason ?? "",
                ]
            })
        let gaps = scheduled.flatMap { database in database.gaps.map { (database.database, $0) } }
        let missed = Table(
            columns: ["database", "overdueFrom", "overdueUntil", "lastCompletedAt", "everyHours"],
            rows: gaps.map { database, gap in
                [database, time(gap.overdueFrom), time(gap.overdueUntil), time(gap.lastCompletedAt), String(gap.everyHours)]
            })
        return [
            ReviewBundle.File(name: "databases." + format.rawValue, bytes: databases.encoded(as: format), rows: scheduled.count),
            ReviewBundle.File(name: "backups." + format.rawValue, bytes: backups.encoded(as: format), rows: attempts.count),
            ReviewBundle.File(name: "gaps." + format.rawValue, bytes: missed.encoded(as: format), rows: gaps.count),
        ]
    }
}
