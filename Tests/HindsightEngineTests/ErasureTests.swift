import Foundation
import HindsightCatalog
import HindsightCore
import HindsightLog
import HindsightTestSupport
import HindsightVault
import Testing

@testable import HindsightEngine

/// An invitation of `email` to a team of `org`, and its acceptance by `user`.
func invitation(_ number: Int, email: String, user: String?, org: String = "org_1") -> [String] {
    let invite =
        #"{"type":"member.invited","stream":"team/team_1","occurredAt":"2026-03-01T09:\#(10 + number):00.000Z","actor":{"kind":"user","id":"usr_admin"},"org":"\#(org)","data":{"invitation":"inv_\#(number)","team":"team_1","email":"\#(email)","role":"developer","expiresAt":"2026-03-08T09:30:00.000Z"}}"#
    guard let user else { return [invite] }
    let accept =
        #"{"type":"invitation.accepted","stream":"team/team_1","occurredAt":"2026-03-01T09:\#(10 + number):30.000Z","actor":{"kind":"user","id":"\#(user)"},"org":"\#(org)","data":{"invitation":"inv_\#(number)","team":"team_1","user":"\#(user)"}}"#
    return [invite, accept]
}

let buildStarted =
    #"{"type":"build.started","stream":"build/b_1","occurredAt":"2026-03-01T09:30:00.000Z","actor":{"kind":"system","id":"ci"},"org":"org_1","data":{"build":"b_1","project":"prj_1","runner":"runner-1"}}"#

struct CLI {
    let dir = TemporaryDirectory()

    @discardableResult
    func callAsFunction(_ arguments: String..., stdin: [String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(
            hindsightExecutable, [arguments[0], "--data", dir.path] + arguments.dropFirst(),
            stdin: stdin.map { Data(($0.joined(separator: "\n") + "\n").utf8) })
    }

    /// Every segment decompressed by the stock lz4 tool: what anyone with the files can read.
    func decompressedSegments() throws -> String {
        let segments = dir.segments.joined(separator: " ")
        return try run("/bin/sh", ["-c", "cat \(segments) | lz4 -dc"]).stdout
    }
}

@Suite("Personal data is stored encrypted and can be erased")
struct ErasureTests {
    @Test func personalFieldsAreCiphertextOnDiskAndPlaintextToReaders() throws {
        let cli = CLI()
        let history = invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
        #expect(try cli("append", stdin: history).status == 0)
        let raw = try cli.decompressedSegments()
        #expect(!raw.contains("ada@example.com"))
        #expect(raw.contains(#""email":"enc:v1:"#))
        #expect(try cli("read").stdout.contains(#""email":"ada@example.com""#))
        #expect(try cli("read", "--stored").stdout.contains(#""email":"enc:v1:"#))

        let keys = cli.dir.path + "/keys"
        let folder = try FileManager.default.attributesOfItem(atPath: keys)[.posixPermissions] as? Int
        #expect(folder == 0o700)
        for file in ["digest.key", "people.keys"] {
            let mode = try FileManager.default.attributesOfItem(atPath: keys + "/" + file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file)")
        }
    }

    /// An erasure a user or token asked for is recorded with that actor, not as the system's.
    @Test func anErasureAskedForByAUserIsRecordedAsThatUsers() throws {
        let cli = CLI()
        let history = invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
        #expect(try cli("append", stdin: history).status == 0)
        #expect(try cli("erase", "usr_7", "--actor", "usr_dpo").status == 0)
        #expect(try cli("read", "--type", "person.erased").stdout.contains(#""actor":{"kind":"user","id":"usr_dpo"}"#))
        #expect(try cli("erase", "usr_8", "--actor", "tok_privacy_bot").status == 0)
        let erasures = try cli("read", "--type", "person.erased").stdout
        #expect(erasures.contains(#""actor":{"kind":"token","id":"tok_privacy_bot"}"#), "\(erasures)")
    }

    @Test func erasingAUserHidesTheirEmailEverywhereAndTheLogStillVerifies() throws {
        let cli = CLI()
        let history =
            invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
            + invitation(3, email: "Ada@Example.com", user: nil, org: "org_2")
        #expect(try cli("append", stdin: history).status == 0)
        let before = try cli("verify", "--json").stdout

        let erased = try cli("erase", "usr_7")
        #expect(erased.status == 0, "\(erased.stderr)")
        // The same address in another org (any letter case) is the same person, with the same
        // key: both fields become unreadable, and the erasure is recorded in both orgs.
        #expect(erased.stdout.contains(#""fieldsErased":2"#) && erased.stdout.contains(#""keysDestroyed":1"#), "\(erased.stdout)")
        #expect(erased.stdout.contains(#""recorded":[6,7]"#), "\(erased.stdout)")

        let read = try cli("read").stdout
        #expect(!read.lowercased().contains("ada@example.com"))
        #expect(read.components(separatedBy: #""email":"[erased]""#).count - 1 == 2)
        #expect(read.contains(#""email":"grace@example.com""#))
        #expect(read.contains(#""type":"person.erased","stream":"person/usr_7""#))
        // Asked for by nobody in particular, the erasure is the system's.
        #expect(read.contains(#""actor":{"kind":"system","id":"hindsight"}"#))
        #expect(!(try cli.decompressedSegments()).lowercased().contains("ada@example.com"))

        // Erasure appends; it rewrites nothing, so the old tree head is a prefix of the new one.
        let after = try cli("verify", "--json")
        #expect(after.status == 0)
        let oldSize = try #require(before.firstMatch(of: /"seq":(\d+)/)?.1)
        #expect(try cli("consistency", String(oldSize)).status == 0)
        let verifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/verify_log.py").path
        #expect(try run("/usr/bin/env", ["python3", verifier, cli.dir.path]).status == 0)

        // Again: nothing left to destroy, nothing recorded.
        let again = try cli("erase", "usr_7")
        #expect(again.status == 0)
        #expect(again.stdout.contains(#""keysDestroyed":0"#) && again.stdout.contains(#""recorded":[]"#))
    }

    @Test func erasingByEmailRecordsOnlyTheKeyedDigestInEachOrg() throws {
        let cli = CLI()
        let history = invitation(1, email: "ada@example.com", user: nil) + invitation(2, email: "ada@example.com", user: nil, org: "org_2")
        #expect(try cli("append", stdin: history).status == 0)
        let erased = try cli("erase", "ADA@example.com")
        #expect(erased.status == 0, "\(erased.stderr)")
        let digest = try #require(erased.stdout.firstMatch(of: /"person":"([0-9a-f]{64})"/)?.1)
        #expect(erased.stdout.contains(#""recorded":[3,4]"#), "\(erased.stdout)")
        let read = try cli("read").stdout
        #expect(!read.contains("ada@"))
        #expect(read.contains(#""data":{"person":"\#(digest)"}"#))
        #expect(read.contains(#""org":"org_1""#) && read.contains(#""org":"org_2""#))

        // After erasure the address may be invited again: new data, a new key, readable.
        #expect(try cli("append", stdin: invitation(5, email: "ada@example.com", user: nil)).status == 0)
        #expect(try cli("read", "--from", "5").stdout.contains(#""email":"ada@example.com""#))
    }

    @Test func erasingSomeoneUnknownIsAnErrorThatChangesNothing() throws {
        let cli = CLI()
        let history = invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
        #expect(try cli("append", stdin: history).status == 0)
        let before = try contents(of: cli.dir.path)
        for person in ["usr_99", "nobody@example.com", "not a person"] {
            let result = try cli("erase", person)
            #expect(result.status == 1, "\(person)")
            #expect(result.stderr.contains("/person"), "\(result.stderr)")
        }
        #expect(try contents(of: cli.dir.path) == before)
        // Not even the digest key is created by a refused erasure in a log without personal data.
        let empty = CLI()
        #expect(try empty("append", stdin: [buildStarted]).status == 0)
        #expect(try empty("erase", "nobody@example.com").status == 1)
        #expect(!FileManager.default.fileExists(atPath: empty.dir.path + "/keys"))
    }

    /// The stored e-mail of invitation `inv_1` as readers see it, and the `person.erased` events.
    private func state(_ cli: CLI) throws -> (email: String, erasures: Int) {
        let read = try cli("read").stdout
        let email = String(try #require(read.firstMatch(of: /"email":"([^"]*)"/)?.1))
        return (email, read.components(separatedBy: #""type":"person.erased""#).count - 1)
    }

    @Test("an erasure whose record cannot be appended destroys no key, and a retry records and carries it out")
    func erasureThatCannotBeRecordedDestroysNothing() throws {
        let cli = CLI()
        let history = invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
        #expect(try cli("append", stdin: history).status == 0)
        // A segment beyond the file-size limit: appending to it fails (EFBIG), writing the small
        // key file would not.
        let filler = (2...400).map { n in
            buildStarted.replacingOccurrences(of: "b_1", with: "b_\(n)").replacingOccurrences(of: "runner-1", with: "runner-\(n * 7919)")
        }
        #expect(try cli("append", stdin: filler).status == 0)
        let limited = try run("/bin/bash", ["-c", "ulimit -f 8; '\(hindsightExecutable)' erase --data '\(cli.dir.path)' usr_7"])
        #expect(limited.status == 1, "\(limited.status) \(limited.stderr)")
        #expect(try state(cli) == ("ada@example.com", 0))

        let erased = try cli("erase", "usr_7")
        #expect(erased.status == 0 && erased.stdout.contains(#""keysDestroyed":1"#), "\(erased.stdout) \(erased.stderr)")
        #expect(try state(cli) == ("[erased]", 1))
    }

    @Test("a person.erased refused by its batch's expected versions destroys no key")
    func refusedErasureBatchDestroysNothing() throws {
        let cli = CLI()
        let history = invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
        #expect(try cli("append", stdin: history).status == 0)
        let erasure =
            #"{"type":"person.erased","stream":"person/usr_7","occurredAt":"2026-03-02T09:00:00.000Z","actor":{"kind":"system","id":"gdpr"},"org":"org_1","data":{"person":"usr_7"}}"#
        let refused = try cli("append", "--expect", "person/usr_7=5", stdin: [erasure])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(try state(cli) == ("ada@example.com", 0))
        #expect(!FileManager.default.fileExists(atPath: cli.dir.path + "/keys/erasing"))
        #expect(try cli("append", stdin: [erasure]).status == 0)
        #expect(try state(cli) == ("[erased]", 1))
    }

    @Test("a writer stopped after recording an erasure and before destroying the keys destroys them when the log is next opened")
    func recordedErasureIsFinishedOnOpen() throws {
        let cli = CLI()
        #expect(
            try cli(
                "append",
                stdin: invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
            ).status == 0)
        // What such a writer leaves: the intent, and the record appended, with the keys still held.
        do {
            let engine = try Engine(directory: cli.dir.path)
            let batch = try #require(try engine.erasure(of: "usr_7", actor: "hindsight").batch)
            let doomed = try engine.keysErased(by: batch)
            #expect(doomed.count == 1)
            try engine.vault.begin(ErasureIntent(after: engine.log.size, keys: doomed))
            _ = try engine.log.append(batch)
        }
        #expect(try state(cli).erasures == 1)
        // A reader alone changes nothing; the next writer finishes the erasure.
        #expect(try cli("read").stdout.contains("ada@example.com"))
        #expect(try cli("append", stdin: [buildStarted]).status == 0)
        let read = try cli("read").stdout
        #expect(!read.contains("ada@example.com") && read.contains("grace@example.com"))
        #expect(!FileManager.default.fileExists(atPath: cli.dir.path + "/keys/erasing"))
        #expect(try cli("verify").status == 0)
    }

    @Test("a writer stopped after its erasure intent and before the record keeps the keys and forgets the intent")
    func unrecordedIntentIsForgottenOnOpen() throws {
        let cli = CLI()
        let history = invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
        #expect(try cli("append", stdin: history).status == 0)
        do {
            let engine = try Engine(directory: cli.dir.path)
            let batch = try #require(try engine.erasure(of: "usr_7", actor: "hindsight").batch)
            try engine.vault.begin(ErasureIntent(after: engine.log.size, keys: try engine.keysErased(by: batch)))
        }
        #expect(try cli("append", stdin: [buildStarted]).status == 0)
        #expect(try state(cli) == ("ada@example.com", 0))
        #expect(!FileManager.default.fileExists(atPath: cli.dir.path + "/keys/erasing"))
    }

    @Test(
        "an erasure whose record is durable but not acknowledged is carried out by the append that acknowledges it, and holds back the next erasure until then"
    )
    func erasureAcknowledgedLaterIsCarriedOut() throws {
        let cli = CLI()
        #expect(
            try cli(
                "append",
                stdin: invitation(1, email: "ada@example.com", user: "usr_7") + invitation(2, email: "grace@example.com", user: "usr_8")
            ).status == 0)
        let engine = try Engine(directory: cli.dir.path)
        // HEAD cannot be replaced while a directory stands where its temporary file goes.
        try FileManager.default.createDirectory(atPath: cli.dir.path + "/HEAD.tmp", withIntermediateDirectories: false)
        #expect(throws: LogError.self) { _ = try engine.erase("usr_7") }
        #expect(try state(cli) == ("ada@example.com", 0))
        #expect {
            _ = try engine.erase("usr_8")
        } throws: { error in
            (error as! LogError).message.contains("an earlier erasure is not finished")
        }

        try FileManager.default.removeItem(atPath: cli.dir.path + "/HEAD.tmp")
        try engine.append(try EnvelopeParser.parse(ndjson: Array(buildStarted.utf8), catalog: .standard))
        #expect(try state(cli) == ("[erased]", 1))
        #expect(!FileManager.default.fileExists(atPath: cli.dir.path + "/keys/erasing"))
        let grace = try engine.erase("usr_8")
        #expect(grace.keysDestroyed == 1)
        #expect(!(try cli("read").stdout.contains("grace@example.com")))
    }

    @Test func aVaultOpenedEarlierReadsKeysWrittenByAnotherProcessSince() throws {
        // The vault reloads its keys when it meets a key id it does not know yet, so a reader
        // (a long-running server) that opened before a person was first seen shows their data.
        let cli = CLI()
        #expect(try cli("append", stdin: invitation(1, email: "ada@example.com", user: nil)).status == 0)
        let vault = try PersonalDataVault(dataDirectory: cli.dir.path)
        #expect(try cli("append", stdin: invitation(2, email: "grace@example.com", user: nil)).status == 0)
        var revealed: [String] = []
        try LogReader(directory: cli.dir.path).read(ReadQuery()) { event in
            revealed.append(String(decoding: vault.reveal(event, catalog: .standard).line, as: UTF8.self))
            return true
        }
        #expect(revealed.count == 2)
        #expect(revealed[0].contains("ada@example.com") && revealed[1].contains("grace@example.com"))
    }
}
