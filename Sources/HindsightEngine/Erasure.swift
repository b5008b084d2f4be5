import Foundation
import HindsightCatalog
import HindsightCore
import HindsightLog
import HindsightReadSide
import HindsightVault

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

/// The `person.erased` event as the engine records it: a value, written as an envelope in
/// the order EVENTS.md writes one (and always the same bytes for the same value), then
/// validated against the catalogue like any producer's event.
struct PersonErased {
    let person: String
    let org: String
    let occurredAtMs: Int64
    /// Who asked: a user (`usr_…`) or token (`tok_…`) is recorded as such, anything else as
    /// the system of that name.
    let actor: String

    /// The actor's kind, from its id's prefix.
    var actorKind: String { actor.hasPrefix("usr_") ? "user" : actor.hasPrefix("tok_") ? "token" : "system" }

    /// The envelope as one NDJSON line.
    var line: [UInt8] {
        var out: [UInt8] = []
        func field(_ name: String, _ value: JSONValue) {
            out.append(out.isEmpty ? UInt8(ascii: "{") : UInt8(ascii: ","))
            JSONValue.string(name).write(to: &out)
            out.append(UInt8(ascii: ":"))
            value.write(to: &out)
        }
        field("type", "person.erased")
        field("stream", .string("person/" + person))
        field("occurredAt", .string(Timestamp.format(occurredAtMs)))
        field(
            "actor",
            .raw(
                Array(#"{"kind":"#.utf8) + JSONValue.string(actorKind).text + Array(#","id":"#.utf8) + JSONValue.string(actor).text + [
                    UInt8(ascii: "}")
                ]))
        field("org", .string(org))
        field("data", ["person": .string(person)])
        out.append(UInt8(ascii: "}"))
        return out
    }
}

extension Engine {
    /// The keys a validated batch dooms, each with the person its `person.erased` names: a
    /// `person.erased` event is the durable record of an erasure, whoever sends it (the
    /// platform, or `erase`), so once it is acknowledged the person's data recorded up to it,
    /// in the log or earlier in the batch, must read as erased.
    func keysErased(by batch: EnvelopeBatch) throws(LogError) -> [String: String] {
        let erasures = batch.bodies(ofTypes: ["person.erased"], catalog: catalog).compactMap {
            PersonalDataVault.data(of: $0)?["person"] as? String
        }
        guard !erasures.isEmpty else { return [:] }
        let holdings = try PersonalHoldings(reader: reader(), batch: batch, catalog: catalog, vault: vault)
        var doomed: [String: String] = [:]
        for person in erasures {
            for keyID in try holdings.keyIDs(of: person) where try vault.holds(keyID) { doomed[keyID] = person }
        }
        return doomed
    }

    /// The people whose `person.erased` the log records after an erasure's intent.
    func peopleErased(after intent: ErasureIntent) throws(LogError) -> Set<String> {
        var recorded: Set<String> = []
        var query = ReadQuery()
        query.from = intent.after + 1
        query.types = ["person.erased"]
        try reader().read(query) { (event: StoredEvent) throws(LogError) in
            if let person = PersonalDataVault.data(of: Array(event.line))?["person"] as? String { recorded.insert(person) }
            return true
        }
        return recorded
    }

    /// What erasing a person records: `person.erased` (which carries no personal data) in
    /// each org that held their data, and how many stored values it makes unreadable. A person
    /// is a user id (`usr_…`: the e-mails of the invitations they accepted) or an e-mail
    /// address. Erasing someone already erased records nothing new (`batch` nil).
    func erasure(of person: String, actor: String) throws(LogError) -> (person: String, fieldsErased: Int, batch: EnvelopeBatch?) {
        let byEmail = person.contains("@")
        guard byEmail || catalog.conforms(person, to: "userId") == true else {
            throw LogError(.invalidEnvelope, "a person is a user id (usr_…) or an e-mail address", fieldPath: "/person")
        }
        // Erasing reads: it creates nothing until it has something to erase.
        guard let name = byEmail ? try vault.digest(ofEmail: person, create: false) : person else {
            throw LogError(.outOfRange, "no personal data of this e-mail address is held", fieldPath: "/person")
        }
        let holdings = try PersonalHoldings(reader: reader(), batch: nil, catalog: catalog, vault: vault)
        let keyIDs = try holdings.keyIDs(of: name)
        let fields = holdings.values.filter { keyIDs.contains($0.keyID) }
        guard !keyIDs.isEmpty else {
            throw LogError(.outOfRange, "no personal data of \(byEmail ? "this e-mail address" : person) is held", fieldPath: "/person")
        }
        var held = false
        for keyID in keyIDs where try vault.holds(keyID) { held = true }
        guard held else { return (name, fields.count, nil) }

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var ndjson: [UInt8] = []
        for org in Set(fields.map(\.org)).sorted() {
            ndjson += PersonErased(person: name, org: org, occurredAtMs: now, actor: actor).line + [UInt8(ascii: "\n")]
        }
        return (name, fields.count, try EnvelopeParser.parse(ndjson: ndjson, catalog: catalog))
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

    init(reader: LogReader, batch: EnvelopeBatch?, catalog: Catalog, vault: PersonalDataVault) throws(LogError) {
        self.vault = vault
        let types: Set<String> = ["member.invited", "invitation.accepted"]
        var query = ReadQuery()
        query.types = types
        try reader.read(query) { (event: StoredEvent) throws(LogError) in
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
    func keyIDs(of person: String) throws(LogError) -> Set<String> {
        if let invitations = acceptedBy[person] {
            return Set(values.filter { invitations.contains($0.invitation) }.map(\.keyID))
        }
        let byDigest = try vault.keyIDs(forDigest: person)
        return byDigest.union(values.filter { byDigest.contains($0.keyID) }.map(\.keyID))
    }
}
