import Foundation
public import HindsightCore
public import HindsightProjections

/// An access review as a bundle (`ReviewBundle`): who holds which role on what in an org at a
/// moment, and the changes since an earlier review, so that the reviewer who signs it off can
/// check that it is the one Hindsight wrote, and from which history (docs/export-format.md).
public enum AccessReviewExport {
    public static let format = "hindsight-access-review/1"

    /// The review's files: who holds which role on what in `org` at `when` (`access-review`),
    /// and with `since`, every change of access from then to `until` (`changes`), from the
    /// access read model `db`.
    public static func files(
        org: String, at when: AsOf, since: Int64?, until: Int64, format: ExportFormat, in db: SQLiteDatabase
    ) throws(LogError) -> [ReviewBundle.File] {
        let id = org.hasPrefix("org/") ? String(org.dropFirst(4)) : org
        let rows = try AccessReadModel.accessReview(org: id, at: when, in: db)
        let time = { (ms: Int64?) in ms.map(Timestamp.format) ?? "" }
        let review = Table(
            columns: ["subject", "role", "scope", "grant", "grantedAt", "grantedBy", "expiresAt", "heldAs"],
            rows: rows.map {
                [$0.subject, $0.role, $0.scope, $0.grant, time($0.grantedAt), $0.grantedBy ?? "", time($0.expiresAt), $0.heldAs]
            })
        var files = [ReviewBundle.File(name: "access-review." + format.rawValue, bytes: review.encoded(as: format), rows: rows.count)]
        if let since {
            let changes = try AccessReadModel.changes(from: since, to: until, scope: "org/" + id, in: db)
            let table = Table(
                columns: ["at", "seq", "change", "what", "subject", "role", "scope", "by", "byKind", "reason"],
                rows: changes.map { change in
                    [
                        time(change.at), change.seq.map(String.init) ?? "", change.change, change.subject,
                        change.detail["subject"] ?? change.detail["user"] ?? change.detail["owner"] ?? "", change.detail["role"] ?? "",
                        change.detail["scope"] ?? "", change.detail["by"] ?? "", change.detail["byKind"] ?? "",
                        change.detail["reason"] ?? "",
                    ]
                })
            files.append(ReviewBundle.File(name: "changes." + format.rawValue, bytes: table.encoded(as: format), rows: changes.count))
        }
        return files
    }
}
