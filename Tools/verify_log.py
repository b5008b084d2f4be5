#!/usr/bin/env python3
"""An independent verifier of a Hindsight data directory, written from docs/log-format.md.

Uses only Python's standard library and the stock `lz4` tool. Prints the verified tree head,
or the first bad seq and why, and exits 1 on any damage.

    python3 Tools/verify_log.py DIR
"""
import datetime
import hashlib
import json
import os
import re
import struct
import subprocess
import sys

HEADER = struct.Struct("<II4sIQIIIIqqq32s8s")  # 104 bytes, little-endian
MAGIC, PAYLOAD, TAG = 0x184D2A5E, 96, b"HSC1"
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"


class Damage(Exception):
    def __init__(self, seq, reason):
        super().__init__(f"seq {seq}: {reason}")
        self.seq, self.reason = seq, reason


def occurred_at_ms(text):
    """Milliseconds since the epoch of an RFC 3339 UTC timestamp with milliseconds."""
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The right edge of an RFC 6962 tree: perfect-subtree roots, largest first."""

    def __init__(self):
        self.peaks, self.size = [], 0

    def append(self, leaf):
        h, carry = leaf, self.size
        while carry & 1:
            h = node(self.peaks.pop(), h)
            carry >>= 1
        self.peaks.append(h)
        self.size += 1

    def root(self):
        if not self.peaks:
            return hashlib.sha256(b"").digest()
        h = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            h = node(peak, h)
        return h


def chunks(path, next_seq, last_segment):
    """Yields (header fields, frame bytes) for each committed chunk of one segment."""
    data = open(path, "rb").read()
    offset, pending, committed = 0, [], []
    while offset < len(data):
        rest = data[offset:]
        if len(rest) >= 4 and struct.unpack_from("<I", rest)[0] != MAGIC:
            raise Damage(next_seq, f"{path} byte {offset}: not a chunk header")
        if len(rest) < HEADER.size:
            break  # a header cut short: an unfinished write
        fields = HEADER.unpack_from(rest)
        (_, size, tag, flags, first, count, frame_len, raw_len, _, lo, hi, recorded, root, checksum) = fields
        if size != PAYLOAD or tag != TAG:
            raise Damage(next_seq, f"{path} byte {offset}: unknown chunk header version")
        if hashlib.sha256(rest[8:96]).digest()[:8] != checksum:
            raise Damage(next_seq, f"{path} byte {offset}: chunk header checksum mismatch")
        end = offset + HEADER.size + frame_len
        if end > len(data):
            break  # a frame cut short: an unfinished write
        frame = data[offset + HEADER.size:end]
        if frame[:4] != LZ4_FRAME_MAGIC:
            raise Damage(next_seq, f"{path} byte {offset}: the chunk's LZ4 data frame is missing")
        pending.append(dict(first=first, count=count, raw=raw_len, lo=lo, hi=hi, root=root, frame=frame, at=offset))
        if flags & 1:
            committed += pending
            pending = []
        next_seq = first + count
        offset = end
    unfinished = offset < len(data) or pending
    if unfinished and not last_segment:
        raise Damage(next_seq, f"{path} ends with an unfinished batch but later segments follow")
    return committed


def verify(directory):
    folder = os.path.join(directory, "segments")
    names = sorted(n for n in os.listdir(folder) if re.fullmatch(r"\d{10}\.lz4", n)) if os.path.isdir(folder) else []
    frontier = Frontier()
    roots = {}  # the tree head after each chunk, by size
    for number, name in enumerate(names, start=1):
        if int(name[:10]) != number:
            raise Damage(frontier.size + 1, f"segment {number:010d}.lz4 is missing")
        for chunk in chunks(os.path.join(folder, name), frontier.size + 1, number == len(names)):
            expected = frontier.size + 1
            if chunk["first"] != expected:
                raise Damage(expected, f"{name} byte {chunk['at']}: chunk starts at seq {chunk['first']}")
            decoded = subprocess.run(["lz4", "-dc"], input=chunk["frame"], capture_output=True)
            if decoded.returncode != 0:
                raise Damage(expected, f"{name} byte {chunk['at']}: {decoded.stderr.decode().strip()}")
            text = decoded.stdout
            lines = text.split(b"\n")
            if len(text) != chunk["raw"] or lines[-1] != b"" or len(lines) - 1 != chunk["count"]:
                raise Damage(expected, f"{name} byte {chunk['at']}: the chunk does not hold {chunk['count']} lines")
            times = []
            for index, line in enumerate(lines[:-1]):
                seq = expected + index
                if not line.startswith(b'{"seq":%d,' % seq):
                    raise Damage(seq, f"{name}: line {index + 1} of the chunk does not hold seq {seq}")
                times.append(occurred_at_ms(json.loads(line)["occurredAt"]))
                frontier.append(hashlib.sha256(b"\x00" + line).digest())
            if (min(times), max(times)) != (chunk["lo"], chunk["hi"]):
                raise Damage(expected, f"{name} byte {chunk['at']}: the chunk header's time span does not match its events")
            if frontier.root() != chunk["root"]:
                raise Damage(expected, f"{name} byte {chunk['at']}: Merkle root does not match")
            roots[frontier.size] = frontier.root()
    head_path = os.path.join(directory, "HEAD")
    if os.path.exists(head_path):
        head = json.load(open(head_path))
        if head["size"] > frontier.size:
            raise Damage(frontier.size + 1, f"HEAD records {head['size']} events but the log holds {frontier.size}")
        if head["size"] and roots.get(head["size"], b"").hex() != head["root"]:
            raise Damage(head["size"], "the tree head differs from the one HEAD recorded")
    return frontier.size, frontier.root().hex()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: verify_log.py DIR")
    try:
        size, root = verify(sys.argv[1])
    except Damage as damage:
        print(f"FAILED at seq {damage.seq}: {damage.reason}")
        sys.exit(1)
    print(f"ok: tree head {size} {root}")
