public import HindsightCore
public import HindsightEvidence
import HindsightLog
import HindsightProjections

/// The exports (docs/export-format.md): `export.audit`, `export.accessReview`, `export.backups`
/// and `export.tokens`. They write bundles, only where the process was told (`ExportPolicy`).
enum ExportMethods {
    static let all = [
        MethodDescription(writing: AuditExportMethod.self), MethodDescription(writing: AccessReviewMethod.self),
        MethodDescription(writing: BackupEvidenceMethod.self), MethodDescription(writing: TokenEvidenceMethod.self),
    ]

    static let path = Parameter(
        "path", .string("A new directory beneath the exports directory serve was started with (--exports), or relative to it."),
        required: true)

    static func format(_ p: Parameters) throws(QueryError) -> ExportFormat {
        guard let format = ExportFormat(rawValue: try p.required("format")) else {
            throw .params("format must be jsonl or csv", at: "/format")
        }
        return format
    }

    static let chainHead = Schema.object(
        ["size": .integer(), "root": .string("The Merkle root, hex.")], "The signed checkpoint's tree head.")

    /// What `at` was given as, for a manifest (a seq or a time, as written).
    static func text(of position: String, _ p: Parameters) -> String? {
        switch p[position] {
        case .integer(let seq)?: String(seq)
        case .string(let text)?: text
        default: nil
        }
    }

    /// Writes an answer's files as a bundle (`ReviewBundle`) at `destination`, anchored to a
    /// newly signed checkpoint of the log as `reading` has it.
    static func bundle(
        _ files: [ReviewBundle.File], format: String, query: [String: String?], position: UInt64, reading: Reading, writing: Writing,
        to destination: ExportDestination
    ) throws(QueryError) -> BundleAnswer {
        let key = try writing.signingKey()
        let reader = try reading.reader()
        let manifest = try engine { () throws(LogError) in
            try ReviewBundle.write(
                files, format: format, query: query.compactMapValues { $0 }, position: position, reader: reader, key: key,
                checkpoints: writing.checkpoints, to: destination)
        }
        return BundleAnswer(files: files, manifest: manifest, path: destination.path, position: position)
    }
}

/// What the export of an answer bundle returns: its files with their rows, the tree head it is
/// anchored to, and where it was written.
public struct BundleAnswer: QueryAnswer {
    public let files: [ReviewBundle.File]
    public let manifest: ReviewManifest
    public let path: String
    public let position: UInt64?
    public var members: [String: JSONValue] {
        [
            "files": .array(files.map { ["file": .string($0.name), "rows": .integer(Int64($0.rows))] }),
            "chainHead": ["size": .integer(Int64(manifest.chainHead.size)), "root": .string(manifest.chainHead.root)],
            "path": .string(path),
        ]
    }
    public static let schema = Schema.object([
        "files": .array(.object(["file": .string(), "rows": .integer()]), "The bundle's files of rows."),
        "chainHead": ExportMethods.chainHead, "path": .string("Where the bundle was written."),
    ])
}

/// `export.audit`: the events of a range as a bundle anyone can verify offline.
public enum AuditExportMethod: WritingMethod {
    public static let name = "export.audit"
    public static let summary =
        "Writes the events of a range (optionally of one org or some types) with their Merkle proofs, a signed checkpoint and a signed manifest; keeps the checkpoint."

    public struct Params: QueryParams {
        public var request: AuditExport.Request
        public var path: String

        public init(request: AuditExport.Request, path: String) {
            self.request = request
            self.path = path
        }

        public static let parameters = [
            Parameter(
                "from", .position("The first event: a seq, or the first that occurred at or after a time (default the log's start).")),
            Parameter("to", .position("The last event: a seq, or the last that occurred at or before a time (default the log's end).")),
            Parameter("org", .string("Only this org's events.")), Parameter("types", .array(.string(), "Only these types.")),
            Parameter("format", .oneOf(["jsonl", "csv"], "The readable rendering beside the stored lines."), required: true),
            ExportMethods.path,
        ]

        public init(_ p: Parameters) throws(QueryError) {
            let format = try ExportMethods.format(p)
            let (from, to) = (try p.position("from"), try p.position("to"))
            switch (from, to) {
            case (.seq(let first)?, .seq(let last)?) where first > last: throw .params("from must not be after to", at: "/from")
            case (.time(let first)?, .time(let last)?) where first > last: throw .params("from must not be after to", at: "/from")
            default: break
            }
            self.init(
                request: AuditExport.Request(
                    from: from, to: to, org: try p.string("org"), types: try p.eventTypes("types"), format: format),
                path: try p.required("path"))
        }
    }

    public struct Answer: QueryAnswer {
        public let manifest: ExportManifest
        public let path: String
        public var position: UInt64? { manifest.chainHead.size }
        public var members: [String: JSONValue] {
            [
                "file": .string(manifest.file), "count": .integer(Int64(manifest.count)),
                "firstSeq": manifest.firstSeq.map { .integer(Int64($0)) } ?? .null,
                "lastSeq": manifest.lastSeq.map { .integer(Int64($0)) } ?? .null,
                "sha256": .string(manifest.sha256),
                "chainHead": ["size": .integer(Int64(manifest.chainHead.size)), "root": .string(manifest.chainHead.root)],
                "complete": .bool(manifest.complete),
                "range": ["firstSeq": .integer(Int64(manifest.range.firstSeq)), "lastSeq": .integer(Int64(manifest.range.lastSeq))],
                "files": .object(manifest.files.mapValues { .string($0) }), "path": .string(path),
            ]
        }
        public static let schema = Schema.object([
            "file": .string(), "count": .integer(), "firstSeq": .nullable(.integer()), "lastSeq": .nullable(.integer()),
            "sha256": .string(), "chainHead": ExportMethods.chainHead, "complete": .boolean(),
            "range": .object(["firstSeq": .integer(), "lastSeq": .integer()]), "files": .map(.string("SHA-256, hex.")),
            "path": .string("Where the bundle was written."),
        ])
    }

    public static func perform(_ params: Params, with writing: Writing) throws(QueryError) -> Answer {
        let destination = try writing.exportDestination(params.path)
        let reader = try writing.reading.reader()
        let source = try writing.reading.source()
        let key = try writing.signingKey()
        let manifest = try engine { () throws(LogError) in
            try AuditExport.write(
                params.request, reader: reader, events: source, key: key, checkpoints: writing.checkpoints, to: destination,
                progress: writing.service.progress)
        }
        return Answer(manifest: manifest, path: destination.path)
    }
}

/// `export.accessReview`: who holds which role on what in an org at a moment, as a bundle.
public enum AccessReviewMethod: WritingMethod {
    public static let name = "export.accessReview"
    public static let summary =
        "Who holds which role on what in an org at a moment, with grant, granted at and by, expiry and how it is held."

    public struct Params: QueryParams {
        public var org: String
        public var at: LogPosition?
        /// What `at` was given as, for the manifest (a seq or a time, as written).
        public var atText: String?
        public var since: Int64?
        public var format: ExportFormat
        public var path: String

        public init(org: String, at: LogPosition?, atText: String?, since: Int64?, format: ExportFormat, path: String) {
            self.org = org
            self.at = at
            self.atText = atText
            self.since = since
            self.format = format
            self.path = path
        }

        public static let parameters = [
            Parameter("org", .string("The org (org_… or org/org_…)."), required: true), AccessMethods.at,
            Parameter("since", .time("Also every change of access from then to the review's moment.")),
            Parameter("format", .oneOf(["csv", "jsonl"]), required: true), ExportMethods.path,
        ]

        public init(_ p: Parameters) throws(QueryError) {
            let org = try p.required("org")
            let format: ExportFormat
            switch try p.required("format") {
            case "csv": format = .csv
            case "jsonl": format = .jsonl
            default: throw .params("format must be csv or jsonl", at: "/format")
            }
            self.init(
                org: org, at: try p.position("at"), atText: ExportMethods.text(of: "at", p), since: try p.time("since"), format: format,
                path: try p.required("path")
            )
        }
    }

    public static func perform(_ params: Params, with writing: Writing) throws(QueryError) -> BundleAnswer {
        let destination = try writing.exportDestination(params.path)
        let reading = writing.reading(["access"])
        let moment = try ModelMoment(params.at, reading)
        // The changes run from `since` to the review's moment (before any event, for seq 0).
        let until = moment.when.bounds.time
        if let since = params.since, since > until {
            throw .params("since must not be after the moment of the review (at, or now)", at: "/since")
        }
        let db = try reading.database("access")
        let files = try engine { () throws(LogError) in
            try AccessReviewExport.files(org: params.org, at: moment.when, since: params.since, until: until, format: params.format, in: db)
        }
        return try ExportMethods.bundle(
            files, format: AccessReviewExport.format,
            query: [
                "method": name, "org": params.org, "at": params.atText, "since": params.since.map(Timestamp.format),
                "format": params.format.rawValue,
            ], position: moment.position, reading: reading, writing: writing, to: destination)
    }
}

/// `export.backups`: evidence that scheduled databases were backed up over a period.
public enum BackupEvidenceMethod: WritingMethod {
    public static let name = "export.backups"
    public static let summary =
        "Every database with a backup schedule in force during a period, every backup attempt in it, and every gap where a schedule was missed, as a signed bundle."

    public struct Params: QueryParams {
        public var from: Int64
        public var to: Int64
        public var format: ExportFormat
        public var path: String

        public static let parameters = [
            Parameter("from", .time("The period's start (by occurredAt)."), required: true),
            Parameter("to", .time("The period's end, included; one after now ends now."), required: true),
            Parameter("format", .oneOf(["csv", "jsonl"]), required: true), ExportMethods.path,
        ]

        public init(_ p: Parameters) throws(QueryError) {
            let (from, to) = try p.period()
            guard let from else { throw .params("from is required", at: "/from") }
            guard let to else { throw .params("to is required", at: "/to") }
            (self.from, self.to) = (from, to)
            format = try ExportMethods.format(p)
            path = try p.required("path")
        }
    }

    public static func perform(_ params: Params, with writing: Writing) throws(QueryError) -> BundleAnswer {
        let destination = try writing.exportDestination(params.path)
        let reading = writing.reading(["databases"])
        let position = try reading.position(of: "databases")
        let db = try reading.database("databases")
        // Evidence of what has happened: a period running into the future ends now (a schedule
        // is not missed before its time comes).
        let to = min(params.to, Timestamp.now())
        guard params.from <= to else { throw .params("from must not be in the future", at: "/from") }
        let files = try engine { () throws(LogError) in
            try BackupEvidence.files(from: params.from, to: to, format: params.format, in: db)
        }
        return try ExportMethods.bundle(
            files, format: BackupEvidence.format,
            query: ["method": name, "from": Timestamp.format(params.from), "to": Timestamp.format(to), "format": params.format.rawValue],
            position: position, reading: reading, writing: writing, to: destination)
    }
}

/// `export.tokens`: every API token at a moment with its rotations and status, the stale ones
/// marked.
public enum TokenEvidenceMethod: WritingMethod {
    public static let name = "export.tokens"
    public static let summary =
        "Every API token at a moment with its rotations and status (active, revoked or expired), the stale ones marked, as a signed bundle."

    public struct Params: QueryParams {
        public var at: LogPosition?
        /// What `at` was given as, for the manifest.
        public var atText: String?
        public var olderThanDays: Int64
        public var format: ExportFormat
        public var path: String

        public static let parameters = [
            InventoryMethods.at,
            Parameter("olderThanDays", .integer(0...36_500, "A token not created or rotated within this many days is stale (default 90).")),
            Parameter("format", .oneOf(["csv", "jsonl"]), required: true), ExportMethods.path,
        ]

        public init(_ p: Parameters) throws(QueryError) {
            at = try p.position("at")
            atText = ExportMethods.text(of: "at", p)
            olderThanDays = try p.integer("olderThanDays", in: 0...36_500) ?? 90
            format = try ExportMethods.format(p)
            path = try p.required("path")
        }
    }

    public static func perform(_ params: Params, with writing: Writing) throws(QueryError) -> BundleAnswer {
        let destination = try writing.exportDestination(params.path)
        let reading = writing.reading(["tokens"])
        let moment = try ModelMoment(params.at, of: "tokens", reading)
        let db = try reading.database("tokens")
        let files = try engine { () throws(LogError) in
            try TokenEvidence.files(at: moment.when, olderThanDays: params.olderThanDays, format: params.format, in: db)
        }
        return try ExportMethods.bundle(
            files, format: TokenEvidence.format,
            query: [
                "method": name, "at": params.atText, "olderThanDays": String(params.olderThanDays), "format": params.format.rawValue,
            ], position: moment.position, reading: reading, writing: writing, to: destination)
    }
}
