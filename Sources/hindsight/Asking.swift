import ArgumentParser
import Foundation
import HindsightCore
import HindsightEvidence
import HindsightQuery

extension DataOptions {
    /// The query service over the data directory, as a command asks it: it reads beside a
    /// running `serve`, and opens the directory as its writer only for a method that writes.
    func service(signingKey: String = SigningKey.defaultPath, exports: ExportPolicy = .off) -> QueryService {
        QueryService(directory: directory, signingKey: signingKey, exports: exports)
    }

    /// Asks a reading method with the parameters a command's options give (those not given,
    /// nil, left out), checked as a request's are; a refusal is reported as `asking` reports
    /// it, with exit status `failure`.
    func ask<M: ReadingMethod>(_ method: M.Type, failure: Int32 = 1, _ values: [String: JSONValue?]) throws -> M.Answer {
        let service = service()
        return try asking(failure: failure) { () throws(QueryError) in try service.ask(M.self, parameters: parameters(values)) }
    }
}

/// Runs a question; a refusal goes to standard error as `error: …` (naming the parameter at
/// fault) with exit status `failure` (2 when the log is damaged).
func asking<T>(failure: Int32 = 1, _ body: () throws(QueryError) -> T) throws -> T {
    do throws(QueryError) {
        return try body()
    } catch {
        var message = "error: \(error.message)"
        switch error {
        case .invalidParams(_, let path): message += " (\(path.replacingOccurrences(of: "/params/", with: "")))"
        case .engine(let cause), .events(let cause):
            if let location = cause.location { message += " (\(location))" }
        case .methodNotFound: break
        }
        FileHandle.standardError.write(Data((message + "\n").utf8))
        if case .engine(let cause) = error, cause.code == .logCorrupt { throw ExitCode(2) }
        throw ExitCode(failure)
    }
}

/// Prints an answer as one line of JSON: the result object QUERIES.md describes, as `serve`
/// answers it (`--json`).
func printAnswer(_ answer: some QueryAnswer) {
    FileHandle.standardOutput.write(Data(answer.json.text + [UInt8(ascii: "\n")]))
}

/// `--json`, shared by every command that answers a question.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print the answer as JSON (the result object QUERIES.md describes) instead of a table.") var json = false
}

/// A moment an option gives, as a request gives it (nil when the option is not given): a seq
/// (an integer) or a time, in any RFC 3339 form, or a bare date (`2026-03-12`) naming a day:
/// its first millisecond where the option starts a range, its last where it ends one or names
/// the moment asked about. A time goes on as RFC 3339 in UTC.
enum MomentOption {
    static func position(_ text: String?, option: String, dayEnds: Bool = true) throws -> JSONValue? {
        guard let text else { return nil }
        guard let seq = UInt64(text) else { return try time(text, option: option, dayEnds: dayEnds) }
        guard seq <= UInt64(Int64.max) else { throw refusal("--\(option): \(text) is beyond any seq") }
        return .integer(Int64(seq))
    }

    static func time(_ text: String?, option: String, dayEnds: Bool = true) throws -> JSONValue? {
        guard let text else { return nil }
        if let ms = Timestamp.parse(rfc3339: text) { return .string(Timestamp.format(ms)) }
        if let day = Timestamp.parse(rfc3339: text + "T00:00:00Z"), text.count == 10 {
            return .string(Timestamp.format(dayEnds ? day + 86_399_999 : day))
        }
        throw refusal("--\(option) takes a seq or an RFC 3339 time such as 2026-03-01T09:30:00Z, or a date such as 2026-03-01; not \(text)")
    }
}

/// A text as a request gives it, or nil.
func textParameter(_ text: String?) -> JSONValue? { text.map(JSONValue.string) }

/// Parameters for a question from a command's options, those not given left out.
func parameters(_ values: [String: JSONValue?]) -> [String: JSONValue] {
    values.compactMapValues { $0 }
}

/// A refusal of what a command was given: the message on standard error, exit status 1.
func refusal(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(1)
}
