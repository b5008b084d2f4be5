public import HindsightCatalog
public import HindsightCore
import HindsightWorkload

/// Envelope lines for tests: `event(stream:)` makes one valid event (the data fits the
/// catalogue's build.started schema, so the CLI accepts it too).
public enum Events {
    public static func event(
        type: String = "build.started", stream: String = "build/b_1", id: String? = nil,
        occurredAt: String = "2026-03-01T09:30:00.000Z", org: String = "org_1",
        data: String = #"{"build":"b_1","project":"prj_1","runner":"runner-1"}"#
    ) -> String {
        let idField = id.map { #""id":"\#($0)","# } ?? ""
        return
            #"{\#(idField)"type":"\#(type)","stream":"\#(stream)","occurredAt":"\#(occurredAt)","actor":{"kind":"user","id":"usr_1"},"org":"\#(org)","data":\#(data)}"#
    }

    public static func batch(_ lines: [String]) throws -> EnvelopeBatch {
        try EnvelopeParser.parse(ndjson: Array(lines.joined(separator: "\n").utf8), catalog: nil)
    }

    public static func workload(_ count: Int, seed: UInt64 = 1) throws -> EnvelopeBatch {
        try EnvelopeParser.parse(ndjson: WorkloadGenerator.ndjson(count: count, seed: seed), catalog: nil)
    }

    /// A version-4-shaped UUID made from a number, so tests can name ids.
    public static func uuid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        let padded = String(repeating: "0", count: 12 - hex.count) + hex
        return "00000000-0000-4000-8000-\(padded)"
    }
}
