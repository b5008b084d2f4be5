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
}

extension PersonalDataVault {
    /// Prepares a validated batch for storage: seals its personal fields, then carries out
    /// the erasures it records. A `person.erased` event is the durable record of an erasure,
    /// whoever sends it (the platform, or `erase`), so storing one destroys the person's keys
    /// first: once the batch is acknowledged, the person's data recorded up to it, in the log
    /// or earlier in the batch, is unreadable. Returns the number of keys destroyed.
    @discardableResult
    public func admit(_ batch: inout EnvelopeBatch, catalog: Catalog, directory: String) throws(LogError) -> Int {
        try seal(&batch, catalog: catalog)
        let erasures = batch.bodies(ofTypes: ["person.erased"], catalog: catalog).compactMap { Self.data(of: $0)?["person"] as? String }
        guard !erasures.isEmpty else { return 0 }
        let holdings = try PersonalHoldings(directory: directory, batch: batch, catalog: catalog, vault: self)
        let doomed = Set(erasures.flatMap { holdings.keyIDs(of: $0) }).filter(holds)
        if !doomed.isEmpty { try destroy(doomed) }
        return doomed.count
    }

    /// Erases a person: records `person.erased` (which carries no personal data) in each org
    /// that held their data, which destroys their keys (`admit`). A person is a user id
    /// (`usr_…`: the e-mails of the invitations they accepted) or an e-mail address. Erasing
    /// someone already erased records nothing new.
    public func erase(
        _ person: String, log: EventLog, directory: String, catalog: Catalog,
        actor: String = "hindsight"
    ) throws(LogError) -> ErasureReport {
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
        let live = keyIDs.filter(holds)
        guard !live.isEmpty else { return ErasureReport(person: name, keysDestroyed: 0, fieldsErased: fields.count, recorded: []) }

        let now = Timestamp.format(Int64(Date().timeIntervalSince1970 * 1000))
        let lines = Set(fields.map(\.org)).sorted().map { org in
            #"{"type":"person.erased","stream":"person/\#(name)","occurredAt":"\#(now)","actor":{"kind":"system","id":"\#(actor)"},"org":"\#(org)","data":{"person":"\#(name)"}}"#
        }
        var batch = try EnvelopeParser.parse(ndjson: Array(lines.joined(separator: "\n").utf8), catalog: catalog)
        let destroyed = try admit(&batch, catalog: catalog, directory: directory)
        let result = try log.append(batch)
        return ErasureReport(
            person: name, keysDestroyed: destroyed, fieldsErased: fields.count, recorded: Array(result.firstSeq...result.lastSeq))
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
