import ArgumentParser
import HindsightCore
import HindsightQuery

struct Databases: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Databases with engine, plan, region, backup schedule and last backups (databases.list), as a table.")

    @OptionGroup var options: DataOptions
    @Option(help: "A seq, an RFC 3339 time or a date: the databases as they stood then (default: now).") var at: String?
    @Option(help: "Only this project's databases.") var project: String?
    @OptionGroup var output: JSONOption

    func run() throws {
        let answer = try options.ask(
            DatabaseList.self, ["project": textParameter(project), "at": try MomentOption.position(at, option: "at")])
        if output.json { return printAnswer(answer) }
        guard !answer.databases.isEmpty else { return print("no database") }
        let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "-" }
        let rows = answer.databases.map { database -> [String] in
            let status = database.deprovisioned ? "deprovisioned" : "provisioned"
            let every = database.everyHours.map(String.init) ?? "-"
            return [
                database.database, database.project, database.engine, database.plan, database.region, status, every,
                time(database.lastCompletedAt), time(database.lastFailedAt),
            ]
        }
        let columns = ["database", "project", "engine", "plan", "region", "status", "every (h)", "last completed", "last failed"]
        print(FigureTable(columns: columns).render(rows), terminator: "")
    }
}

struct Backups: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "A database's backups with status, size, checksum and restores (backups.list), or with --overdue, the scheduled databases whose last completed backup is older than their schedule (backups.overdue)."
    )

    @OptionGroup var options: DataOptions
    @Argument(help: "The database (db_…).") var database: String?
    @Flag(help: "The databases overdue for a backup, instead of one database's backups.") var overdue = false
    @Option(help: "A seq, an RFC 3339 time or a date: as it stood then (default: now).") var at: String?
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard (database == nil) == overdue else { throw ValidationError("give a database, or --overdue") }
    }

    func run() throws {
        let moment = try MomentOption.position(at, option: "at")
        let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "-" }
        if overdue {
            let answer = try options.ask(OverdueBackups.self, ["at": moment])
            if output.json { return printAnswer(answer) }
            guard !answer.databases.isEmpty else { return print("no database is overdue for a backup") }
            print(
                FigureTable(columns: ["database", "project", "every (h)", "last completed", "overdue by (h)"]).render(
                    answer.databases.map {
                        [
                            $0.database, $0.project, $0.everyHours.map(String.init) ?? "-", time($0.lastCompletedAt),
                            FigureTable.figure(Double(answer.overdue?[$0.database] ?? 0) / 3_600_000),
                        ]
                    }), terminator: "")
            return
        }
        let answer = try options.ask(BackupList.self, ["database": textParameter(database), "at": moment])
        if output.json { return printAnswer(answer) }
        guard !answer.backups.isEmpty else { return print("no backup of \(answer.database)") }
        print(
            FigureTable(columns: ["backup", "status", "started", "ended", "bytes", "sha256", "restores"]).render(
                answer.backups.map {
                    [
                        $0.backup, $0.status, time($0.startedAt), time($0.completedAt ?? $0.failedAt), $0.bytes.map(String.init) ?? "-",
                        $0.sha256 ?? $0.reason ?? "-", String($0.restores.count),
                    ]
                }), terminator: "")
    }
}
