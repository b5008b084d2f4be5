import Crypto
import Foundation
public import HindsightCatalog
public import HindsightCore
import HindsightFiles

/// The keys that make personal data readable: one AES-256-GCM key per person, where a person
/// is an e-mail address (compared without case). Personal fields are stored only as
/// ciphertext under their person's key, so destroying the key erases the data everywhere it
/// was copied (segments, read models, snapshots, exports) without rewriting the log: the
/// Merkle leaves cover the ciphertext, which never changes.
///
/// The vault lives in `DIR/keys/`, apart from the segments:
///
///     keys/digest.key   32 random bytes: the key of the e-mail digests (HMAC-SHA-256)
///     keys/people.keys  one line per person: KEY_ID DIGEST KEY (hex, hex, base64)
///
/// A person's line is written and fsynced before any event sealed with their key is
/// appended, so nothing acknowledged is unreadable; erasure rewrites the file without the
/// line (atomically, durably). The folder is created with mode 0700, both files with 0600.
public final class PersonalDataVault: @unchecked Sendable {
    /// What a reader sees in place of erased personal data.
    public static let erasedMarker = "[erased]"
    /// The prefix of a sealed value: `enc:v1:KEY_ID:BASE64(nonce | ciphertext | tag)`.
    static let sealedPrefix = "enc:v1:"

    struct PersonKey {
        let digest: String
        let key: SymmetricKey
    }

    /// `DIR/keys`.
    let directory: String
    private let lock = NSLock()
    private var digestKey: SymmetricKey?
    private var keys: [String: PersonKey] = [:]
    private var keyByDigest: [String: String] = [:]
    /// `people.keys` as it was when last read: another process's new key, or its erasure
    /// (which rewrites the file), changes it.
    private var loaded: FileStamp?
    /// When a reader last looked whether `people.keys` changed (uptime, nanoseconds).
    private var checkedAt: UInt64 = 0
    /// Whether `people.keys` was read: only when a key is first needed, so that opening a data
    /// directory (to append events without personal data, say) does not read every person's.
    private var isLoaded = false
    private var random = RandomPool()

    private var digestKeyPath: String { directory + "/digest.key" }
    private var peoplePath: String { directory + "/people.keys" }

    /// Opens the vault of a data directory. A directory without one is a vault without keys:
    /// every sealed value in it reads as erased. The writer creates the vault when it first
    /// seals a value.
    public init(dataDirectory: String) throws(LogError) {
        directory = dataDirectory + "/keys"
        if FileIO.exists(digestKeyPath) {
            let bytes = try FileIO.readFile(digestKeyPath)
            guard bytes.count == 32 else {
                throw LogError(.logCorrupt, "the e-mail digest key is \(bytes.count) bytes; it must be 32", location: digestKeyPath)
            }
            digestKey = SymmetricKey(data: bytes)
        }
    }

    /// Reads `people.keys` the first time a key is needed. Call holding the lock.
    private func loadIfNeeded() throws(LogError) {
        guard !isLoaded else { return }
        try reload()
        isLoaded = true
    }

    /// Reads `people.keys` again (another process sealed for a new person, or erased one).
    private func reload() throws(LogError) {
        loaded = FileStamp(path: peoplePath)
        guard FileIO.exists(peoplePath) else {
            keys = [:]
            keyByDigest = [:]
            return
        }
        let bytes = try FileIO.readFile(peoplePath)
        var keys: [String: PersonKey] = [:]
        var byDigest: [String: String] = [:]
        // A line without its newline is a write in progress: not yet acknowledged.
        for (number, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().enumerated() {
            let fields = line.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count == 3, let key = Data(base64Encoded: fields[2]), key.count == 32 else {
                throw LogError(.logCorrupt, "line \(number + 1) is not KEY_ID DIGEST KEY", location: peoplePath)
            }
            keys[fields[0]] = PersonKey(digest: fields[1], key: SymmetricKey(data: key))
            byDigest[fields[1]] = fields[0]
        }
        self.keys = keys
        keyByDigest = byDigest
    }

    // MARK: - Sealing (the append path)

    /// Replaces every personal field of the batch by its ciphertext under its person's key,
    /// creating (and durably storing) keys for new people first.
    public func seal(_ batch: inout EnvelopeBatch, catalog: Catalog) throws(LogError) {
        guard batch.hasUnsealedPersonalData else { return }
        try locked { () throws(LogError) in
            try loadIfNeeded()
            var newLines: [UInt8] = []
            try batch.sealPersonalData(catalog: catalog) { field, value throws(LogError) in
                let digest = try digest(ofEmail: value)!
                let keyID: String
                if let known = keyByDigest[digest] {
                    keyID = known
                } else {
                    keyID = Self.hex(try random.take(8))
                    let key = SymmetricKey(data: try random.take(32))
                    keys[keyID] = PersonKey(digest: digest, key: key)
                    keyByDigest[digest] = keyID
                    newLines += Array("\(keyID) \(digest) \(key.withUnsafeBytes { Data($0).base64EncodedString() })\n".utf8)
                }
                return try Self.encrypt(value, field: field, keyID: keyID, key: keys[keyID]!.key, nonce: try random.take(12))
            }
            if !newLines.isEmpty { try appendDurably(newLines) }
        }
    }

    /// The keyed digest of an e-mail address, the only form in which the engine names a person
    /// by e-mail outside the vault (in `person.erased`). The vault's first digest creates its
    /// digest key; nil when there is none and `create` is false (then no address was sealed).
    public func digest(ofEmail email: String, create: Bool = true) throws(LogError) -> String? {
        guard let key = create ? try digestKeyCreatingIfNeeded() : digestKey else { return nil }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(email.lowercased().utf8), using: key))
    }

    private func digestKeyCreatingIfNeeded() throws(LogError) -> SymmetricKey {
        if let digestKey { return digestKey }
        try FileIO.makeDirectory(directory, mode: 0o700)
        let key = SymmetricKey(size: .bits256)
        try FileIO.replaceDurably(digestKeyPath, with: [key.withUnsafeBytes { Array($0) }], mode: 0o600)
        digestKey = key
        return key
    }

    private func appendDurably(_ bytes: [UInt8]) throws(LogError) {
        try FileIO.makeDirectory(directory, mode: 0o700)
        let created = !FileIO.exists(peoplePath)
        let fd = try FileIO.open(peoplePath, O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        defer { close(fd) }
        try FileIO.writeAll(fd, bytes, path: peoplePath)
        try FileIO.fsync(fd, path: peoplePath)
        if created { try FileIO.fsyncDirectory(directory) }
        loaded = FileStamp(path: peoplePath)
    }

    private static func encrypt(_ value: String, field: String, keyID: String, key: SymmetricKey, nonce: [UInt8]) throws(LogError) -> String
    {
        do {
            let box = try AES.GCM.seal(Data(value.utf8), using: key, nonce: AES.GCM.Nonce(data: nonce), authenticating: Data(field.utf8))
            return sealedPrefix + keyID + ":" + box.combined!.base64EncodedString()
        } catch {
            throw LogError(.io, "cannot encrypt personal data: \(error)")
        }
    }

    // MARK: - Revealing (every read path)

    /// The event with each sealed personal field decrypted, or `[erased]` where its person's
    /// key is gone (or the value cannot be read for any other reason: never an error, never
    /// the ciphertext).
    public func reveal(_ event: StoredEvent, catalog: Catalog) -> StoredEvent {
        event.revealingPersonalData(catalog: catalog) { field, stored in
            lock.withLock { decrypt(stored, field: field) } ?? Self.erasedMarker
        }
    }

    private func decrypt(_ stored: String, field: String) -> String? {
        guard let keyID = Self.keyID(ofSealed: stored) else { return nil }
        if !isLoaded {
            try? loadIfNeeded()
        } else {
            // A key not known yet may have been written since; an erasure by another process
            // is seen within a tenth of a second by a reader that lives on (serve, tail, mcp).
            let now = DispatchTime.now().uptimeNanoseconds
            if keys[keyID] == nil || now - checkedAt > 100_000_000 {
                checkedAt = now
                if FileStamp(path: peoplePath) != loaded { try? reload() }
            }
        }
        guard let key = keys[keyID]?.key,
            let combined = Data(base64Encoded: String(stored.dropFirst(Self.sealedPrefix.count + keyID.count + 1))),
            let box = try? AES.GCM.SealedBox(combined: combined),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Data(field.utf8))
        else { return nil }
        return String(decoding: plain, as: UTF8.self)
    }

    /// The key id a sealed value names, or nil for a value that is not sealed.
    package static func keyID(ofSealed value: String) -> String? {
        guard value.hasPrefix(sealedPrefix) else { return nil }
        let rest = value.dropFirst(sealedPrefix.count)
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return String(rest[..<colon])
    }

    // MARK: - Erasure

    /// Key ids of the people with this e-mail digest.
    package func keyIDs(forDigest digest: String) throws(LogError) -> Set<String> {
        try locked { () throws(LogError) in
            try loadIfNeeded()
            return Set(keys.filter { $0.value.digest == digest }.keys)
        }
    }

    package func holds(_ keyID: String) throws(LogError) -> Bool {
        try locked { () throws(LogError) in
            try loadIfNeeded()
            return keys[keyID] != nil
        }
    }

    /// Destroys keys: `people.keys` is rewritten without them, atomically and durably, and only
    /// then forgotten here, so that the keys held in memory are always those on disk.
    func destroy(_ keyIDs: Set<String>) throws(LogError) {
        try locked { () throws(LogError) in
            try loadIfNeeded()
            var kept = keys
            for id in keyIDs { kept[id] = nil }
            var text: [UInt8] = []
            for (id, person) in kept.sorted(by: { $0.key < $1.key }) {
                text += Array("\(id) \(person.digest) \(person.key.withUnsafeBytes { Data($0).base64EncodedString() })\n".utf8)
            }
            try FileIO.replaceDurably(peoplePath, with: [text], mode: 0o600)
            for id in keyIDs {
                if let digest = keys.removeValue(forKey: id)?.digest, keyByDigest[digest] == id { keyByDigest[digest] = nil }
            }
            loaded = FileStamp(path: peoplePath)
        }
    }

    /// Runs `body` holding the vault's lock (NSLock's withLock does not keep typed throws).
    private func locked<T>(_ body: () throws(LogError) -> T) throws(LogError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Lowercase hex of some bytes.
    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Which file is at a path and when it was last written.
private struct FileStamp: Equatable {
    let inode: UInt64
    let size: Int64
    let modified: Int
    let modifiedNanoseconds: Int

    init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        (inode, size) = (UInt64(status.st_ino), Int64(status.st_size))
        (modified, modifiedNanoseconds) = (status.st_mtim.tv_sec, status.st_mtim.tv_nsec)
    }
}
