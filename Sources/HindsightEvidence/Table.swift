import HindsightCore

/// Rows of text under named columns, written as CSV (RFC 4180: a header line, CRLF, fields
/// quoted when they hold a comma, a quote or a line break, as the events' rendering writes
/// them) or as JSON lines (one object per row, an empty field left out): the files of an
/// answer bundle (`ReviewBundle`).
public struct Table: Sendable {
    public let columns: [String]
    public let rows: [[String]]

    public init(columns: [String], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }

    public func encoded(as format: ExportFormat) -> [UInt8] {
        var out: [UInt8] = []
        switch format {
        case .csv:
            for row in [columns] + rows {
                for (index, field) in row.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    Rendering.appendCSVField(Array(field.utf8), to: &out)
                }
                out += [0x0D, 0x0A]
            }
        case .jsonl:
            for row in rows {
                var object: [String: JSONValue] = [:]
                for (column, value) in zip(columns, row) where !value.isEmpty { object[column] = .string(value) }
                JSONValue.object(object).write(to: &out)
                out.append(UInt8(ascii: "\n"))
            }
        }
        return out
    }
}
