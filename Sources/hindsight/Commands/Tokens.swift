import ArgumentParser
import HindsightCore
import HindsightQuery

struct Tokens: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "API tokens with their scopes, creation, last rotation, expiry and status (tokens.list), or with --stale, the active ones not created or rotated in --older-than-days days (tokens.stale)."
    )

    @OptionGroup var options: DataOptions
    @Option(help: "A seq, an RFC 3339 time or a date: the tokens as they stood then (default: now).") var at: String?
    @Option(help: "Only this user's tokens.") var owner: String?
    @Flag(help: "Only active tokens not created or rotated within --older-than-days days.") var stale = false
    @Option(help: "With --stale: a token not created or rotated within this many days is stale (0 to 36500, default 90).")
    var olderThanDays: Int64?
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard olderThanDays == nil || stale else { throw ValidationError("--older-than-days goes with --stale") }
        if let olderThanDays, !(0...36_500).contains(olderThanDays) {
            throw ValidationError("--older-than-days must be from 0 to 36500, not \(olderThanDays)")
        }
        guard owner == nil || !stale else { throw ValidationError("--stale lists every owner's tokens: leave out --owner") }
    }

    func run() throws {
        let moment = try MomentOption.position(at, option: "at")
        let answer =
            stale
            ? try options.ask(StaleTokens.self, ["olderThanDays": olderThanDays.map { .integer($0) }, "at": moment])
            : try options.ask(TokenList.self, ["owner": textParameter(owner), "at": moment])
        if output.json { return printAnswer(answer) }
        guard !answer.tokens.isEmpty else { return print(stale ? "no stale token" : "no token") }
        let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "-" }
        print(
            FigureTable(columns: ["token", "owner", "status", "created", "last rotated", "expires", "scopes"]).render(
                answer.tokens.map {
                    [$0.token, $0.owner, $0.status.rawValue, time($0.createdAt), time($0.lastRotatedAt), time($0.expiresAt), $0.scopes]
                }), terminator: "")
    }
}
