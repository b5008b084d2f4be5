import Foundation
public import HindsightCatalog
public import HindsightLog

/// What an erasure made unreadable, and where it was recorded.
public struct ErasureReport: Encodable, Sendable {
    /// The person as `person.erased` names them: a user id, or the keyed digest of an e-mail.
    public let person: String
    /// Keys destroyed now (0 when the person was already erased).
    public let keysDestroyed: Int
    /// Stored personal values that now read as `[erased]`.
    public let fieldsErased: Int
    /// Seqs of the `person.erased` events recorded (one per org that held the data).
    public let recorded: [UInt64]

    public init(person: String, keysDestroyed: Int, fieldsErased: Int, recorded: [UInt64]) {
        self.person = person
        self.keysDestroyed = keysDestroyed
        self.fieldsErased = fieldsErased
        self.recorded = recorded
    }
}

/// What erasing a person takes: the `person.erased` events to record (nil when the person
/// was erased before) and how many stored values their keys make readable.
public struct ErasureRequest: Sendable {
    /// The person as `person.erased` names them: a user id, or the keyed digest of an e-mail.
    public let person: String
    public let fieldsErased: Int
    public let batch: EnvelopeBatch?
}

/// An erasure under way, kept in `keys/erasing` from before its `person.erased` events are
/// appended until the keys they doom are destroyed, so that a writer stopped in between
/// finishes it when the log is next opened: every erasure carried out is in the log, and
/// every erasure in the log is carried out.
///
///     after 1234             the log's size before the events were appended
///     KEY_ID PERSON          one line per key to destroy, with the person that dooms it
public struct ErasureIntent: Sendable, Equatable {
    /// The log's size when the intent was written: its events come after.
    public let after: UInt64
    /// Key id → the person whose `person.erased` dooms it.
    public let keys: [String: String]

    var text: [UInt8] {
        Array(("after \(after)\n" + keys.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()).utf8)
    }

    public init(after: UInt64, keys: [String: String]) {
        self.after = after
        self.keys = keys
    }

    init?(text: [UInt8]) {
        let lines = text.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        guard let first = lines.first, first.hasPrefix("after "), let after = UInt64(first.dropFirst(6)) else { return nil }
        var keys: [String: String] = [:]
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count == 2 else { return nil }
            keys[String(fields[0])] = String(fields[1])
        }
        self.init(after: after, keys: keys)
    }
}

extension PersonalDataVault {
    /// The keys a validated batch dooms, each with the person its `person.erased` names: a
    /// `person.erased` event is the durable record of an erasure, whoever sends it (the
    /// platform, or `erase`), so once it is acknowledged the person's data recorded up to it,
    /// in the log or earlier in the batch, must read as erased.
    public func keysErased(by batch: EnvelopeBatch, catalog: Catalog, directory: String) throws(LogError) -> [String: String] {
        let erasures = batch.bodies(ofTypes: ["person.erased"], catalog: catalog).compactMap { Self.data(of: $0)?["person"] as? String }
        guard !erasures.isEmpty else { return [:] }
        let holdings = try PersonalHoldings(directory: directory, batch: batch, catalog: catalog, vault: self)
        var doomed: [String: String] = [:]
        for person in erasures {
            for keyID in holdings.keyIDs(of: person) where holds(keyID) { doomed[keyID] = person }
        }
        return doomed
    }

    private var intentPath: String { directory + "/erasing" }

    /// Records, durably, that the intent's events are about to be appended.
    public func begin(_ intent: ErasureIntent) throws(LogError) {
        try FileIO.makeDirectory(directory, mode: 0o700)
        try FileIO.replaceDurably(intentPath, with: [intent.text], mode: 0o600)
    }

    /// Whether an erasure is under way or was left unfinished (one `stat`: cheap enough to
    /// ask after every append).
    public var hasUnfinishedErasure: Bool { FileIO.exists(intentPath) }

    /// The erasure a writer left unfinished, if any.
    public func unfinishedErasure() throws(LogError) -> ErasureIntent? {
        guard FileIO.exists(intentPath) else { return nil }
        guard let intent = ErasureIntent(text: try FileIO.readFile(intentPath)) else {
            throw LogError(.logCorrupt, "the record of an erasure under way cannot be read", location: intentPath)
        }
        return intent
    }

    /// Carries an erasure through as far as the log records it: destroys the keys of every
    /// person whose `person.erased` is among `reader`'s events after the intent, then forgets
    /// the intent. With `settled` false (batches may be durable that readers do not show
    /// yet) an intent whose events are not all visible is kept, to be finished later.
    /// Returns the number of keys destroyed.
    @discardableResult
    public func finish(_ intent: ErasureIntent, reader: LogReader, settled: Bool) throws(LogError) -> Int {
        var recorded: Set<String> = []
        var query = ReadQuery()
        query.from = intent.after + 1
        query.types = ["person.erased"]
        try reader.read(query) { (event: StoredEvent) throws(LogError) in
            if let person = Self.data(of: Array(event.line))?["person"] as? String { recorded.insert(person) }
            return true
        }
        let doomed = Set(intent.keys.filter { recorded.contains($0.value) }.keys).filter(holds)
        if !doomed.isEmpty { try destroy(doomed) }
        if settled || Set(intent.keys.values).isSubset(of: recorded) {
            guard unlink(intentPath) == 0 || errno == ENOENT else { throw LogError.system("unlink", path: intentPath, errno: errno) }
            try FileIO.fsyncDirectory(directory)
        }
        return doomed.count
    }

    /// What erasing a person records: `person.erased` (which carries no personal data) in
    /// each org that held their data. A person is a user id (`usr_…`: the e-mails of the
    /// invitations they accepted) or an e-mail address. Erasing someone already erased
    /// records nothing new.
    public func erasure(_ person: String, directory: String, catalog: Catalog, actor: String = "hindsight") throws(LogError) -> ErasureRequest {
        let byEmail = person.contains("@")
        guard byEmail || catalog.conforms(person, to: "userId") == true else {
            throw LogError(.invalidEnvelope, "a person is a user id (usr_…) or an e-mail address", fieldPath: "/person")
        }
        // Erasing reads: it creates nothing until it has something to erase.
        guard let name = byEmail ? try digest(ofEmail: person, create: false) : person else {
            throw LogError(.outOfRange, "no personal data of this e-mail address is held", fieldPath: "/person")
        }
        let holdings = try PersonalHoldings(directory: directory, batch: nil, catalog: catalog, vault: self)
        let keyIDs = holdings.keyIDs(of: name)
        let fields = holdings.values.filter { keyIDs.contains($0.keyID) }
        guard !keyIDs.isEmpty else {
            throw LogError(.outOfRange, "no personal data of \(byEmail ? "this e-mail address" : person) is held", fieldPath: "/person")
        }
        guard keyIDs.contains(where: holds) else { return ErasureRequest(person: name, fieldsErased: fields.count, batch: nil) }

        let now = JSONText.quoted(Timestamp.format(Int64(Date().timeIntervalSince1970 * 1000)))
        let lines = Set(fields.map(\.org)).sorted().map { org in
            #"{"type":"person.erased","stream":"# + JSONText.quoted("person/" + name) + #","occurredAt":"# + now
                + #","actor":{"kind":"system","id":"# + JSONText.quoted(actor) + #"},"org":"# + JSONText.quoted(org)
                + #","data":{"person":"# + JSONText.quoted(name) + "}}"
        }
        let batch = try EnvelopeParser.parse(ndjson: Array(lines.joined(separator: "\n").utf8), catalog: catalog)
        return ErasureRequest(person: name, fieldsErased: fields.count, batch: batch)
    }

    static func data(of canonical: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(canonical)) as? [String: Any])?["data"] as? [String: Any]
    }
}

/// Whose personal data is where: every sealed e-mail in the log (and in a batch about to be
/// stored) with its invitation, org and key, and which user accepted which invitation.
struct PersonalHoldings {
    struct Value {
        let invitation: String
        let org: String
        let keyID: String
    }

    private(set) var values: [Value] = []
    private var acceptedBy: [String: Set<String>] = [:]  // user → invitations
    private let vault: PersonalDataVault

    init(directory: String, batch: EnvelopeBatch?, catalog: Catalog, vault: PersonalDataVault) throws(LogError) {
        self.vault = vault
        let types: Set<String> = ["member.invited", "invitation.accepted"]
        var query = ReadQuery()
        query.types = types
        try LogReader(directory: directory).read(query) { (event: StoredEvent) throws(LogError) in
            take(Array(event.line), type: event.type, org: event.org)
            return true
        }
        for body in batch?.bodies(ofTypes: types, catalog: catalog) ?? [] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let type = object["type"] as? String, let org = object["org"] as? String
            else { continue }
            take(body, type: type, org: org)
        }
    }

    private mutating func take(_ canonical: [UInt8], type: String, org: String) {
        guard let data = PersonalDataVault.data(of: canonical), let invitation = data["invitation"] as? String else { return }
        if type == "member.invited", let email = data["email"] as? String, let keyID = PersonalDataVault.keyID(ofSealed: email) {
            values.append(Value(invitation: invitation, org: org, keyID: keyID))
        } else if type == "invitation.accepted", let user = data["user"] as? String {
            acceptedBy[user, default: []].insert(invitation)
        }
    }

    /// The keys of a person as `person.erased` names them: a user id (the invitations they
    /// accepted) or the keyed digest of an e-mail.
    func keyIDs(of person: String) -> Set<String> {
        if let invitations = acceptedBy[person] {
            return Set(values.filter { invitations.contains($0.invitation) }.map(\.keyID))
        }
        let byDigest = vault.keyIDs(forDigest: person)
        return byDigest.union(values.filter { byDigest.contains($0.keyID) }.map(\.keyID))
    }
}
