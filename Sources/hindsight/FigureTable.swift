import Foundation

/// A plain text table, and the formats dashboards use for figures.
struct FigureTable {
    let columns: [String]

    func render(_ rows: [[String]]) -> String {
        let widths = columns.indices.map { column in ([columns[column]] + rows.map { $0[column] }).map(\.count).max()! + 2 }
        let line = { (cells: [String]) in zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined() + "\n" }
        return line(columns) + rows.map(line).joined()
    }

    static func count(_ value: Int64) -> String { String(value) }
    /// A share as a percentage to two decimals at most, never rounded to 0% or 100% when it is not
    /// that: 1 in 2,000 reads 0.05%, 1 in 10 million <0.01%, 1,999 in 2,000 99.95%.
    static func percent(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == 0 || value == 1 { return value == 0 ? "0%" : "100%" }
        let percent = value * 100
        if percent < 0.01 { return "<0.01%" }
        if percent > 99.99 { return ">99.99%" }
        // Two decimals, without the zeros that say nothing (50%, 12.5%, 0.05%).
        var digits = String(format: "%.2f", percent)
        while digits.hasSuffix("0") { digits.removeLast() }
        if digits.hasSuffix(".") { digits.removeLast() }
        return digits + "%"
    }
    /// A count and the share it is: `3 (0.15%)`.
    static func share(_ count: Int64, _ rate: Double?) -> String { "\(count) (\(percent(rate)))" }
    static func figure(_ value: Double?) -> String { value.map { String(format: "%g", $0) } ?? "-" }
    static func duration(_ ms: Double?) -> String {
        guard let ms else { return "-" }
        if ms < 1000 { return String(format: "%.0fms", ms) }
        let seconds = ms / 1000
        return seconds < 60 ? String(format: "%.1fs", seconds) : String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
    }
}
