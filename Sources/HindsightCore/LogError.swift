/// An error from the event log: a stable code that tools can match on, a message a person
/// can act on, and where it happened.
///
/// Messages never quote event payloads (they may hold personal data); they name the line,
/// the field path and the rule instead.
public struct LogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stable kind of a failure, as `data.kind` in JSON-RPC errors.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A line or event that is not a valid envelope.
        public static let invalidEnvelope = Code(rawValue: "invalid_envelope")
        /// An event's `data` does not fit the schema of its type and version.
        public static let schemaViolation = Code(rawValue: "schema_violation")
        /// An event carries what looks like a secret (EVENTS.md, "Secrets never enter the log").
        public static let secretInPayload = Code(rawValue: "secret_in_payload")
        /// An event's type, or its schemaVersion, is not in the catalogue.
        public static let unknownType = Code(rawValue: "unknown_type")
        /// A stream's version was not the one the batch expected.
        public static let wrongExpectedVersion = Code(rawValue: "wrong_expected_version")
        /// A batch reuses an event id in a way that cannot be an idempotent retry.
        public static let idempotencyConflict = Code(rawValue: "idempotency_conflict")
        /// Stored data failed a checksum, hash or structural check.
        public static let logCorrupt = Code(rawValue: "log_corrupt")
        /// Another process holds the data directory for writing.
        public static let writerLocked = Code(rawValue: "writer_locked")
        /// The operating system refused an I/O operation.
        public static let io = Code(rawValue: "io_error")
        /// There is no data directory where a reader was pointed.
        public static let noLog = Code(rawValue: "no_log")
        /// A request named something the log does not hold (a seq beyond the head, …).
        public static let outOfRange = Code(rawValue: "out_of_range")
        /// A signing or verifier key is missing, malformed, or readable by others.
        public static let signingKey = Code(rawValue: "signing_key")
        /// A read model's database is damaged; the engine builds it again from the log.
        public static let readModelDamaged = Code(rawValue: "read_model_damaged")
        /// A path the process may not write to: an export outside the directory it was
        /// told to write exports in, through a symbolic link, or inside the data directory.
        public static let pathRefused = Code(rawValue: "path_refused")
    }

    public let code: Code
    public let message: String
    /// Where it happened: a file path, `line 3`, a seq.
    public let location: String?
    /// A JSON Pointer to the offending field, for bad input.
    public let fieldPath: String?
    /// The rule bad input broke: a schema keyword (`enum`, `maxLength`, `required` …), a
    /// shared definition of EventSchemas/common.json (`projectId`, `timestamp` …), or `secret`.
    public let rule: String?
    /// The type of the offending event, once it was known.
    public let eventType: String?

    public init(
        _ code: Code, _ message: String, location: String? = nil, fieldPath: String? = nil,
        rule: String? = nil, eventType: String? = nil
    ) {
        self.code = code
        self.message = message
        self.location = location
        self.fieldPath = fieldPath
        self.rule = rule
        self.eventType = eventType
    }

    public var description: String {
        var parts: [String] = []
        if let location { parts.append(location + (eventType.map { " (\($0))" } ?? "")) }
        if let fieldPath { parts.append("field \(fieldPath.isEmpty ? "(the whole line)" : fieldPath)") }
        let prefix = parts.isEmpty ? "" : parts.joined(separator: ", ") + ": "
        return "\(prefix)\(message) [\(code)\(rule.map { ": \($0)" } ?? "")]"
    }

    /// An error from a failed system call, naming the call and the path.
    public static func system(_ call: String, path: String, errno code: Int32) -> LogError {
        LogError(.io, "\(call) failed: \(String(cString: strerror(code))) (errno \(code))", location: path)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
