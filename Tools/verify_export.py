#!/usr/bin/env python3
"""Verify a Hindsight audit export bundle offline, without Hindsight.

    python3 Tools/verify_export.py BUNDLE --key PUBLIC [--older-checkpoint FILE]

PUBLIC is the verifier key `hindsight keys public` prints (NAME+KEYID+KEY), or a file
holding it. Exits 0 with a summary when the bundle verifies, 2 naming the first problem
(file and line) otherwise. Written from docs/export-format.md alone; needs only the
standard library and the `cryptography` package.
"""
import argparse
import base64
import csv
import hashlib
import io
import json
import os
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "hindsight-audit-export/1"
# Answer bundles: a read model's answer as files of rows, checked alike whatever they hold.
REVIEW_FORMATS = ["hindsight-access-review/1", "hindsight-backup-evidence/1", "hindsight-token-evidence/1"]
COLUMNS = ["seq", "recordedAt", "occurredAt", "type", "org", "actorKind", "actorId", "stream", "id", "data"]
SEALED = re.compile(rb'"enc:v1:[^"]*"')
ANY_STRING = rb'"(?:[^"\\]|\\.)*"'


class Problem(Exception):
    def __init__(self, file, message):
        super().__init__(f"{file}: {message}")
        self.file, self.message = file, message


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(line):
    return sha256(b"\x00" + line)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split(n):
    """The largest power of two below n (n > 1): RFC 6962's split of a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class VerifierKey:
    """NAME+KEYID+BASE64(0x01 | Ed25519 public key), as C2SP signed notes define it."""

    def __init__(self, text):
        parts = text.strip().split("+", 2)
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (IndexError, ValueError):
            raw = b""
        if len(parts) != 3 or len(raw) != 33 or raw[0] != 1:
            raise Problem("key", "this is not a verifier key (NAME+KEYID+BASE64 of an Ed25519 public key)")
        self.name, self.public = parts[0], raw[1:]
        self.key_hash = sha256(self.name.encode() + b"\n\x01" + self.public)[:4]
        if self.key_hash.hex() != parts[1]:
            raise Problem("key", f"the verifier key's id {parts[1]} is not that of its name and key")

    def verified_text(self, note, file):
        """The text of a signed note this key signed."""
        text, blank, signatures = note.partition("\n\n")
        if not blank:
            raise Problem(file, "it is not a signed note (no blank line before the signatures)")
        text += "\n"
        signers = []
        for line in signatures.split("\n"):
            if not line:
                continue
            fields = line.split(" ")
            if len(fields) != 3 or fields[0] != "\u2014":
                raise Problem(file, "a signature line is not `\u2014 NAME SIGNATURE`")
            signers.append(fields[1])
            signature = base64.b64decode(fields[2])
            if fields[1] == self.name and len(signature) == 68 and signature[:4] == self.key_hash:
                try:
                    Ed25519PublicKey.from_public_bytes(self.public).verify(signature[4:], text.encode())
                    return text
                except InvalidSignature:
                    pass
        if not signers:
            raise Problem(file, "it carries no signature")
        if self.name in signers:
            raise Problem(file, f"its signature by {self.name} does not verify: it was altered, or signed by another key of that name")
        raise Problem(file, f"it is not signed by the key {self.name} (signed by {', '.join(signers)})")


def checkpoint(note, key, file):
    """(size, root) of a checkpoint signed by key: ORIGIN, SIZE, base64 ROOT."""
    lines = key.verified_text(note, file).split("\n")[:-1]
    try:
        size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
        assert str(size) == lines[1] and len(root) == 32
    except (IndexError, ValueError, AssertionError):
        raise Problem(file, "its text is not ORIGIN, SIZE and a base64 SHA-256 root, one per line")
    return size, root


def multi_root(hashes, indices, size, proof):
    """The root a multi-leaf proof gives: a left-to-right walk of the tree takes the next
    proof hash for each subtree holding no exported leaf, and hashes a subtree whose leaves
    are all exported from them. None when the proof does not fit the tree."""
    if not indices or indices[-1] >= size or any(a >= b for a, b in zip(indices, indices[1:])):
        return None
    proof_at = [0]
    leaf_at = [0]

    def take_proof():
        if proof_at[0] >= len(proof):
            raise IndexError
        proof_at[0] += 1
        return proof[proof_at[0] - 1]

    def walk(low, high, first, last):
        # selected indices are indices[first:last], all within [low, high)
        if first == last:
            return take_proof()
        if last - first == high - low:  # every leaf of the subtree: hash it directly
            return tree_root(hashes[first:last])
        mid = low + split(high - low)
        lo, hi = first, last
        while lo < hi:
            m = (lo + hi) // 2
            if indices[m] < mid:
                lo = m + 1
            else:
                hi = m
        cut = lo
        return node_hash(walk(low, mid, first, cut), walk(mid, high, cut, last))

    try:
        root = walk(0, size, 0, len(indices))
    except IndexError:
        return None
    return root if proof_at[0] == len(proof) else None


def tree_root(leaves):
    """MTH of a list of leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(tree_root(leaves[:k]), tree_root(leaves[k:]))


def verify_consistency(old_size, new_size, old_root, new_root, proof):
    """RFC 9162, section 2.1.4.2."""
    if old_size == 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


def same_except_sealed(stored, rendered):
    """Whether rendered is stored with only the contents of sealed strings replaced."""
    if b'"enc:v1:' not in stored:
        return stored == rendered
    pattern = ANY_STRING.join(re.escape(part) for part in SEALED.split(stored))
    return re.fullmatch(pattern, rendered, re.DOTALL) is not None


def read(bundle, file):
    try:
        with open(os.path.join(bundle, file), "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise Problem(file, "it is missing from the bundle")


def check_seqs(lines, manifest):
    file, rng, complete, query = manifest["file"], manifest["range"], manifest["complete"], manifest["query"]
    seqs = []
    for number, line in enumerate(lines, 1):
        match = re.match(rb'\{"seq":(\d+)', line)
        if not match:
            raise Problem(file, f"line {number} is not a stored event (it does not begin with its seq)")
        seqs.append(int(match.group(1)))
    for index, seq in enumerate(seqs):
        number = index + 1
        if index and seq <= seqs[index - 1]:
            raise Problem(file, f"line {number} repeats seq {seq}" if seq == seqs[index - 1]
                          else f"line {number} holds seq {seq} after seq {seqs[index - 1]}: rows are out of order")
        expected = rng["firstSeq"] + index
        if complete and seq > expected:
            if expected in seqs:
                raise Problem(file, f"line {number} holds seq {seq} where seq {expected} was expected: rows are out of order (seq {expected} is on line {seqs.index(expected) + 1})")
            missing = f"event {expected} is" if seq - expected == 1 else f"events {expected}\u2026{seq - 1} are"
            raise Problem(file, f"line {number} holds seq {seq} where seq {expected} was expected: {missing} missing")
        if not rng["firstSeq"] <= seq <= rng["lastSeq"]:
            raise Problem(file, f"line {number} holds seq {seq}, outside the export's range {rng['firstSeq']}\u2026{rng['lastSeq']}")
        if not complete:
            event = json.loads(lines[index])
            if query.get("org") is not None and event.get("org") != query["org"]:
                raise Problem(file, f"line {number} (seq {seq}) is an event of org {event.get('org')}, outside the export's filter org {query['org']}")
            if query.get("types") is not None and event.get("type") not in query["types"]:
                raise Problem(file, f"line {number} (seq {seq}) is a {event.get('type')} event, outside the export's filter types")
    if complete and seqs and seqs[-1] < rng["lastSeq"]:
        raise Problem(file, f"it ends at seq {seqs[-1]} but the range runs to {rng['lastSeq']}: events {seqs[-1] + 1}\u2026{rng['lastSeq']} are missing")
    if len(seqs) != manifest["count"]:
        raise Problem("manifest.json", f"it says the bundle holds {manifest['count']} events; {file} holds {len(seqs)}")
    if (seqs[0] if seqs else None) != manifest.get("firstSeq") or (seqs[-1] if seqs else None) != manifest.get("lastSeq"):
        raise Problem("manifest.json", f"its firstSeq and lastSeq are not those of {file}")
    return seqs


def csv_difference(row, stored):
    """The first CSV column that says something else than the stored line, or None."""
    if len(row) != len(COLUMNS):
        return f"it has {len(row)} fields where there are {len(COLUMNS)} columns"
    text = stored.decode()
    event = json.loads(text)
    start = text.index(',"data":') + len(',"data":')
    _, end = json.JSONDecoder().raw_decode(text, start)
    expected = [str(event["seq"]), event.get("recordedAt", ""), event.get("occurredAt", ""), event.get("type", ""),
                event.get("org", ""), event.get("actor", {}).get("kind", ""), event.get("actor", {}).get("id", ""),
                event.get("stream", ""), event.get("id", "")]
    for column, value in enumerate(expected):
        if row[column] != value:
            return f"its {COLUMNS[column]} is not the stored event's"
    if not same_except_sealed(stored[start:end] if text.isascii() else text[start:end].encode(), row[9].encode()):
        return "its data is not the stored event's"
    return None


def check_rendering(text, file, lines, seqs):
    if file.endswith(".csv"):
        try:
            rows = list(csv.reader(io.StringIO(text.decode(), newline="")))
        except csv.Error as error:
            raise Problem(file, f"it is not CSV: {error}")
        if not rows or rows[0] != COLUMNS:
            raise Problem(file, f"its header is not {','.join(COLUMNS)}")
        rows = rows[1:]
        if len(rows) != len(lines):
            raise Problem(file, f"it has {len(rows)} rows for {len(lines)} events")
        for number, (row, line) in enumerate(zip(rows, lines), 1):
            difference = csv_difference(row, line)
            if difference:
                raise Problem(file, f"row {number} (seq {seqs[number - 1]}): {difference}")
    else:
        rendered = text.split(b"\n")
        if rendered and rendered[-1] == b"":
            rendered.pop()
        if len(rendered) != len(lines):
            raise Problem(file, f"it has {len(rendered)} lines for {len(lines)} events")
        for number, (shown, line) in enumerate(zip(rendered, lines), 1):
            if not same_except_sealed(line, shown):
                raise Problem(file, f"line {number} (seq {seqs[number - 1]}) is not the stored event as readers see it")


def check_signature(bundle, manifest_bytes, format, key):
    signed = key.verified_text(read(bundle, "manifest.sig").decode(), "manifest.sig")
    if signed != f"{format} manifest.json\n{hashlib.sha256(manifest_bytes).hexdigest()}\n":
        raise Problem("manifest.json", "it is not the manifest the key signed: it was changed after the export")


def check_anchor(bundle, manifest, key):
    size, root = checkpoint(read(bundle, manifest["checkpoint"]).decode(), key, manifest["checkpoint"])
    head = manifest["chainHead"]
    if size != head["size"] or root.hex() != head["root"]:
        raise Problem(manifest["checkpoint"], f"it is the tree head of {size} events (root {root.hex()}); the manifest anchors the bundle to {head['size']} events (root {head['root']})")
    return size, root


def verify_review(bundle, manifest_bytes, manifest, key, older):
    """An answer bundle (an access review, backup or token evidence): its files, checkpoint and
    manifest are the ones the key signed."""
    for file in [manifest["checkpoint"], "manifest.sig"] + sorted(manifest["files"]):
        if not os.path.exists(os.path.join(bundle, file)):
            raise Problem(file, "it is missing from the bundle")
    size, _ = check_anchor(bundle, manifest, key)
    if manifest["position"] > size:
        raise Problem("manifest.json", f"it reflects seq {manifest['position']}, beyond the checkpoint's {size} events")
    for file, rows in sorted(manifest["rows"].items()):
        data = read(bundle, file)
        if file.endswith(".csv"):
            # RFC 4180: a quoted field may hold a line break; the header is not a row.
            try:
                counted = len(list(csv.reader(io.StringIO(data.decode(), newline="")))) - 1
            except (csv.Error, UnicodeDecodeError) as error:
                raise Problem(file, f"it is not CSV: {error}")
        else:
            counted = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
        if counted != rows:
            raise Problem(file, f"it holds {counted} rows; the manifest says {rows}")
    for file, expected in sorted(manifest["files"].items()):
        actual = hashlib.sha256(read(bundle, file)).hexdigest()
        if actual != expected:
            raise Problem(file, f"its SHA-256 is {actual}; the manifest says {expected}")
    if older is not None:
        raise Problem("older checkpoint", "an answer bundle carries no consistency proofs; check an audit export of the same log against it")
    check_signature(bundle, manifest_bytes, manifest["format"], key)
    return {"ok": True, "format": manifest["format"], "count": sum(manifest["rows"].values()), "position": manifest["position"], "treeSize": size}


def verify(bundle, key, older=None):
    manifest_bytes = read(bundle, "manifest.json")
    try:
        manifest = json.loads(manifest_bytes)
        if manifest.get("format") in REVIEW_FORMATS:
            return verify_review(bundle, manifest_bytes, manifest, key, older)
        for field in ["format", "query", "range", "complete", "count", "chainHead", "file", "sha256", "rendering",
                      "checkpoint", "proof", "files"]:
            manifest[field]
    except (ValueError, KeyError) as error:
        raise Problem("manifest.json", f"it is not an export manifest: {error}")
    if manifest["format"] != FORMAT:
        raise Problem("manifest.json", f"its format is {manifest['format']}; this verifier reads {', '.join([FORMAT] + REVIEW_FORMATS)}")
    for file in [manifest["file"], manifest["rendering"], manifest["proof"], manifest["checkpoint"], "manifest.sig"] + sorted(manifest["files"]):
        if not os.path.exists(os.path.join(bundle, file)):
            raise Problem(file, "it is missing from the bundle")

    size, root = check_anchor(bundle, manifest, key)

    data = read(bundle, manifest["file"])
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    seqs = check_seqs(lines, manifest)

    try:
        proof = json.loads(read(bundle, manifest["proof"]))
        inclusion = [bytes.fromhex(h) for h in proof["inclusion"]]
        tree_size = proof["treeSize"]
        assert all(len(h) == 32 for h in inclusion)
    except (ValueError, KeyError, TypeError, AssertionError) as error:
        raise Problem(manifest["proof"], f"it is not an export proof: {error}")
    if tree_size != size:
        raise Problem(manifest["proof"], f"it proves inclusion in a tree of {tree_size} events; the checkpoint's has {size}")
    if seqs:
        computed = multi_root([leaf_hash(line) for line in lines], [seq - 1 for seq in seqs], size, inclusion)
        if computed is None:
            raise Problem(manifest["proof"], f"its {len(inclusion)} inclusion hashes are not what a tree of {size} events needs for these seqs: it was truncated or padded")
        if computed != root:
            raise Problem(manifest["file"], "its events do not hash to the checkpoint's root: an event was altered, or is not in the log at its seq")
    elif inclusion:
        raise Problem(manifest["proof"], "it proves events the bundle does not hold")

    check_rendering(read(bundle, manifest["rendering"]), manifest["rendering"], lines, seqs)

    for file, expected in [(manifest["file"], manifest["sha256"])] + sorted(manifest["files"].items()):
        actual = hashlib.sha256(data if file == manifest["file"] else read(bundle, file)).hexdigest()
        if actual != expected:
            raise Problem(file, f"its SHA-256 is {actual}; the manifest says {expected}")

    extends = None
    if older is not None:
        old_size, old_root = checkpoint(older, key, "older checkpoint")
        if old_size > size:
            raise Problem("older checkpoint", f"it is of {old_size} events, more than the bundle's {size}: give an older one")
        hashes = []
        if old_size < size:
            found = [c for c in proof.get("consistency", []) if c.get("oldSize") == old_size]
            if not found:
                raise Problem("proof.json", f"it holds no consistency proof from {old_size} events")
            hashes = [bytes.fromhex(h) for h in found[0]["hashes"]]
        if not verify_consistency(old_size, size, old_root, root, hashes):
            raise Problem("proof.json", f"the log at {size} events does not extend the older checkpoint of {old_size} events unchanged: history was rewritten")
        extends = old_size

    check_signature(bundle, manifest_bytes, FORMAT, key)
    return {"ok": True, "format": FORMAT, "count": len(seqs), "firstSeq": manifest["range"]["firstSeq"], "lastSeq": manifest["range"]["lastSeq"],
            "complete": manifest["complete"], "treeSize": size, **({"extends": extends} if extends is not None else {})}


def main():
    parser = argparse.ArgumentParser(description="Verify a Hindsight audit export bundle offline.")
    parser.add_argument("bundle")
    parser.add_argument("--key", required=True, help="the verifier key (NAME+KEYID+KEY) or a file holding it")
    parser.add_argument("--older-checkpoint", help="an older checkpoint of the same log: check the log extends it")
    args = parser.parse_args()
    try:
        text = open(args.key).read() if os.path.exists(args.key) else args.key
        key = VerifierKey(text)
        older = open(args.older_checkpoint).read() if args.older_checkpoint else None
        report = verify(args.bundle, key, older)
    except Problem as problem:
        print(f"verify_export: {problem}", file=sys.stderr)
        print(json.dumps({"ok": False, "file": problem.file, "problem": problem.message}, sort_keys=True))
        return 2
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
