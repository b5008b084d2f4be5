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
    /// Erases a person: destroys the keys of their personal data, then records
    /// `person.erased` (which carries no personal data) in each org that held some. A person
    /// is a user id (`usr_…`: the e-mails of the invitations they accepted) or an e-mail.
    /// Erasing someone already erased records nothing new.
    public func erase(_ person: String, log: EventLog, directory: String, catalog: Catalog,
                      actor: String = "hindsight") throws(LogError) -> ErasureReport {
        let byEmail = person.contains("@")
        guard byEmail || catalog.conforms(person, to: "userId") == true else {
            throw LogError(.invalidEnvelope, "a person is a user id (usr_…) or an e-mail address", fieldPath: "/person")
        }
        let name = byEmail ? try digest(ofEmail: person) : person
        let found = try sealedValues(of: person, byEmail: byEmail, directory: directory)
        let keyIDs = Set(found.keys).union(byEmail ? keyIDs(forDigest: name) : Set())
        guard !keyIDs.isEmpty else {
            throw LogError(.outOfRange, "no personal data of \(byEmail ? "this e-mail address" : person) is held", fieldPath: "/person")
        }
        let live = keyIDs.filter(holds)
        guard !live.isEmpty else {
            return ErasureReport(person: name, keysDestroyed: 0, fieldsErased: found.values.reduce(0) { $0 + $1.count }, recorded: [])
        }
        try destroy(live)

        let orgs = Set(found.filter { live.contains($0.key) }.values.flatMap { $0 }).sorted()
        let now = Timestamp.format(Int64(Date().timeIntervalSince1970 * 1000))
        let lines = (orgs.isEmpty ? ["system"] : orgs).map { org in
            #"{"type":"person.erased","stream":"person/\#(name)","occurredAt":"\#(now)","actor":{"kind":"system","id":"\#(actor)"},"org":"\#(org)","data":{"person":"\#(name)"}}"#
        }
        let result = try log.append(EnvelopeParser.parse(ndjson: Array(lines.joined(separator: "\n").utf8), catalog: catalog))
        return ErasureReport(person: name, keysDestroyed: live.count, fieldsErased: found.values.reduce(0) { $0 + $1.count },
                             recorded: Array(result.firstSeq...result.lastSeq))
    }

    /// The key ids of a person's sealed values in the log, each with the orgs of its events:
    /// for an e-mail, the invitations sent to it; for a user, the invitations they accepted.
    private func sealedValues(of person: String, byEmail: Bool, directory: String) throws(LogError) -> [String: [String]] {
        var query = ReadQuery()
        query.types = ["member.invited", "invitation.accepted"]
        var invited: [String: (keyID: String, org: String)] = [:]  // invitation → its e-mail's key
        var accepted: Set<String> = []
        let digest = byEmail ? try self.digest(ofEmail: person) : ""
        let emailKeys = byEmail ? keyIDs(forDigest: digest) : []
        let reader = try LogReader(directory: directory)
        do {
            try reader.read(query) { event in
            guard let object = try? JSONSerialization.jsonObject(with: Data(event.line)) as? [String: Any],
                  let data = object["data"] as? [String: Any], let invitation = data["invitation"] as? String else { return true }
            if event.type == "member.invited", let email = data["email"] as? String, let keyID = Self.keyID(ofSealed: email) {
                invited[invitation] = (keyID, event.org)
            } else if event.type == "invitation.accepted", data["user"] as? String == person {
                accepted.insert(invitation)
            }
            return true
            }
        } catch let error as LogError {
            throw error
        } catch {
            throw LogError(.io, "cannot read the log: \(error)")
        }
        var found: [String: [String]] = [:]
        for (invitation, sealed) in invited where byEmail ? emailKeys.contains(sealed.keyID) : accepted.contains(invitation) {
            found[sealed.keyID, default: []].append(sealed.org)
        }
        return found
    }
}
