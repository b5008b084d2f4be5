import ArgumentParser
import HindsightQuery

struct Rebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a read model again from the log beside the one in use, and swap it in (projections.rebuild).",
        discussion: "While a serve runs on the directory, ask it instead (projections.rebuild), so that it swaps the files it uses.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The read model (projections.status lists them).") var name: String
    @OptionGroup var output: JSONOption

    func run() throws {
        let service = options.service()
        let answer = try asking { () throws(QueryError) in
            try ProgressMeter("rebuild \(name)").measuring { progress throws(QueryError) in
                service.progress = progress
                return try service.perform(HindsightQuery.Rebuild.self, parameters: ["name": .string(name)])
            }
        }
        if output.json { return printAnswer(answer) }
        print(
            "rebuilt \(answer.name) from \(answer.from == 0 ? "the log's start" : "the snapshot at seq \(answer.from)"); it has folded the log up to seq \(answer.position ?? 0)"
        )
    }
}
