#!/usr/bin/env bash
# Installs the Debian packages Hindsight builds and tests against, when any is missing.
#   liblz4-dev, lz4     LZ4 frames (the library) and the stock tool auditors and tests use
#   libsimdjson-dev     JSON parsing on the append and scan paths
#   libssl-dev          SHA-256 for the Merkle tree (libcrypto)
#   libsqlite3-dev      SQLite, where read models keep their tables
#   python3             the independent verifier (Tools/verify_log.py) and the naive replays
#                       (Tools/naive_*.py, standard library only) the tests run
#   python3-jsonschema  a standard JSON Schema validator the tests hold EventSchemas/ to
#   python3-cryptography  Ed25519 for the independent export verifier (Tools/verify_export.py)
#   strace              kills a writer at a chosen system call of its index save, in the crash tests
# and, from PyPI for the python3 the tests run (`/usr/bin/env python3`):
#   mcp                 the Model Context Protocol's own client, which drives `hindsight mcp`
#                       in a test (Tools/check_mcp.py)
set -euo pipefail

packages=(liblz4-dev lz4 libsimdjson-dev libssl-dev libsqlite3-dev python3 python3-jsonschema python3-cryptography strace)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! python3 -c 'import mcp' 2>/dev/null; then
    echo "Installing from PyPI: mcp" >&2
    python3 -m pip install -q --disable-pip-version-check 'mcp==2.3.0'
fi
