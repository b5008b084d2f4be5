import Crypto
import Foundation
public import HindsightCore
import HindsightFiles
import HindsightLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Ed25519 key that signs checkpoints and export manifests, in the C2SP signed-note
/// encoding (`PRIVATE+KEY+NAME+KEYID+BASE64(0x01 | seed)`), so that the tools of
/// transparency logs read it too.
///
/// It lives apart from the data directory, in a file only its owner can read: whoever can
/// rewrite the log must not also be able to sign a new history (docs/export-format.md).
public struct SigningKey: Sendable {
    public let name: String
    /// The Ed25519 seed (swift-crypto's key types are not `Sendable`).
    private let seed: Data
    private var key: Curve25519.Signing.PrivateKey { try! Curve25519.Signing.PrivateKey(rawRepresentation: seed) }

    /// The verifier key anyone may hold: `NAME+KEYID+BASE64(0x01 | public key)`.
    public var verifier: VerifierKey { VerifierKey(name: name, publicKey: key.publicKey.rawRepresentation) }

    /// A new random key.
    public init(name: String) throws(LogError) {
        try VerifierKey.check(name: name)
        self.name = name
        seed = Curve25519.Signing.PrivateKey().rawRepresentation
    }

    /// Where the key lives unless the user says otherwise: `$HINDSIGHT_SIGNING_KEY`, else
    /// `$XDG_CONFIG_HOME/hindsight/signing.key`, else `~/.config/hindsight/signing.key`.
    public static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["HINDSIGHT_SIGNING_KEY"], !path.isEmpty { return path }
        let config =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return config + "/hindsight/signing.key"
    }

    /// Reads the key at `path`, refusing a file that others may read or write.
    public init(path: String) throws(LogError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw LogError(.signingKey, "there is no signing key here; create one with `hindsight keys init`", location: path)
        }
        guard status.st_mode & 0o077 == 0 else {
            throw LogError(
                .signingKey,
                String(
                    format: "the signing key is readable by others (mode %o); it must be 600: chmod 600 it, or make a new one",
                    status.st_mode & 0o777), location: path)
        }
        let text = String(decoding: try FileIO.readFile(path), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY", let encoded = Data(base64Encoded: parts[4]),
            encoded.count == 33, encoded.first == VerifierKey.ed25519,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: encoded.dropFirst())
        else {
            throw LogError(.signingKey, "this is not a signing key (PRIVATE+KEY+NAME+KEYID+KEY)", location: path)
        }
        name = parts[2]
        seed = key.rawRepresentation
        guard verifier.keyID == parts[3] else {
            throw LogError(.signingKey, "the signing key's id \(parts[3]) is not that of its name and key", location: path)
        }
    }

    /// Writes the key to a new file at `path` (mode 600), which must not exist and must not
    /// lie inside `dataDirectory`.
    public func save(to path: String, apartFrom dataDirectory: String?) throws(LogError) {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let insideData = LogError(
            .signingKey,
            "the signing key must live outside the data directory \(dataDirectory ?? ""): whoever can rewrite the log must not be able to sign it",
            location: path)
        if let dataDirectory {
            let data = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
            guard !(absolute + "/").hasPrefix(data + "/") else { throw insideData }
        }
        let folder = (absolute as NSString).deletingLastPathComponent
        // The nearest folder that exists, as it is on disk whatever symbolic links its path
        // goes through, before anything is created.
        if let data = dataDirectory.flatMap(FileIO.identity(of:)) {
            var existing = folder
            while !FileIO.exists(existing) { existing = FileIO.parent(of: existing) }
            let fd = open(existing, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw LogError.system("open", path: existing, errno: errno) }
            defer { close(fd) }
            if try FileIO.directory(fd, liesWithin: data) { throw insideData }
        }
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LogError(.io, "cannot create the signing key's folder: \(error.localizedDescription)", location: folder)
        }
        let fd = open(absolute, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw LogError(.signingKey, "a signing key exists here already; it is left as it was", location: path) }
            throw LogError.system("open", path: path, errno: errno)
        }
        defer { close(fd) }
        let text = Array(
            "PRIVATE+KEY+\(name)+\(verifier.keyID)+\((Data([VerifierKey.ed25519]) + key.rawRepresentation).base64EncodedString())\n".utf8)
        try FileIO.writeAll(fd, text, path: path)
        guard fsync(fd) == 0 else { throw LogError.system("fsync", path: path, errno: errno) }
    }

    /// A signed note: `text` (lines ending with a newline), a blank line and the signature line
    /// `— NAME BASE64(KEYHASH | SIGNATURE)`.
    public func note(_ text: String) throws(LogError) -> String {
        let signature: Data
        do {
            signature = try key.signature(for: Data(text.utf8))
        } catch {
            throw LogError(.signingKey, "signing failed: \(error)")
        }
        return text + "\n\u{2014} \(name) \((verifier.keyHash + signature).base64EncodedString())\n"
    }
}

/// A public key that checks signed notes: `NAME+KEYID+BASE64(0x01 | public key)`, as
/// `hindsight keys public` prints it.
public struct VerifierKey: Sendable, CustomStringConvertible {
    public let name: String
    private let publicKey: Data
    private var key: Curve25519.Signing.PublicKey { try! Curve25519.Signing.PublicKey(rawRepresentation: publicKey) }
    /// The signature type byte of Ed25519 in signed notes.
    static let ed25519: UInt8 = 0x01

    init(name: String, publicKey: Data) {
        self.name = name
        self.publicKey = publicKey
    }

    /// Parses the text form; the error says what is wrong with it.
    public init(_ text: String) throws(LogError) {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(
            separator: "+", maxSplits: 2, omittingEmptySubsequences: false
        ).map(String.init)
        guard parts.count == 3, let encoded = Data(base64Encoded: parts[2]), encoded.count == 33, encoded.first == Self.ed25519,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: encoded.dropFirst())
        else {
            throw LogError(
                .signingKey, "this is not a verifier key (NAME+KEYID+BASE64 of an Ed25519 public key, as `hindsight keys public` prints)")
        }
        name = parts[0]
        publicKey = key.rawRepresentation
        guard keyID == parts[1] else { throw LogError(.signingKey, "the verifier key's id \(parts[1]) is not that of its name and key") }
    }

    /// The first four bytes of SHA-256(NAME | 0x0A | 0x01 | public key), as the signed-note
    /// format identifies a key in a signature line.
    var keyHash: Data { Data(SHA256.hash(data: Data(name.utf8) + [0x0A, Self.ed25519] + key.rawRepresentation).prefix(4)) }
    public var keyID: String { keyHash.map { String(format: "%02x", $0) }.joined() }
    public var description: String { "\(name)+\(keyID)+\((Data([Self.ed25519]) + publicKey).base64EncodedString())" }

    /// The text of a signed note that this key signed; the error says why it is not so.
    public func verifiedText(of note: String) throws(NoteProblem) -> String {
        guard let split = note.range(of: "\n\n") else { throw NoteProblem("it is not a signed note (no blank line before the signatures)") }
        let text = String(note[..<split.lowerBound]) + "\n"
        let signatures = note[split.upperBound...].split(separator: "\n").map(String.init)
        guard !signatures.isEmpty else { throw NoteProblem("it carries no signature") }
        var signers: [String] = []
        for line in signatures {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0] == "\u{2014}", let signature = Data(base64Encoded: String(fields[2])) else {
                throw NoteProblem("a signature line is not `— NAME SIGNATURE`")
            }
            signers.append(String(fields[1]))
            if fields[1] == name, signature.count == 68, signature.prefix(4) == keyHash,
                key.isValidSignature(signature.dropFirst(4), for: Data(text.utf8))
            {
                return text
            }
        }
        throw NoteProblem(
            signers.contains(name)
                ? "its signature by \(name) does not verify: it was altered, or signed by another key of that name"
                : "it is not signed by the key \(name) (signed by \(signers.joined(separator: ", ")))")
    }

    /// A key name: not empty, no spaces, no `+`.
    static func check(name: String) throws(LogError) {
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0 == "+" }) else {
            throw LogError(.signingKey, "a key name must be non-empty, without spaces or '+'", fieldPath: "/name")
        }
    }
}

/// What is wrong with a signed note (a checkpoint, a manifest's signature).
public struct NoteProblem: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
