/// A rule's transitions caused by the events of a run of seqs, in seq order, as a row of
/// `analytics_alert_transitions` keeps them: a rule that flaps changes state at most of its
/// metric's values, and a row per transition was most of what building the model wrote.
///
/// Stored form: for each transition, a varint of its seq's distance from the previous one's
/// (the first's from 0), a zigzag varint of its time's distance from the previous one's (the
/// first's from 0), a byte of its kind (bit 0: fired; bit 1: it has a value), and then the
/// value as a little-endian 64-bit word when it has one. Later transitions are added by
/// appending their stored form after the row's last (`encoded(after:)`), so a row holds the
/// same bytes however the events were cut into batches.
struct AlertTransitionRun {
    /// Seqs per row: a row holds a rule's transitions caused by the events of a run of this
    /// many seqs (about a thousand for a rule that flaps).
    static let seqsPerRow: Int64 = 1 << 14
    private(set) var transitions: [AlertsReadModel.AlertTransition] = []
    private(set) var earliest = Int64.max
    private(set) var latest = Int64.min

    init() {}

    /// The row of a seq: `seq / seqsPerRow`.
    static func row(of seq: Int64) -> Int64 { seq / seqsPerRow }

    /// Adds a transition caused after the ones it holds.
    mutating func append(_ transition: AlertsReadModel.AlertTransition) {
        transitions.append(transition)
        earliest = min(earliest, transition.occurredAt)
        latest = max(latest, transition.occurredAt)
    }

    /// The stored form, to follow that of the transitions up to one at `last` (seq and
    /// time; (0, 0) for none).
    func encoded(after last: (seq: Int64, time: Int64) = (0, 0)) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(transitions.count * 13)
        var (seq, time) = last
        for transition in transitions {
            Varint.append(UInt64(transition.seq - seq), to: &out)
            Varint.append(signed: transition.occurredAt &- time, to: &out)
            out.append((transition.kind == "fired" ? 1 : 0) | (transition.value == nil ? 0 : 2))
            if let value = transition.value { Varint.append(fixed: value.bitPattern, to: &out) }
            (seq, time) = (transition.seq, transition.occurredAt)
        }
        return out
    }

    /// Reads `encoded`, the transitions of `rule`; nil when the bytes are not transitions in
    /// seq order (a rule changes state at most once per event).
    init?(encoded bytes: ArraySlice<UInt8>, rule: String) {
        var reader = ByteReader(bytes)
        var (seq, time): (Int64, Int64) = (0, 0)
        while !reader.atEnd {
            guard let step = reader.varint(), step > 0, case (let sum, false) = UInt64(seq).addingReportingOverflow(step),
                let next = Int64(exactly: sum), let shift = reader.signedVarint(), let kind = reader.take(1)?.first, kind < 4
            else { return nil }
            var value: Double?
            if kind & 2 != 0 {
                guard let bits = reader.fixed64() else { return nil }
                value = Double(bitPattern: bits)
            }
            (seq, time) = (next, time &+ shift)
            append(
                AlertsReadModel.AlertTransition(
                    rule: rule, seq: seq, occurredAt: time, kind: kind & 1 == 1 ? "fired" : "resolved", value: value))
        }
    }
}
