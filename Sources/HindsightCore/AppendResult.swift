/// What a batch expects of a stream's version before it appends (`expectedVersions`).
public enum ExpectedVersion: Sendable, Equatable {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream's last event must have this `streamVersion`.
    case exactly(UInt64)
}

/// Where an appended batch landed.
public struct AppendResult: Sendable, Equatable {
    public let firstSeq: UInt64
    public let lastSeq: UInt64
    public let count: Int
    /// True when every event's id had been stored before: nothing new was written and the
    /// positions are the original ones.
    public let isRetry: Bool

    package init(firstSeq: UInt64, lastSeq: UInt64, count: Int, isRetry: Bool) {
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.count = count
        self.isRetry = isRetry
    }
}

extension ExpectedVersion {
    /// Parses the forms `expectedVersions` takes on the command line: a number, `none`, `any`.
    public init?(_ text: some StringProtocol) {
        switch text {
        case "any": self = .any
        case "none": self = .noStream
        default:
            guard let version = UInt64(text) else { return nil }
            self = .exactly(version)
        }
    }
}
