import Crypto
import Foundation
public import HindsightCore

/// A read model's content as canonical text, so that two databases can be compared by a
/// digest whatever order their rows came in: every table but the engine's checkpoint, by
/// name, each as a line naming it and its columns, then its rows as JSON arrays ordered by
/// all their columns. Indexes are not content and do not appear. No read model keeps event
/// lines (the audit model reads them from the log), so a dump holds no personal data.
public enum ContentDump {
    /// Writes the dump line by line (without the newlines).
    public static func write(_ db: SQLiteDatabase, to line: (String) -> Void) throws(LogError) {
        let tables = try db.statement(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'hindsight_checkpoint' ORDER BY name"
        )
        var names: [String] = []
        while try tables.step() { names.append(tables.text(0) ?? "") }
        tables.finish()
        for table in names {
            let info = try db.statement("SELECT name FROM pragma_table_info(?) ORDER BY cid").bind(1, table)
            var columns: [String] = []
            while try info.step() { columns.append(info.text(0) ?? "") }
            info.finish()
            line(#"{"table":\#(JSONText.quoted(table)),"columns":[\#(columns.map(JSONText.quoted).joined(separator: ","))]}"#)
            let order = (1...columns.count).map(String.init).joined(separator: ", ")
            let rows = try db.statement("SELECT * FROM \"\(table)\" ORDER BY \(order)")
            defer { rows.finish() }
            while try rows.step() {
                let values = (0..<Int32(columns.count)).map { rows.json($0) }
                line("[" + values.joined(separator: ",") + "]")
            }
        }
    }

    /// `sha256:` and the hex SHA-256 of the stored dump, a line feed after each line.
    public static func digest(_ db: SQLiteDatabase) throws(LogError) -> String {
        var hasher = SHA256()
        try write(db) { line in
            hasher.update(data: Data(line.utf8))
            hasher.update(data: Data([0x0A]))
        }
        return "sha256:" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
