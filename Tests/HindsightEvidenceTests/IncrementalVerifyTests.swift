import Foundation
import HindsightTestSupport
import Testing

/// `hindsight verify --since-checkpoint PUBLIC` checks what was appended after the newest
/// signed checkpoint, and that the log extends it, in time proportional to the new events.
@Suite("Verification from a checkpoint")
struct IncrementalVerifyTests {
    private let scratch = TemporaryDirectory()
    private var data: String { scratch.path + "/data" }
    private var key: String { scratch.path + "/signing.key" }

    private func hindsight(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(hindsightExecutable, Array(arguments))
    }

    /// Appends `count` generated events (seed 3) after skipping the first `skip`.
    private func append(_ count: Int, skipping skip: Int = 0, to directory: String? = nil) throws {
        let lines = try run(generateExecutable, ["--events", String(skip + count), "--seed", "3"]).stdout.split(separator: "\n").dropFirst(
            skip)
        let file = scratch.path + "/part-\(UUID().uuidString).ndjson"
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let appended = try run(hindsightExecutable, ["append", "--data", directory ?? data, file])
        #expect(appended.status == 0, "\(appended.stderr)")
    }

    private func verifySince(_ publicKey: String) throws -> (ok: Bool, report: [String: Any], stderr: String) {
        let result = try hindsight("verify", "--data", data, "--since-checkpoint", publicKey, "--json")
        let report = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        return (result.status == 0, report, result.stderr)
    }

    /// Flips a byte in the last chunk of the log: one of the events appended last.
    private func damageTheLastChunk() throws {
        let last = try FileManager.default.contentsOfDirectory(atPath: data + "/segments").sorted().last!
        let path = data + "/segments/" + last
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 200] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    @Test func theEventsAfterTheNewestSignedCheckpointAreVerifiedAndTheLogExtendsIt() throws {
        try append(3000)
        let created = try hindsight("keys", "init", "--name", "example.com/log", "--key", key)
        #expect(created.status == 0, "\(created.stderr)")
        let publicKey = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        // Without a checkpoint there is nothing to start from.
        let none = try verifySince(publicKey)
        #expect(!none.ok && none.stderr.contains("no checkpoint"), "\(none.stderr)")

        #expect(try hindsight("checkpoint", "--data", data, "--key", key).status == 0)
        try append(2000, skipping: 3000)
        let since = try verifySince(publicKey)
        #expect(since.ok, "\(since.report) \(since.stderr)")
        #expect(since.report["checked"] as? Int == 2000)
        #expect((since.report["notes"] as? [String])?.contains("verified from the tree head at 3000: 2000 events after it") == true)
        #expect((since.report["head"] as? [String: Any])?["seq"] as? Int == 5000)

        // A checkpoint the key did not sign is passed over.
        let other = TemporaryDirectory()
        #expect(try run(hindsightExecutable, ["keys", "init", "--name", "someone.else", "--key", other.path + "/k"]).status == 0)
        #expect(try hindsight("checkpoint", "--data", data, "--key", other.path + "/k").status == 0)
        #expect(try verifySince(publicKey).report["checked"] as? Int == 2000)
    }

    @Test func damageAfterTheCheckpointIsFoundAndACheckpointOfAnotherHistoryIsRefused() throws {
        try append(3000)
        let publicKey = try hindsight("keys", "init", "--name", "example.com/log", "--key", key).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(try hindsight("checkpoint", "--data", data, "--key", key).status == 0)
        try append(3000, skipping: 3000)
        let checkpoints = data + "/checkpoints"
        let kept = try FileManager.default.contentsOfDirectory(atPath: checkpoints)

        // The same key's checkpoint of another log of the same size.
        let another = scratch.path + "/another"
        try append(3000, skipping: 100, to: another)
        #expect(try run(hindsightExecutable, ["checkpoint", "--data", another, "--key", key]).status == 0)
        let foreign = try FileManager.default.contentsOfDirectory(atPath: another + "/checkpoints")[0]
        try FileManager.default.removeItem(atPath: checkpoints + "/" + kept[0])
        try FileManager.default.copyItem(atPath: another + "/checkpoints/" + foreign, toPath: checkpoints + "/" + foreign)
        let refused = try verifySince(publicKey)
        #expect(!refused.ok)
        #expect(
            ((refused.report["firstBad"] as? [String: Any])?["reason"] as? String)?.contains("is not the checkpoint's") == true,
            "\(refused.report)")
        try FileManager.default.removeItem(atPath: checkpoints + "/" + foreign)
        #expect(try hindsight("checkpoint", "--data", data, "--key", key).status == 0)
        try append(500, skipping: 6000)

        try damageTheLastChunk()
        let damaged = try verifySince(publicKey)
        #expect(!damaged.ok)
        #expect(((damaged.report["firstBad"] as? [String: Any])?["seq"] as? Int ?? 0) > 6000, "\(damaged.report)")
    }
}
