#!/usr/bin/env python3
"""Reads a C2SP tlog-tiles tree as a tile client would, knowing only the specification and
RFC 6962: every tile of every level, by its path; checks that each full tile's hash is the
entry above it, that the leaf hashes are SHA-256(0x00 || line) of the given stored lines, and
prints the tree size and root computed from the tiles.

    check_tiles.py OUT SIZE STORED_LINES_FILE
"""
import hashlib
import os
import sys


def tile_path(out, level, index, width):
    groups = []
    n = index
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    name = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    path = f"{out}/tile/{level}/{name}"
    return path if width == 256 else f"{path}.p/{width}"


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


def main():
    out, size, lines_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    levels = []
    level = 0
    while size >> (8 * level):
        entries = size >> (8 * level)
        hashes = []
        for index in range((entries + 255) // 256):
            width = min(256, entries - index * 256)
            with open(tile_path(out, level, index, width), "rb") as f:
                data = f.read()
            assert len(data) == 32 * width, f"tile {level}/{index} holds {len(data)} bytes"
            hashes += [data[i * 32:(i + 1) * 32] for i in range(width)]
        levels.append(hashes)
        level += 1
    with open(lines_file, "rb") as f:
        lines = f.read().split(b"\n")[:size]
    for i, line in enumerate(lines):
        assert levels[0][i] == hashlib.sha256(b"\x00" + line).digest(), f"leaf {i} is not the hash of line {i + 1}"
    for level in range(1, len(levels)):
        for i, entry in enumerate(levels[level]):
            assert entry == mth(levels[level - 1][i * 256:(i + 1) * 256]), f"entry {i} of level {level} is not its tile's hash"
    # The root: the tree's perfect subtrees, largest first, folded from the right.
    peaks = []
    start = 0
    for height in range(63, -1, -1):
        if size & (1 << height):
            level, rest = divmod(height, 8)
            first = start >> (8 * level)
            peaks.append(mth(levels[level][first:first + (1 << rest)]))
            start += 1 << height
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = node(peak, root)
    print(size, root.hex())


main()
